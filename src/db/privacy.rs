//! What a privacy request reads and erases: everything stored about one email address.

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::moderation::{escape_like, lower};
use super::schema::{
    audit_log, bans, comments, outbox, subscribers, thread_subscriptions, threads,
};

/// One of the person's comments, with the thread it is in.
#[derive(Debug, Clone, Queryable)]
pub struct PersonComment {
    pub id: i64,
    pub site: String,
    pub slug: String,
    pub parent_id: Option<i64>,
    pub status: String,
    pub body: String,
    pub author: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub notify_replies: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
}

/// A mail in the outbox to or about the person.
#[derive(Debug, Clone, Queryable)]
pub struct PersonMail {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub created_at: i64,
}

/// A ban on the address.
#[derive(Debug, Clone, Queryable)]
pub struct PersonBan {
    pub id: i64,
    pub site: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// A reply-mail subscription of the address on one site.
#[derive(Debug, Clone, Queryable)]
pub struct PersonSubscription {
    pub id: i64,
    pub site: String,
    pub lang: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
}

pub trait PrivacyStore {
    fn person_subscriptions(&mut self, email_key: &str) -> QueryResult<Vec<PersonSubscription>>;
    /// The ids of the threads a subscription follows as a whole.
    fn followed_threads(&mut self, subscriber_id: i64) -> QueryResult<Vec<(String, String)>>;
    /// The comments written with this address (`email_key`: lower case), oldest first.
    fn person_comments(&mut self, email_key: &str) -> QueryResult<Vec<PersonComment>>;
    /// Outbox mail to the address, or about it (moderators' new-comment mail), found by
    /// the recipient or by `person_key` (see `ServerKey::person_key`): bodies are base64.
    fn person_mail(&mut self, email_key: &str, person_key: &str) -> QueryResult<Vec<PersonMail>>;
    fn person_bans(&mut self, email_key: &str) -> QueryResult<Vec<PersonBan>>;
    /// Makes a comment anonymous: no name, address, website, client data; a new avatar.
    fn anonymize_comment(&mut self, id: i64, avatar: &str) -> QueryResult<()>;
    fn delete_mail(&mut self, ids: &[i64]) -> QueryResult<usize>;
    /// Bans on the address keep working after an erasure, under its keyed hash
    /// (`key:<person_key>`, which `ban_action` matches too) instead of the address.
    fn hide_bans(&mut self, email_key: &str, person_key: &str) -> QueryResult<usize>;
    /// Audit entries written before addresses were hashed there name the address in
    /// their detail: that detail goes.
    fn scrub_audit(&mut self, email_key: &str) -> QueryResult<usize>;
    /// After an erasure has committed: old versions of the changed pages go too. On SQLite
    /// the write-ahead log still holds them until a checkpoint empties it (deleted content
    /// in the file itself is zeroed: `secure_delete`). False if readers kept it from
    /// finishing. PostgreSQL's old row versions are reclaimed by its vacuum.
    fn forget_old_versions(&mut self) -> QueryResult<bool>;
}

#[derive(QueryableByName)]
struct Checkpoint {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
}

/// What a ban on an erased address holds instead of the address.
pub fn hidden_ban_value(person_key: &str) -> String {
    format!("key:{person_key}")
}

macro_rules! privacy_store_fns {
    () => {
        fn person_subscriptions(
            &mut self,
            email_key: &str,
        ) -> QueryResult<Vec<PersonSubscription>> {
            subscribers::table
                .filter(subscribers::email.eq(email_key))
                .order(subscribers::id.asc())
                .select((
                    subscribers::id,
                    subscribers::site,
                    subscribers::lang,
                    subscribers::created_at,
                    subscribers::confirmed_at,
                ))
                .load(self)
        }

        fn followed_threads(&mut self, subscriber_id: i64) -> QueryResult<Vec<(String, String)>> {
            thread_subscriptions::table
                .inner_join(threads::table.on(threads::id.eq(thread_subscriptions::thread_id)))
                .filter(thread_subscriptions::subscriber_id.eq(subscriber_id))
                .select((threads::site, threads::slug))
                .load(self)
        }

        fn person_comments(&mut self, email_key: &str) -> QueryResult<Vec<PersonComment>> {
            comments::table
                .inner_join(threads::table)
                .filter(comments::email_key.eq(email_key))
                .order(comments::id.asc())
                .select((
                    comments::id,
                    threads::site,
                    threads::slug,
                    comments::parent_id,
                    comments::status,
                    comments::body,
                    comments::author,
                    comments::email,
                    comments::website,
                    comments::notify_replies,
                    comments::ip,
                    comments::user_agent,
                    comments::created_at,
                    comments::edited_at,
                ))
                .load(self)
        }

        fn person_mail(
            &mut self,
            email_key: &str,
            person_key: &str,
        ) -> QueryResult<Vec<PersonMail>> {
            outbox::table
                .filter(
                    lower(outbox::recipient.nullable())
                        .eq(email_key)
                        .or(outbox::person_key.eq(person_key)),
                )
                .order(outbox::id.asc())
                .select((
                    outbox::id,
                    outbox::kind,
                    outbox::recipient,
                    outbox::status,
                    outbox::created_at,
                ))
                .load(self)
        }

        fn person_bans(&mut self, email_key: &str) -> QueryResult<Vec<PersonBan>> {
            bans::table
                .filter(bans::kind.eq("email"))
                .filter(bans::value.eq(email_key))
                .select((
                    bans::id,
                    bans::site,
                    bans::action,
                    bans::reason,
                    bans::created_at,
                    bans::expires_at,
                ))
                .load(self)
        }

        fn anonymize_comment(&mut self, id: i64, avatar: &str) -> QueryResult<()> {
            diesel::update(comments::table.find(id))
                .set((
                    comments::author.eq(None::<String>),
                    comments::email.eq(None::<String>),
                    comments::email_key.eq(None::<String>),
                    comments::website.eq(None::<String>),
                    comments::avatar.eq(avatar),
                    comments::notify_replies.eq(false),
                    comments::ip.eq(None::<String>),
                    comments::user_agent.eq(None::<String>),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn delete_mail(&mut self, ids: &[i64]) -> QueryResult<usize> {
            diesel::delete(outbox::table.filter(outbox::id.eq_any(ids))).execute(self)
        }

        fn hide_bans(&mut self, email_key: &str, person_key: &str) -> QueryResult<usize> {
            let hidden = hidden_ban_value(person_key);
            let found: Vec<(i64, Option<String>)> = bans::table
                .filter(bans::kind.eq("email"))
                .filter(bans::value.eq(email_key))
                .select((bans::id, bans::site))
                .load(self)?;
            for (id, site) in &found {
                let twin = bans::table
                    .filter(bans::kind.eq("email"))
                    .filter(bans::value.eq(&hidden))
                    .into_boxed();
                let twin = match site {
                    Some(s) => twin.filter(bans::site.eq(s)),
                    None => twin.filter(bans::site.is_null()),
                };
                let twin: Option<i64> = twin.select(bans::id).first(self).optional()?;
                // The address was banned again after an earlier erasure: one ban is enough.
                if twin.is_some() {
                    diesel::delete(bans::table.find(id)).execute(self)?;
                } else {
                    diesel::update(bans::table.find(id))
                        .set(bans::value.eq(&hidden))
                        .execute(self)?;
                }
            }
            Ok(found.len())
        }

        fn scrub_audit(&mut self, email_key: &str) -> QueryResult<usize> {
            let pattern = format!("%{}%", escape_like(email_key));
            diesel::update(
                audit_log::table.filter(lower(audit_log::detail).like(pattern).escape('\\')),
            )
            .set(audit_log::detail.eq("(address erased)"))
            .execute(self)
        }
    };
}

impl PrivacyStore for SqliteConnection {
    privacy_store_fns!();

    fn forget_old_versions(&mut self) -> QueryResult<bool> {
        let r: Checkpoint =
            diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result(self)?;
        Ok(r.busy == 0)
    }
}

impl PrivacyStore for PgConnection {
    privacy_store_fns!();

    fn forget_old_versions(&mut self) -> QueryResult<bool> {
        Ok(true)
    }
}
