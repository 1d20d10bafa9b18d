//! Reply notifications: subscribers (double opt-in) and the pending digests of replies
//! (see `crate::email::replies`).

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::upsert::excluded;
use diesel::{PgConnection, SqliteConnection};

use super::schema::{comments, outbox, reply_digests, subscribers, thread_subscriptions, threads};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscribers)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SubscriberRow {
    pub id: i64,
    pub site: String,
    pub email: String,
    pub lang: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub confirm_sent_at: Option<i64>,
    pub unsubscribe_key: String,
}

/// A digest taken out of the table to be mailed.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = reply_digests)]
pub struct DigestRow {
    pub id: i64,
    pub subscriber_id: i64,
    pub thread_id: i64,
    pub first_at: i64,
    pub comment_ids: String,
}

/// What deciding and writing a reply mail needs of a comment.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct NotifyRow {
    pub id: i64,
    pub thread_id: i64,
    pub parent_id: Option<i64>,
    pub status: String,
    pub author: Option<String>,
    pub body: String,
    pub email_key: Option<String>,
    pub notify_replies: bool,
    pub created_at: i64,
}

pub trait SubscriptionStore: Sized {
    /// The subscriber for `site` and `email` (lower case), created unconfirmed (in `lang`)
    /// if new; an existing one is left as it is (its language changes only through a
    /// confirmation link: `set_subscriber_lang`).
    fn upsert_subscriber(
        &mut self,
        site: &str,
        email: &str,
        lang: &str,
        key: &str,
        now: i64,
    ) -> QueryResult<SubscriberRow>;
    /// Marks a confirmation mail as due for a subscriber, unless one went out after
    /// `resend_after`. True for exactly one caller: that one queues the mail.
    fn claim_confirmation(&mut self, id: i64, now: i64, resend_after: i64) -> QueryResult<bool>;
    fn subscriber(&mut self, site: &str, email: &str) -> QueryResult<Option<SubscriberRow>>;
    fn subscriber_by_id(&mut self, id: i64) -> QueryResult<Option<SubscriberRow>>;
    fn subscriber_by_key(&mut self, key: &str) -> QueryResult<Option<SubscriberRow>>;
    /// Confirms the subscriber `id` created at `created_at`; false if it is gone or was
    /// confirmed already.
    fn confirm_subscriber(&mut self, id: i64, created_at: i64, now: i64) -> QueryResult<bool>;
    fn set_subscriber_lang(&mut self, id: i64, lang: &str) -> QueryResult<()>;
    /// Makes the subscriber follow every comment of a thread.
    fn follow_thread(&mut self, subscriber_id: i64, thread_id: i64, now: i64) -> QueryResult<()>;
    fn follows_thread(&mut self, subscriber_id: i64, thread_id: i64) -> QueryResult<bool>;
    /// The confirmed subscribers following a thread.
    fn thread_followers(&mut self, thread_id: i64) -> QueryResult<Vec<SubscriberRow>>;
    /// Adds a reply to the subscriber's pending digest for the thread (created if none).
    fn add_to_digest(
        &mut self,
        subscriber_id: i64,
        thread_id: i64,
        comment_id: i64,
        now: i64,
    ) -> QueryResult<()>;
    /// Deletes and returns up to `n` digests started before `before`. Run inside the
    /// transaction that queues their mail: on PostgreSQL, instances skip each other's rows.
    fn take_due_digests(&mut self, before: i64, n: i64) -> QueryResult<Vec<DigestRow>>;
    fn notify_comments(&mut self, ids: &[i64]) -> QueryResult<Vec<NotifyRow>>;
    /// Stops reply mail about the subscriber's comments in one thread.
    fn unsubscribe_thread(&mut self, sub: &SubscriberRow, thread_id: i64) -> QueryResult<()>;
    /// Stops all reply mail of the site to the subscriber and forgets them: a later
    /// "notify me" starts with a confirmation mail again.
    fn unsubscribe_all(&mut self, sub: &SubscriberRow) -> QueryResult<()>;
    /// Erasure: drops the address's subscriptions (on `site`, or everywhere) and the mail
    /// still queued to it. Returns how many subscriptions and messages went.
    fn forget_email(&mut self, site: Option<&str>, email: &str) -> QueryResult<(usize, usize)>;
}

