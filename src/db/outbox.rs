//! The mail outbox and the used action-link nonces (see `crate::email`).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::{PgConnection, SqliteConnection};

use super::schema::{outbox, used_tokens};

#[derive(Debug, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewMail<'a> {
    pub created_at: i64,
    pub kind: &'a str,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub message: &'a str,
    pub next_attempt_at: i64,
}

/// A message claimed for sending.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = outbox)]
pub struct MailRow {
    pub id: i64,
    pub created_at: i64,
    pub kind: String,
    pub sender: String,
    pub recipient: String,
    pub message: String,
    pub attempts: i64,
}

/// A message as the admin page lists it (without its text).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: i64,
    pub created_at: i64,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_answer: Option<String>,
    pub claimed_by: Option<String>,
    pub sent_at: Option<i64>,
}

pub trait MailStore: Sized {
    fn enqueue_mail(&mut self, m: &NewMail<'_>) -> QueryResult<()>;
    /// Claims up to `n` messages for `worker` until `lease_until`: queued, due by
    /// `due_by` (`now`, or later to try one ahead of its time), and not claimed by anyone
    /// whose lease still runs. Earliest due first.
    fn claim_mail(
        &mut self,
        worker: &str,
        due_by: i64,
        now: i64,
        lease_until: i64,
        n: i64,
    ) -> QueryResult<Vec<MailRow>>;
    /// Extends `worker`'s claim on a message it is still sending. False if it has none.
    fn renew_mail(&mut self, id: i64, worker: &str, lease_until: i64) -> QueryResult<bool>;
    /// Records that the SMTP server accepted a message, whoever holds it now: a message
    /// answered 250 must never be sent again.
    fn mark_sent(&mut self, id: i64, answer: &str, now: i64) -> QueryResult<()>;
    /// Makes every message waiting for a retry due now (the SMTP server is back); returns
    /// how many.
    fn wake_mail(&mut self, now: i64) -> QueryResult<usize>;
    /// Records an attempt on a message this worker holds: `status` `sent`, `queued` (again
    /// at `next_at`) or `failed`. Returns false if the claim was lost meanwhile.
    fn finish_mail(
        &mut self,
        id: i64,
        worker: &str,
        status: &str,
        next_at: i64,
        answer: &str,
        now: i64,
    ) -> QueryResult<bool>;
    /// Gives back what `worker` claimed and has not sent (it is stopping).
    fn release_mail(&mut self, worker: &str) -> QueryResult<usize>;
    /// Marks an action link's nonce used; false if it already was.
    fn use_nonce(&mut self, nonce: &str, now: i64) -> QueryResult<bool>;
    fn nonce_used(&mut self, nonce: &str) -> QueryResult<bool>;
    /// Newest first, optionally of one status, below the id `before`.
    fn outbox_page(
        &mut self,
        status: Option<&str>,
        before: Option<i64>,
        n: i64,
    ) -> QueryResult<Vec<OutboxRow>>;
    fn outbox_row(&mut self, id: i64) -> QueryResult<Option<OutboxRow>>;
    /// Queues a failed (or waiting) message again, due now. False unless it was failed or
    /// queued and not being sent.
    fn retry_mail(&mut self, id: i64, now: i64) -> QueryResult<bool>;
    /// Deletes a message that is not being sent right now. False if there was none.
    fn drop_mail(&mut self, id: i64) -> QueryResult<bool>;
    /// Deletes sent messages older than `before`, and action-link nonces used before
    /// `tokens_before` (their links have expired). Returns both counts.
    fn prune_mail(&mut self, before: i64, tokens_before: i64) -> QueryResult<(usize, usize)>;
}

macro_rules! mail_store_fns {
    ($claim:expr) => {
        fn enqueue_mail(&mut self, m: &NewMail<'_>) -> QueryResult<()> {
            diesel::insert_into(outbox::table)
                .values(m)
                .execute(self)
                .map(|_| ())
        }

        fn claim_mail(
            &mut self,
            worker: &str,
            due_by: i64,
            now: i64,
            lease_until: i64,
            n: i64,
        ) -> QueryResult<Vec<MailRow>> {
            diesel::sql_query($claim)
                .bind::<Text, _>(worker)
                .bind::<BigInt, _>(lease_until)
                .bind::<BigInt, _>(due_by)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(n)
                .load(self)
        }

        fn renew_mail(&mut self, id: i64, worker: &str, lease_until: i64) -> QueryResult<bool> {
            let n = diesel::update(
                outbox::table
                    .filter(outbox::id.eq(id))
                    .filter(outbox::claimed_by.eq(worker))
                    .filter(outbox::status.eq("queued")),
            )
            .set(outbox::lease_until.eq(lease_until))
            .execute(self)?;
            Ok(n == 1)
        }

        fn mark_sent(&mut self, id: i64, answer: &str, now: i64) -> QueryResult<()> {
            diesel::update(outbox::table.filter(outbox::id.eq(id)))
                .set((
                    outbox::status.eq("sent"),
                    outbox::attempts.eq(outbox::attempts + 1),
                    outbox::next_attempt_at.eq(now),
                    outbox::last_answer.eq(answer),
                    outbox::claimed_by.eq(None::<String>),
                    outbox::lease_until.eq(None::<i64>),
                    outbox::sent_at.eq(Some(now)),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn wake_mail(&mut self, now: i64) -> QueryResult<usize> {
            diesel::update(
                outbox::table
                    .filter(outbox::status.eq("queued"))
                    .filter(outbox::claimed_by.is_null())
                    .filter(outbox::attempts.gt(0))
                    .filter(outbox::next_attempt_at.gt(now)),
            )
            .set(outbox::next_attempt_at.eq(now))
            .execute(self)
        }

        fn finish_mail(
            &mut self,
            id: i64,
            worker: &str,
            status: &str,
            next_at: i64,
            answer: &str,
            now: i64,
        ) -> QueryResult<bool> {
            let n = diesel::update(
                outbox::table
                    .filter(outbox::id.eq(id))
                    .filter(outbox::claimed_by.eq(worker)),
            )
            .set((
                outbox::status.eq(status),
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::next_attempt_at.eq(next_at),
                outbox::last_answer.eq(answer),
                outbox::claimed_by.eq(None::<String>),
                outbox::lease_until.eq(None::<i64>),
                outbox::sent_at.eq((status == "sent").then_some(now)),
            ))
            .execute(self)?;
            Ok(n == 1)
        }

        fn release_mail(&mut self, worker: &str) -> QueryResult<usize> {
            diesel::update(
                outbox::table
                    .filter(outbox::claimed_by.eq(worker))
                    .filter(outbox::status.eq("queued")),
            )
            .set((
                outbox::claimed_by.eq(None::<String>),
                outbox::lease_until.eq(None::<i64>),
            ))
            .execute(self)
        }

        fn use_nonce(&mut self, nonce: &str, now: i64) -> QueryResult<bool> {
            let n = diesel::insert_into(used_tokens::table)
                .values((used_tokens::nonce.eq(nonce), used_tokens::used_at.eq(now)))
                .on_conflict_do_nothing()
                .execute(self)?;
            Ok(n == 1)
        }

        fn outbox_page(
            &mut self,
            status: Option<&str>,
            before: Option<i64>,
            n: i64,
        ) -> QueryResult<Vec<OutboxRow>> {
            let mut q = outbox::table
                .select(OutboxRow::as_select())
                .order(outbox::id.desc())
                .limit(n)
                .into_boxed();
            if let Some(s) = status {
                q = q.filter(outbox::status.eq(s));
            }
            if let Some(b) = before {
                q = q.filter(outbox::id.lt(b));
            }
            q.load(self)
        }

        fn outbox_row(&mut self, id: i64) -> QueryResult<Option<OutboxRow>> {
            outbox::table
                .find(id)
                .select(OutboxRow::as_select())
                .first(self)
                .optional()
        }

        fn retry_mail(&mut self, id: i64, now: i64) -> QueryResult<bool> {
            let n = diesel::update(
                outbox::table
                    .filter(outbox::id.eq(id))
                    .filter(outbox::status.eq_any(["failed", "queued"]))
                    .filter(outbox::claimed_by.is_null()),
            )
            .set((
                outbox::status.eq("queued"),
                outbox::next_attempt_at.eq(now),
                // A fresh 48 hours of retries from now.
                outbox::created_at.eq(now),
            ))
            .execute(self)?;
            Ok(n == 1)
        }

        fn drop_mail(&mut self, id: i64) -> QueryResult<bool> {
            let n = diesel::delete(
                outbox::table
                    .filter(outbox::id.eq(id))
                    .filter(outbox::claimed_by.is_null()),
            )
            .execute(self)?;
            Ok(n == 1)
        }

        fn prune_mail(&mut self, before: i64, tokens_before: i64) -> QueryResult<(usize, usize)> {
            let mail = diesel::delete(
                outbox::table
                    .filter(outbox::status.eq("sent"))
                    .filter(outbox::sent_at.lt(before)),
            )
            .execute(self)?;
            let tokens =
                diesel::delete(used_tokens::table.filter(used_tokens::used_at.lt(tokens_before)))
                    .execute(self)?;
            Ok((mail, tokens))
        }

        fn nonce_used(&mut self, nonce: &str) -> QueryResult<bool> {
            diesel::select(diesel::dsl::exists(
                used_tokens::table.filter(used_tokens::nonce.eq(nonce)),
            ))
            .get_result(self)
        }
    };
}

impl MailStore for SqliteConnection {
    // One process per SQLite file: a plain claim is enough.
    mail_store_fns!(
        "UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE id IN (SELECT id FROM outbox \
         WHERE status = 'queued' AND next_attempt_at <= ? AND (lease_until IS NULL OR \
         lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?) \
         RETURNING id, created_at, kind, sender, recipient, message, attempts"
    );
}

impl MailStore for PgConnection {
    // Instances claiming at once skip each other's rows instead of waiting, and never
    // claim the same row.
    mail_store_fns!(
        "UPDATE outbox SET claimed_by = $1, lease_until = $2 WHERE id IN (SELECT id FROM outbox \
         WHERE status = 'queued' AND next_attempt_at <= $3 AND (lease_until IS NULL OR \
         lease_until < $4) ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) \
         RETURNING id, created_at, kind, sender, recipient, message, attempts"
    );
}
