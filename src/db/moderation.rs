//! What moderators read and change: comments in any state, threads, bans, the audit log.

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::models::ThreadRow;
use super::schema::{audit_log, bans, comments, reaction_counts, threads};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

/// A comment as a moderator sees it: everything but the edit token's hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ModCommentRow {
    pub id: i64,
    pub thread_id: i64,
    pub parent_id: Option<i64>,
    pub status: String,
    pub body: String,
    pub html: String,
    pub author: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_by: Option<String>,
    pub origin: Option<String>,
    /// The moderator account that posted it (from the admin page).
    pub moderator_id: Option<i64>,
}

/// Which comments a moderator lists.
#[derive(Debug, Default, Clone)]
pub struct CommentFilter {
    pub site: Option<String>,
    pub slug: Option<String>,
    pub thread_id: Option<i64>,
    pub status: Option<String>,
    /// Lower-cased; matched anywhere in the text, the author's name or email.
    pub text: Option<String>,
    /// Older than this id (the cursor: newest first).
    pub before: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub moderator: String,
    pub action: String,
    pub comment_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub detail: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAudit<'a> {
    pub at: i64,
    pub moderator: &'a str,
    pub action: &'a str,
    pub comment_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub detail: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bans)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct BanRow {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub site: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = bans)]
pub struct NewBan<'a> {
    pub kind: &'a str,
    pub value: &'a str,
    pub site: Option<&'a str>,
    pub action: &'a str,
    pub reason: Option<&'a str>,
    pub created_by: &'a str,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// The thread a listed comment belongs to.
pub type ThreadRef = (String, String, Option<String>, Option<String>);