macro_rules! subscription_store_fns {
    ($take:expr) => {
        fn upsert_subscriber(
            &mut self,
            site: &str,
            email: &str,
            lang: &str,
            key: &str,
            now: i64,
        ) -> QueryResult<SubscriberRow> {
            diesel::insert_into(subscribers::table)
                .values((
                    subscribers::site.eq(site),
                    subscribers::email.eq(email),
                    subscribers::lang.eq(lang),
                    subscribers::created_at.eq(now),
                    subscribers::unsubscribe_key.eq(key),
                ))
                .on_conflict((subscribers::site, subscribers::email))
                .do_update()
                // A no-op, so that the existing row is returned.
                .set(subscribers::lang.eq(subscribers::lang))
                .returning(SubscriberRow::as_returning())
                .get_result(self)
        }

        fn claim_confirmation(
            &mut self,
            id: i64,
            now: i64,
            resend_after: i64,
        ) -> QueryResult<bool> {
            let n = diesel::update(
                subscribers::table.filter(subscribers::id.eq(id)).filter(
                    subscribers::confirm_sent_at
                        .is_null()
                        .or(subscribers::confirm_sent_at.lt(resend_after)),
                ),
            )
            .set(subscribers::confirm_sent_at.eq(now))
            .execute(self)?;
            Ok(n == 1)
        }

        fn subscriber(&mut self, site: &str, email: &str) -> QueryResult<Option<SubscriberRow>> {
            subscribers::table
                .filter(subscribers::site.eq(site))
                .filter(subscribers::email.eq(email))
                .select(SubscriberRow::as_select())
                .first(self)
                .optional()
        }

        fn subscriber_by_id(&mut self, id: i64) -> QueryResult<Option<SubscriberRow>> {
            subscribers::table
                .find(id)
                .select(SubscriberRow::as_select())
                .first(self)
                .optional()
        }

        fn subscriber_by_key(&mut self, key: &str) -> QueryResult<Option<SubscriberRow>> {
            subscribers::table
                .filter(subscribers::unsubscribe_key.eq(key))
                .select(SubscriberRow::as_select())
                .first(self)
                .optional()
        }

        fn confirm_subscriber(&mut self, id: i64, created_at: i64, now: i64) -> QueryResult<bool> {
            let n = diesel::update(
                subscribers::table
                    .filter(subscribers::id.eq(id))
                    .filter(subscribers::created_at.eq(created_at))
                    .filter(subscribers::confirmed_at.is_null()),
            )
            .set(subscribers::confirmed_at.eq(now))
            .execute(self)?;
            Ok(n == 1)
        }

        fn set_subscriber_lang(&mut self, id: i64, lang: &str) -> QueryResult<()> {
            diesel::update(subscribers::table.find(id))
                .set(subscribers::lang.eq(lang))
                .execute(self)
                .map(|_| ())
        }

        fn follow_thread(
            &mut self,
            subscriber_id: i64,
            thread_id: i64,
            now: i64,
        ) -> QueryResult<()> {
            diesel::insert_into(thread_subscriptions::table)
                .values((
                    thread_subscriptions::subscriber_id.eq(subscriber_id),
                    thread_subscriptions::thread_id.eq(thread_id),
                    thread_subscriptions::created_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute(self)
                .map(|_| ())
        }

        fn follows_thread(&mut self, subscriber_id: i64, thread_id: i64) -> QueryResult<bool> {
            diesel::select(diesel::dsl::exists(
                thread_subscriptions::table
                    .filter(thread_subscriptions::subscriber_id.eq(subscriber_id))
                    .filter(thread_subscriptions::thread_id.eq(thread_id)),
            ))
            .get_result(self)
        }

        fn thread_followers(&mut self, thread_id: i64) -> QueryResult<Vec<SubscriberRow>> {
            subscribers::table
                .inner_join(thread_subscriptions::table)
                .filter(thread_subscriptions::thread_id.eq(thread_id))
                .filter(subscribers::confirmed_at.is_not_null())
                .select(SubscriberRow::as_select())
                .load(self)
        }

        fn add_to_digest(
            &mut self,
            subscriber_id: i64,
            thread_id: i64,
            comment_id: i64,
            now: i64,
        ) -> QueryResult<()> {
            // One statement, atomic on both backends: a digest being sent meanwhile is
            // either still there (and this reply joins it) or gone (and this starts one).
            diesel::insert_into(reply_digests::table)
                .values((
                    reply_digests::subscriber_id.eq(subscriber_id),
                    reply_digests::thread_id.eq(thread_id),
                    reply_digests::first_at.eq(now),
                    reply_digests::comment_ids.eq(comment_id.to_string()),
                ))
                .on_conflict((reply_digests::subscriber_id, reply_digests::thread_id))
                .do_update()
                .set(
                    reply_digests::comment_ids.eq(reply_digests::comment_ids
                        .concat(",")
                        .concat(excluded(reply_digests::comment_ids))),
                )
                .execute(self)
                .map(|_| ())
        }

        fn take_due_digests(&mut self, before: i64, n: i64) -> QueryResult<Vec<DigestRow>> {
            diesel::sql_query($take)
                .bind::<BigInt, _>(before)
                .bind::<BigInt, _>(n)
                .load(self)
        }

        fn notify_comments(&mut self, ids: &[i64]) -> QueryResult<Vec<NotifyRow>> {
            comments::table
                .filter(comments::id.eq_any(ids))
                .select(NotifyRow::as_select())
                .load(self)
        }

        fn unsubscribe_thread(&mut self, sub: &SubscriberRow, thread_id: i64) -> QueryResult<()> {
            diesel::update(
                comments::table
                    .filter(comments::thread_id.eq(thread_id))
                    .filter(comments::email_key.eq(&sub.email)),
            )
            .set(comments::notify_replies.eq(false))
            .execute(self)?;
            diesel::delete(
                thread_subscriptions::table
                    .filter(thread_subscriptions::subscriber_id.eq(sub.id))
                    .filter(thread_subscriptions::thread_id.eq(thread_id)),
            )
            .execute(self)?;
            diesel::delete(
                reply_digests::table
                    .filter(reply_digests::subscriber_id.eq(sub.id))
                    .filter(reply_digests::thread_id.eq(thread_id)),
            )
            .execute(self)
            .map(|_| ())
        }

        fn unsubscribe_all(&mut self, sub: &SubscriberRow) -> QueryResult<()> {
            let site_threads = threads::table
                .filter(threads::site.eq(&sub.site))
                .select(threads::id);
            diesel::update(
                comments::table
                    .filter(comments::email_key.eq(&sub.email))
                    .filter(comments::thread_id.eq_any(site_threads)),
            )
            .set(comments::notify_replies.eq(false))
            .execute(self)?;
            diesel::delete(reply_digests::table.filter(reply_digests::subscriber_id.eq(sub.id)))
                .execute(self)?;
            diesel::delete(
                thread_subscriptions::table.filter(thread_subscriptions::subscriber_id.eq(sub.id)),
            )
            .execute(self)?;
            diesel::delete(subscribers::table.find(sub.id))
                .execute(self)
                .map(|_| ())
        }

        fn forget_email(&mut self, site: Option<&str>, email: &str) -> QueryResult<(usize, usize)> {
            let email = email.to_lowercase();
            let mut subs = subscribers::table
                .filter(subscribers::email.eq(&email))
                .select(SubscriberRow::as_select())
                .into_boxed();
            if let Some(s) = site {
                subs = subs.filter(subscribers::site.eq(s));
            }
            let subs = subs.load(self)?;
            for sub in &subs {
                self.unsubscribe_all(sub)?;
            }
            // Queued mail only: what was sent is history, and pruned after a few days.
            let mail = diesel::delete(
                outbox::table
                    .filter(outbox::status.eq("queued"))
                    .filter(outbox::claimed_by.is_null())
                    .filter(lower(outbox::recipient).eq(&email)),
            )
            .execute(self)?;
            Ok((subs.len(), mail))
        }
    };
}

impl SubscriptionStore for SqliteConnection {
    subscription_store_fns!(
        "DELETE FROM reply_digests WHERE id IN (SELECT id FROM reply_digests \
         WHERE first_at < ? ORDER BY id LIMIT ?) \
         RETURNING id, subscriber_id, thread_id, first_at, comment_ids"
    );
}

impl SubscriptionStore for PgConnection {
    subscription_store_fns!(
        "DELETE FROM reply_digests WHERE id IN (SELECT id FROM reply_digests \
         WHERE first_at < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id, subscriber_id, thread_id, first_at, comment_ids"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::{NewComment, NewThread};
    use crate::db::outbox::NewMail;
    use crate::db::{MailStore, Store};
    use diesel_migrations::MigrationHarness;

    fn db() -> SqliteConnection {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        diesel::sql_query("PRAGMA foreign_keys = ON")
            .execute(&mut c)
            .unwrap();
        c.run_pending_migrations(crate::db::SQLITE_MIGRATIONS)
            .unwrap();
        c
    }

    fn comment(c: &mut SqliteConnection, thread: i64, email: &str) -> i64 {
        c.insert_comment(&NewComment {
            thread_id: thread,
            parent_id: None,
            root_id: None,
            status: "approved",
            body: "b",
            html: "<p>b</p>",
            author: None,
            email: Some(email),
            website: None,
            avatar: "a",
            notify_replies: true,
            edit_token_hash: None,
            ip: None,
            user_agent: None,
            created_at: 1,
            email_key: Some(email),
            moderator_id: None,
        })
        .unwrap()
        .id
    }

    #[test]
    fn forget_email_drops_subscriptions_digests_and_queued_mail() {
        let mut c = db();
        let thread = |c: &mut SqliteConnection, site: &str| {
            c.upsert_thread(
                &NewThread {
                    site,
                    slug: "/p/",
                    title: None,
                    url: None,
                    locked: false,
                    comment_count: 0,
                    created_at: 1,
                },
                0,
            )
            .unwrap()
            .id
        };
        let (a, b) = (thread(&mut c, "a"), thread(&mut c, "b"));
        let email = "ann@example.org";
        let kept = comment(&mut c, b, email);
        comment(&mut c, a, email);
        let sa = c.upsert_subscriber("a", email, "en", "ka", 1).unwrap();
        let sb = c.upsert_subscriber("b", email, "en", "kb", 1).unwrap();
        c.upsert_subscriber("a", "bob@example.org", "en", "kc", 1)
            .unwrap();
        c.add_to_digest(sa.id, a, 99, 1).unwrap();
        c.add_to_digest(sa.id, a, 100, 2).unwrap();
        for (to, kind) in [
            ("Ann@Example.org", "reply-notification"),
            ("bob@example.org", "x"),
        ] {
            c.enqueue_mail(&NewMail {
                created_at: 1,
                kind,
                sender: "s@example.com",
                recipient: to,
                message: "m",
                next_attempt_at: 1,
                person_key: None,
            })
            .unwrap();
        }
        let digests = |c: &mut SqliteConnection| reply_digests::table.count().get_result::<i64>(c);
        assert_eq!(digests(&mut c).unwrap(), 1);

        // Site a only: b's subscription and comment stay.
        assert_eq!(
            c.forget_email(Some("a"), "ANN@example.org").unwrap(),
            (1, 1)
        );
        assert!(c.subscriber("a", email).unwrap().is_none());
        assert_eq!(c.subscriber("b", email).unwrap().unwrap().id, sb.id);
        assert!(c.subscriber("a", "bob@example.org").unwrap().is_some());
        assert_eq!(digests(&mut c).unwrap(), 0);
        let notify =
            |c: &mut SqliteConnection, id: i64| c.notify_comments(&[id]).unwrap()[0].notify_replies;
        assert!(notify(&mut c, kept));
        assert_eq!(outbox::table.count().get_result::<i64>(&mut c).unwrap(), 1);

        // Everywhere.
        assert_eq!(c.forget_email(None, email).unwrap(), (1, 0));
        assert!(c.subscriber("b", email).unwrap().is_none());
        assert!(!notify(&mut c, kept));
    }
}
