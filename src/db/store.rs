//! The model functions, written once and compiled for both backends by `impl_store!`.

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::models::*;
use super::schema::{comments, reaction_counts, reactions, server_secrets, threads};

/// The avatar of a deleted comment's placeholder: the same for all, tied to no one.
pub const DELETED_AVATAR: &str = "0000000000000000";

diesel::alias!(super::schema::comments as replies: RepliesAlias);

diesel::define_sql_function! {
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Text>, y: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Every query Afterword runs. Implemented for SQLite and PostgreSQL connections from one body.
pub trait Store: Sized {
    fn find_thread(&mut self, site: &str, slug: &str) -> QueryResult<Option<ThreadRow>>;
    fn thread_by_id(&mut self, id: i64) -> QueryResult<ThreadRow>;
    /// Creates the thread or updates it in one statement: adds `delta` to its count and
    /// fills a missing title and url. Returns the row as it is now.
    fn upsert_thread(&mut self, new: &NewThread<'_>, delta: i64) -> QueryResult<ThreadRow>;
    fn add_comment_count(&mut self, thread_id: i64, delta: i64) -> QueryResult<()>;
    /// Up to `n` visible top-level comments after the cursor id, oldest or newest first.
    /// Others count only when an approved reply hangs under them (as placeholders).
    fn top_level_page(
        &mut self,
        thread_id: i64,
        newest_first: bool,
        after_id: Option<i64>,
        n: i64,
    ) -> QueryResult<Vec<PublicCommentRow>>;
    /// The ids of every visible top-level comment (for sorting by reactions).
    fn top_level_ids(&mut self, thread_id: i64) -> QueryResult<Vec<i64>>;
    fn comments_by_ids(&mut self, ids: &[i64]) -> QueryResult<Vec<PublicCommentRow>>;
    /// Every reply under these top-level comments, oldest first; the page keeps those
    /// approved and the placeholders they need.
    fn replies_under(
        &mut self,
        thread_id: i64,
        roots: &[i64],
    ) -> QueryResult<Vec<PublicCommentRow>>;
    /// `(comment_id, kind, count)`; `comment_id` is `None` for the post itself. Read from
    /// the counters, never by counting reactions.
    fn reaction_counts(&mut self, thread_id: i64) -> QueryResult<Vec<(Option<i64>, String, i64)>>;
    /// `(kind, count)` of one target: a comment, or the post (`comment_key` 0).
    fn target_reaction_counts(
        &mut self,
        thread_id: i64,
        comment_key: i64,
    ) -> QueryResult<Vec<(String, i64)>>;
    /// Adds the visitor's reaction unless they have it already; true when it was added.
    fn add_reaction(&mut self, new: &NewReaction<'_>) -> QueryResult<bool>;
    /// Removes the visitor's reaction; true when there was one.
    fn remove_reaction(
        &mut self,
        thread_id: i64,
        comment_id: Option<i64>,
        kind: &str,
        visitor_hash: &str,
    ) -> QueryResult<bool>;
    /// Adds `delta` to a target's counter of `kind`; a counter that reaches 0 is removed.
    fn add_reaction_count(
        &mut self,
        thread_id: i64,
        comment_key: i64,
        kind: &str,
        delta: i64,
    ) -> QueryResult<()>;
    /// `(comment_id, kind)` of one visitor's reactions in a thread.
    fn visitor_reactions(
        &mut self,
        thread_id: i64,
        visitor_hash: &str,
    ) -> QueryResult<Vec<(Option<i64>, String)>>;
    /// Those of `ids` that are approved comments.
    fn approved_ids(&mut self, ids: &[i64]) -> QueryResult<Vec<i64>>;
    /// `(slug, count)` rows of the reactions on the posts themselves among `slugs`.
    fn post_reaction_counts(
        &mut self,
        site: &str,
        slugs: &[&str],
    ) -> QueryResult<Vec<(String, i64)>>;
    /// `(status, root_id)` of a comment if it belongs to the thread.
    fn comment_in_thread(
        &mut self,
        id: i64,
        thread_id: i64,
    ) -> QueryResult<Option<(String, Option<i64>)>>;
    fn comment_auth(&mut self, id: i64) -> QueryResult<Option<CommentAuthRow>>;
    fn comment_proof(&mut self, id: i64) -> QueryResult<Option<CommentProofRow>>;
    fn insert_comment(&mut self, new: &NewComment<'_>) -> QueryResult<PublicCommentRow>;
    fn update_comment(
        &mut self,
        id: i64,
        patch: &CommentPatch<'_>,
    ) -> QueryResult<PublicCommentRow>;
    /// Marks a comment deleted and erases what its author wrote about themselves.
    /// `by`: `author` (their own delete) or `erased` (a moderator's erasure).
    fn scrub_comment(&mut self, id: i64, now: i64, by: &str) -> QueryResult<()>;
    /// `(slug, comment_count)` of the existing threads among `slugs`, in one query.
    fn counts(&mut self, site: &str, slugs: &[&str]) -> QueryResult<Vec<(String, i64)>>;
    fn secret(&mut self, name: &str) -> QueryResult<Option<String>>;
    fn insert_secret_if_absent(&mut self, name: &str, value: &str) -> QueryResult<()>;
    fn ping(&mut self) -> QueryResult<()>;
}

/// Top-level comments a reader sees: approved ones, and any other (deleted, refused,
/// pending again) that keeps an approved reply, as a placeholder.
macro_rules! visible_top_level {
    ($thread_id:expr) => {
        comments::table
            .filter(comments::thread_id.eq($thread_id))
            .filter(comments::root_id.is_null())
            .filter(
                comments::status.eq("approved").or(diesel::dsl::exists(
                    replies
                        .filter(replies.field(comments::root_id).eq(comments::id.nullable()))
                        .filter(replies.field(comments::status).eq("approved")),
                )),
            )
    };
}

macro_rules! common_store_fns {
    () => {
        fn find_thread(&mut self, site: &str, slug: &str) -> QueryResult<Option<ThreadRow>> {
            threads::table
                .filter(threads::site.eq(site))
                .filter(threads::slug.eq(slug))
                .select(ThreadRow::as_select())
                .first(self)
                .optional()
        }

        fn thread_by_id(&mut self, id: i64) -> QueryResult<ThreadRow> {
            threads::table
                .find(id)
                .select(ThreadRow::as_select())
                .first(self)
        }

        fn upsert_thread(&mut self, new: &NewThread<'_>, delta: i64) -> QueryResult<ThreadRow> {
            use diesel::upsert::excluded;
            diesel::insert_into(threads::table)
                .values(new)
                .on_conflict((threads::site, threads::slug))
                .do_update()
                .set((
                    threads::comment_count.eq(threads::comment_count + delta),
                    threads::title.eq(coalesce(threads::title, excluded(threads::title))),
                    threads::url.eq(coalesce(threads::url, excluded(threads::url))),
                ))
                .returning(ThreadRow::as_returning())
                .get_result(self)
        }

        fn add_comment_count(&mut self, thread_id: i64, delta: i64) -> QueryResult<()> {
            diesel::update(threads::table.find(thread_id))
                .set(threads::comment_count.eq(threads::comment_count + delta))
                .execute(self)
                .map(|_| ())
        }

        fn top_level_page(
            &mut self,
            thread_id: i64,
            newest_first: bool,
            after_id: Option<i64>,
            n: i64,
        ) -> QueryResult<Vec<PublicCommentRow>> {
            let mut q = visible_top_level!(thread_id)
                .select(PublicCommentRow::as_select())
                .limit(n)
                .into_boxed();
            q = match (newest_first, after_id) {
                (false, Some(a)) => q.filter(comments::id.gt(a)).order(comments::id.asc()),
                (false, None) => q.order(comments::id.asc()),
                (true, Some(a)) => q.filter(comments::id.lt(a)).order(comments::id.desc()),
                (true, None) => q.order(comments::id.desc()),
            };
            q.load(self)
        }

        fn top_level_ids(&mut self, thread_id: i64) -> QueryResult<Vec<i64>> {
            visible_top_level!(thread_id)
                .select(comments::id)
                .load(self)
        }

        fn comments_by_ids(&mut self, ids: &[i64]) -> QueryResult<Vec<PublicCommentRow>> {
            comments::table
                .filter(comments::id.eq_any(ids))
                .select(PublicCommentRow::as_select())
                .load(self)
        }

        fn replies_under(
            &mut self,
            thread_id: i64,
            roots: &[i64],
        ) -> QueryResult<Vec<PublicCommentRow>> {
            if roots.is_empty() {
                return Ok(Vec::new());
            }
            comments::table
                .filter(comments::thread_id.eq(thread_id))
                .filter(comments::root_id.eq_any(roots))
                .order(comments::id.asc())
                .select(PublicCommentRow::as_select())
                .load(self)
        }

        fn reaction_counts(
            &mut self,
            thread_id: i64,
        ) -> QueryResult<Vec<(Option<i64>, String, i64)>> {
            let rows: Vec<(i64, String, i64)> = reaction_counts::table
                .filter(reaction_counts::thread_id.eq(thread_id))
                .select((
                    reaction_counts::comment_key,
                    reaction_counts::kind,
                    reaction_counts::count,
                ))
                .load(self)?;
            Ok(rows
                .into_iter()
                .map(|(key, kind, n)| ((key != 0).then_some(key), kind, n))
                .collect())
        }

        fn target_reaction_counts(
            &mut self,
            thread_id: i64,
            comment_key: i64,
        ) -> QueryResult<Vec<(String, i64)>> {
            reaction_counts::table
                .filter(reaction_counts::thread_id.eq(thread_id))
                .filter(reaction_counts::comment_key.eq(comment_key))
                .select((reaction_counts::kind, reaction_counts::count))
                .load(self)
        }

        fn add_reaction(&mut self, new: &NewReaction<'_>) -> QueryResult<bool> {
            // The unique index decides, also against another instance's writer.
            diesel::insert_into(reactions::table)
                .values(new)
                .on_conflict_do_nothing()
                .execute(self)
                .map(|n| n == 1)
        }

        fn remove_reaction(
            &mut self,
            thread_id: i64,
            comment_id: Option<i64>,
            kind: &str,
            visitor_hash: &str,
        ) -> QueryResult<bool> {
            let q = reactions::table
                .filter(reactions::visitor_hash.eq(visitor_hash))
                .filter(reactions::thread_id.eq(thread_id))
                .filter(reactions::kind.eq(kind))
                .select(reactions::id)
                .into_boxed();
            let q = match comment_id {
                Some(c) => q.filter(reactions::comment_id.eq(c)),
                None => q.filter(reactions::comment_id.is_null()),
            };
            let Some(id) = q.first::<i64>(self).optional()? else {
                return Ok(false);
            };
            // By id: if another instance removed it meanwhile, this removes nothing.
            diesel::delete(reactions::table.find(id))
                .execute(self)
                .map(|n| n == 1)
        }

        fn add_reaction_count(
            &mut self,
            thread_id: i64,
            comment_key: i64,
            kind: &str,
            delta: i64,
        ) -> QueryResult<()> {
            let target = reaction_counts::table
                .filter(reaction_counts::thread_id.eq(thread_id))
                .filter(reaction_counts::comment_key.eq(comment_key))
                .filter(reaction_counts::kind.eq(kind));
            if delta < 0 {
                let gone = diesel::delete(target.filter(reaction_counts::count.le(-delta)))
                    .execute(self)?;
                if gone == 0 {
                    diesel::update(target)
                        .set(reaction_counts::count.eq(reaction_counts::count + delta))
                        .execute(self)?;
                }
                return Ok(());
            }
            diesel::insert_into(reaction_counts::table)
                .values((
                    reaction_counts::thread_id.eq(thread_id),
                    reaction_counts::comment_key.eq(comment_key),
                    reaction_counts::kind.eq(kind),
                    reaction_counts::count.eq(delta),
                ))
                .on_conflict((
                    reaction_counts::thread_id,
                    reaction_counts::comment_key,
                    reaction_counts::kind,
                ))
                .do_update()
                .set(reaction_counts::count.eq(reaction_counts::count + delta))
                .execute(self)
                .map(|_| ())
        }

        fn visitor_reactions(
            &mut self,
            thread_id: i64,
            visitor_hash: &str,
        ) -> QueryResult<Vec<(Option<i64>, String)>> {
            reactions::table
                .filter(reactions::visitor_hash.eq(visitor_hash))
                .filter(reactions::thread_id.eq(thread_id))
                .select((reactions::comment_id, reactions::kind))
                .load(self)
        }

        fn approved_ids(&mut self, ids: &[i64]) -> QueryResult<Vec<i64>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            comments::table
                .filter(comments::id.eq_any(ids))
                .filter(comments::status.eq("approved"))
                .select(comments::id)
                .load(self)
        }

        fn post_reaction_counts(
            &mut self,
            site: &str,
            slugs: &[&str],
        ) -> QueryResult<Vec<(String, i64)>> {
            threads::table
                .inner_join(reaction_counts::table)
                .filter(threads::site.eq(site))
                .filter(threads::slug.eq_any(slugs))
                .filter(reaction_counts::comment_key.eq(0))
                .select((threads::slug, reaction_counts::count))
                .load(self)
        }

        fn comment_in_thread(
            &mut self,
            id: i64,
            thread_id: i64,
        ) -> QueryResult<Option<(String, Option<i64>)>> {
            comments::table
                .filter(comments::id.eq(id))
                .filter(comments::thread_id.eq(thread_id))
                .select((comments::status, comments::root_id))
                .first(self)
                .optional()
        }

        fn comment_auth(&mut self, id: i64) -> QueryResult<Option<CommentAuthRow>> {
            comments::table
                .find(id)
                .select(CommentAuthRow::as_select())
                .first(self)
                .optional()
        }

        fn comment_proof(&mut self, id: i64) -> QueryResult<Option<CommentProofRow>> {
            comments::table
                .inner_join(threads::table)
                .filter(comments::id.eq(id))
                .select((
                    threads::site,
                    comments::status,
                    comments::email_key,
                    comments::edit_token_hash,
                ))
                .first(self)
                .optional()
        }

        fn insert_comment(&mut self, new: &NewComment<'_>) -> QueryResult<PublicCommentRow> {
            diesel::insert_into(comments::table)
                .values(new)
                .returning(PublicCommentRow::as_returning())
                .get_result(self)
        }

        fn update_comment(
            &mut self,
            id: i64,
            patch: &CommentPatch<'_>,
        ) -> QueryResult<PublicCommentRow> {
            diesel::update(comments::table.find(id))
                .set(patch)
                .returning(PublicCommentRow::as_returning())
                .get_result(self)
        }

        fn scrub_comment(&mut self, id: i64, now: i64, by: &str) -> QueryResult<()> {
            diesel::update(comments::table.find(id))
                .set((
                    comments::status.eq("deleted"),
                    comments::body.eq(""),
                    comments::html.eq(""),
                    comments::author.eq(None::<String>),
                    comments::email.eq(None::<String>),
                    comments::email_key.eq(None::<String>),
                    comments::website.eq(None::<String>),
                    comments::notify_replies.eq(false),
                    comments::edit_token_hash.eq(None::<String>),
                    comments::ip.eq(None::<String>),
                    comments::user_agent.eq(None::<String>),
                    // Derived from the address: it would link the placeholder to them.
                    comments::avatar.eq(DELETED_AVATAR),
                    comments::deleted_at.eq(Some(now)),
                    comments::deleted_by.eq(by),
                    // Who wrote it elsewhere (a reply from Mastodon, Bluesky, a webmention).
                    comments::origin.eq(None::<String>),
                    comments::remote_account.eq(None::<String>),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn counts(&mut self, site: &str, slugs: &[&str]) -> QueryResult<Vec<(String, i64)>> {
            threads::table
                .filter(threads::site.eq(site))
                .filter(threads::slug.eq_any(slugs))
                .select((threads::slug, threads::comment_count))
                .load(self)
        }

        fn secret(&mut self, name: &str) -> QueryResult<Option<String>> {
            server_secrets::table
                .find(name)
                .select(server_secrets::value)
                .first(self)
                .optional()
        }

        fn insert_secret_if_absent(&mut self, name: &str, value: &str) -> QueryResult<()> {
            diesel::insert_into(server_secrets::table)
                .values((
                    server_secrets::name.eq(name),
                    server_secrets::value.eq(value),
                ))
                .on_conflict(server_secrets::name)
                .do_nothing()
                .execute(self)
                .map(|_| ())
        }

        fn ping(&mut self) -> QueryResult<()> {
            diesel::sql_query("SELECT 1").execute(self).map(|_| ())
        }
    };
}

impl Store for SqliteConnection {
    common_store_fns!();
}

impl Store for PgConnection {
    common_store_fns!();
}