pub trait ModerationStore: Sized {
    /// Up to `n` comments matching the filter, newest first, with their thread's
    /// `(site, slug, title, url)`.
    fn mod_comments(
        &mut self,
        f: &CommentFilter,
        n: i64,
    ) -> QueryResult<Vec<(ModCommentRow, ThreadRef)>>;
    fn mod_comment(&mut self, id: i64) -> QueryResult<Option<ModCommentRow>>;
    /// Up to `n` comments whose address is still stored in clear (from before addresses
    /// were stored as keyed hashes, which have neither `.` nor `:`).
    fn clear_ips(&mut self, n: i64) -> QueryResult<Vec<(i64, String)>>;
    fn set_ip(&mut self, id: i64, value: &str) -> QueryResult<()>;
    /// Drops the IP hash and user agent of comments posted before `before`.
    fn forget_client_data(&mut self, before: i64) -> QueryResult<usize>;
    /// How many comments have this status, on every site.
    fn count_status(&mut self, status: &str) -> QueryResult<i64>;
    fn set_comment_status(
        &mut self,
        id: i64,
        status: &str,
        deleted_by: Option<&str>,
        now: i64,
    ) -> QueryResult<()>;
    fn has_replies(&mut self, id: i64) -> QueryResult<bool>;
    /// Removes the row, its reactions and their counters; an imported comment leaves its
    /// source id behind (`import_tombstones`), so a re-import does not bring it back.
    fn purge_comment(&mut self, id: i64) -> QueryResult<()>;
    /// Threads of a site (or all), newest first, before the cursor id; `text` matches the
    /// slug or the title.
    fn mod_threads(
        &mut self,
        site: Option<&str>,
        text: Option<&str>,
        before: Option<i64>,
        n: i64,
    ) -> QueryResult<Vec<ThreadRow>>;
    /// `(thread_id, status, count)` for these threads.
    fn status_counts(&mut self, thread_ids: &[i64]) -> QueryResult<Vec<(i64, String, i64)>>;
    fn set_locked(&mut self, thread_id: i64, locked: bool) -> QueryResult<()>;
    fn set_thread_meta(
        &mut self,
        thread_id: i64,
        title: Option<&str>,
        url: Option<&str>,
    ) -> QueryResult<()>;
    fn insert_audit(&mut self, e: &NewAudit<'_>) -> QueryResult<()>;
    /// Who last acted on a comment, per the audit log.
    fn last_actor(&mut self, comment_id: i64) -> QueryResult<Option<String>>;
    fn audit_page(&mut self, before: Option<i64>, n: i64) -> QueryResult<Vec<AuditRow>>;
    fn insert_ban(&mut self, b: &NewBan<'_>) -> QueryResult<BanRow>;
    fn bans(&mut self) -> QueryResult<Vec<BanRow>>;
    fn delete_ban(&mut self, id: i64) -> QueryResult<Option<BanRow>>;
    /// The strictest ban in force on this email (lower case) or IP hash for the site.
    fn ban_action(
        &mut self,
        site: &str,
        email: Option<&str>,
        // `ServerKey::person_key` of the address: bans on erased addresses hold it.
        person_key: Option<&str>,
        ip_hash: Option<&str>,
        now: i64,
    ) -> QueryResult<Option<String>>;
}

/// A text column as compared with a lower-cased LIKE pattern: SQLite's LIKE already
/// ignores (ASCII) case, and calling `lower()` on every row made a search 4 times slower
/// there; PostgreSQL's LIKE does not, so it compares `lower(column)`.
macro_rules! folded {
    (sqlite, $e:expr) => {
        $e
    };
    (pg, $e:expr) => {
        lower($e)
    };
}

macro_rules! moderation_store_fns {
    ($backend:ident) => {
        fn mod_comments(
            &mut self,
            f: &CommentFilter,
            n: i64,
        ) -> QueryResult<Vec<(ModCommentRow, ThreadRef)>> {
            let mut q = comments::table
                .inner_join(threads::table)
                .select((
                    ModCommentRow::as_select(),
                    (threads::site, threads::slug, threads::title, threads::url),
                ))
                .order(comments::id.desc())
                .limit(n)
                .into_boxed();
            if let Some(site) = &f.site {
                q = q.filter(threads::site.eq(site));
            }
            if let Some(slug) = &f.slug {
                q = q.filter(threads::slug.eq(slug));
            }
            if let Some(t) = f.thread_id {
                q = q.filter(comments::thread_id.eq(t));
            }
            if let Some(status) = &f.status {
                q = q.filter(comments::status.eq(status));
            }
            if let Some(before) = f.before {
                q = q.filter(comments::id.lt(before));
            }
            if let Some(text) = &f.text {
                let pattern = format!("%{}%", escape_like(text));
                q = q.filter(
                    folded!($backend, comments::body.nullable())
                        .like(pattern.clone())
                        .escape('\\')
                        .or(folded!($backend, comments::author)
                            .like(pattern.clone())
                            .escape('\\'))
                        .or(folded!($backend, comments::email)
                            .like(pattern)
                            .escape('\\')),
                );
            }
            q.load(self)
        }

        fn mod_comment(&mut self, id: i64) -> QueryResult<Option<ModCommentRow>> {
            comments::table
                .find(id)
                .select(ModCommentRow::as_select())
                .first(self)
                .optional()
        }

        fn clear_ips(&mut self, n: i64) -> QueryResult<Vec<(i64, String)>> {
            let rows: Vec<(i64, Option<String>)> = comments::table
                .filter(comments::ip.like("%.%").or(comments::ip.like("%:%")))
                .select((comments::id, comments::ip))
                .limit(n)
                .load(self)?;
            Ok(rows
                .into_iter()
                .filter_map(|(id, ip)| ip.map(|ip| (id, ip)))
                .collect())
        }

        fn set_ip(&mut self, id: i64, value: &str) -> QueryResult<()> {
            diesel::update(comments::table.find(id))
                .set(comments::ip.eq(value))
                .execute(self)
                .map(|_| ())
        }

        fn forget_client_data(&mut self, before: i64) -> QueryResult<usize> {
            diesel::update(
                comments::table
                    .filter(comments::created_at.lt(before))
                    .filter(
                        comments::ip
                            .is_not_null()
                            .or(comments::user_agent.is_not_null()),
                    ),
            )
            .set((
                comments::ip.eq(None::<String>),
                comments::user_agent.eq(None::<String>),
            ))
            .execute(self)
        }

        fn count_status(&mut self, status: &str) -> QueryResult<i64> {
            comments::table
                .filter(comments::status.eq(status))
                .count()
                .get_result(self)
        }

        fn set_comment_status(
            &mut self,
            id: i64,
            status: &str,
            deleted_by: Option<&str>,
            now: i64,
        ) -> QueryResult<()> {
            let deleted_at = deleted_by.map(|_| now);
            diesel::update(comments::table.find(id))
                .set((
                    comments::status.eq(status),
                    comments::deleted_by.eq(deleted_by),
                    comments::deleted_at.eq(deleted_at),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn has_replies(&mut self, id: i64) -> QueryResult<bool> {
            let found: Option<i64> = comments::table
                .filter(comments::parent_id.eq(id))
                .select(comments::id)
                .first(self)
                .optional()?;
            Ok(found.is_some())
        }

        fn purge_comment(&mut self, id: i64) -> QueryResult<()> {
            // Its reactions go by cascade; their counters (keyed by id, 0 for the post,
            // so without a foreign key) by hand.
            diesel::delete(reaction_counts::table.filter(reaction_counts::comment_key.eq(id)))
                .execute(self)?;
            diesel::sql_query(super::imports::TOMBSTONE_SQL)
                .bind::<diesel::sql_types::BigInt, _>(crate::view::now_micros())
                .bind::<diesel::sql_types::BigInt, _>(id)
                .execute(self)?;
            diesel::delete(comments::table.find(id))
                .execute(self)
                .map(|_| ())
        }

        fn mod_threads(
            &mut self,
            site: Option<&str>,
            text: Option<&str>,
            before: Option<i64>,
            n: i64,
        ) -> QueryResult<Vec<ThreadRow>> {
            let mut q = threads::table
                .select(ThreadRow::as_select())
                .order(threads::id.desc())
                .limit(n)
                .into_boxed();
            if let Some(site) = site {
                q = q.filter(threads::site.eq(site.to_owned()));
            }
            if let Some(before) = before {
                q = q.filter(threads::id.lt(before));
            }
            if let Some(text) = text {
                let pattern = format!("%{}%", escape_like(text));
                q = q.filter(
                    folded!($backend, threads::slug.nullable())
                        .like(pattern.clone())
                        .escape('\\')
                        .or(folded!($backend, threads::title).like(pattern).escape('\\')),
                );
            }
            q.load(self)
        }

        fn status_counts(&mut self, thread_ids: &[i64]) -> QueryResult<Vec<(i64, String, i64)>> {
            comments::table
                .filter(comments::thread_id.eq_any(thread_ids))
                .group_by((comments::thread_id, comments::status))
                .select((
                    comments::thread_id,
                    comments::status,
                    diesel::dsl::count_star(),
                ))
                .load(self)
        }

        fn set_locked(&mut self, thread_id: i64, locked: bool) -> QueryResult<()> {
            diesel::update(threads::table.find(thread_id))
                .set(threads::locked.eq(locked))
                .execute(self)
                .map(|_| ())
        }

        fn set_thread_meta(
            &mut self,
            thread_id: i64,
            title: Option<&str>,
            url: Option<&str>,
        ) -> QueryResult<()> {
            diesel::update(threads::table.find(thread_id))
                .set((threads::title.eq(title), threads::url.eq(url)))
                .execute(self)
                .map(|_| ())
        }

        fn last_actor(&mut self, comment_id: i64) -> QueryResult<Option<String>> {
            audit_log::table
                .filter(audit_log::comment_id.eq(comment_id))
                .order(audit_log::id.desc())
                .select(audit_log::moderator)
                .first(self)
                .optional()
        }

        fn insert_audit(&mut self, e: &NewAudit<'_>) -> QueryResult<()> {
            diesel::insert_into(audit_log::table)
                .values(e)
                .execute(self)
                .map(|_| ())
        }

        fn audit_page(&mut self, before: Option<i64>, n: i64) -> QueryResult<Vec<AuditRow>> {
            let mut q = audit_log::table
                .select(AuditRow::as_select())
                .order(audit_log::id.desc())
                .limit(n)
                .into_boxed();
            if let Some(before) = before {
                q = q.filter(audit_log::id.lt(before));
            }
            q.load(self)
        }

        fn insert_ban(&mut self, b: &NewBan<'_>) -> QueryResult<BanRow> {
            diesel::insert_into(bans::table)
                .values(b)
                .returning(BanRow::as_returning())
                .get_result(self)
        }

        fn bans(&mut self) -> QueryResult<Vec<BanRow>> {
            bans::table
                .select(BanRow::as_select())
                .order(bans::id.desc())
                .load(self)
        }

        fn delete_ban(&mut self, id: i64) -> QueryResult<Option<BanRow>> {
            let row = bans::table
                .find(id)
                .select(BanRow::as_select())
                .first(self)
                .optional()?;
            if row.is_some() {
                diesel::delete(bans::table.find(id)).execute(self)?;
            }
            Ok(row)
        }

        fn ban_action(
            &mut self,
            site: &str,
            email: Option<&str>,
            person_key: Option<&str>,
            ip_hash: Option<&str>,
            now: i64,
        ) -> QueryResult<Option<String>> {
            if email.is_none() && ip_hash.is_none() {
                return Ok(None);
            }
            let email = email.unwrap_or("");
            let hidden = super::privacy::hidden_ban_value(person_key.unwrap_or(""));
            let email_match = bans::kind
                .eq("email")
                .and(bans::value.eq(email).or(bans::value.eq(&hidden)));
            let ip_match = bans::kind
                .eq("ip")
                .and(bans::value.eq(ip_hash.unwrap_or("")));
            let actions: Vec<String> = bans::table
                .filter(email_match.or(ip_match))
                .filter(bans::site.is_null().or(bans::site.eq(site)))
                .filter(bans::expires_at.is_null().or(bans::expires_at.gt(now)))
                .select(bans::action)
                .load(self)?;
            // Refusing is stricter than holding.
            Ok(actions
                .iter()
                .find(|a| *a == "refuse")
                .or(actions.first())
                .cloned())
        }
    };
}

/// `%`, `_` and `\` match themselves in a LIKE pattern escaped with `\`.
pub(super) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

impl ModerationStore for SqliteConnection {
    moderation_store_fns!(sqlite);
}

impl ModerationStore for PgConnection {
    moderation_store_fns!(pg);
}
