//! The event stream and the webhook deliveries made from it (see `crate::events`).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::{PgConnection, SqliteConnection};

use super::schema::{events, webhook_deliveries};

#[derive(Debug, Insertable)]
#[diesel(table_name = events)]
pub struct NewEvent<'a> {
    pub at: i64,
    pub kind: &'a str,
    pub site: &'a str,
    pub thread_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub detail: &'a str,
}

/// An event to dispatch.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub site: String,
    pub thread_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub detail: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery<'a> {
    pub event_id: Option<i64>,
    pub message_id: &'a str,
    pub site: &'a str,
    pub endpoint: &'a str,
    pub kind: &'a str,
    pub format: &'a str,
    pub body: &'a str,
    pub created_at: i64,
    pub next_attempt_at: i64,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = webhook_deliveries)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub message_id: String,
    pub site: String,
    pub endpoint: String,
    pub kind: String,
    pub format: String,
    pub body: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// A delivery as the admin page lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: Option<i64>,
    pub message_id: String,
    pub site: String,
    pub endpoint: String,
    pub kind: String,
    pub format: String,
    pub status: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub last_answer: Option<String>,
    pub claimed_by: Option<String>,
    pub delivered_at: Option<i64>,
}

pub trait EventStore: Sized {
    fn insert_event(&mut self, e: &NewEvent<'_>) -> QueryResult<()>;
    /// Up to `n` events not dispatched yet, oldest first (read only: see `take_events`).
    fn pending_events(&mut self, n: i64) -> QueryResult<Vec<EventRow>>;
    /// Marks the events `ids` dispatched at `now`, in one statement, and returns those it
    /// marked: not those already dispatched (another instance took them). Run it in the
    /// transaction that handles them: a rollback hands them back.
    fn take_events(&mut self, ids: &[i64], now: i64) -> QueryResult<Vec<i64>>;
    /// Queues a delivery; false if this event already has one for this endpoint.
    fn insert_delivery(&mut self, d: &NewDelivery<'_>) -> QueryResult<bool>;
    /// Claims the `n` earliest due deliveries to `endpoint` for `worker` until
    /// `lease_until`, earliest first.
    fn claim_deliveries(
        &mut self,
        endpoint: &str,
        worker: &str,
        now: i64,
        lease_until: i64,
        n: i64,
    ) -> QueryResult<Vec<ClaimedDelivery>>;
    /// Records an attempt on deliveries this worker holds, with one outcome: `status`
    /// `delivered`, `queued` (again at `next_at`) or `failed`, and the receiver's answer.
    /// Returns how many it recorded: fewer than `ids` if claims were lost meanwhile.
    fn finish_deliveries(
        &mut self,
        ids: &[i64],
        worker: &str,
        status: &str,
        next_at: i64,
        answer: &str,
        now: i64,
    ) -> QueryResult<usize>;
    /// Gives back what `worker` claimed and has not sent (it is stopping, or stopped a
    /// batch early).
    fn release_deliveries(&mut self, worker: &str) -> QueryResult<usize>;
    /// Newest first, optionally of one status, below the id `before`.
    fn deliveries_page(
        &mut self,
        status: Option<&str>,
        before: Option<i64>,
        n: i64,
    ) -> QueryResult<Vec<DeliveryRow>>;
    fn delivery_row(&mut self, id: i64) -> QueryResult<Option<DeliveryRow>>;
    /// Queues a failed or waiting delivery again, due now. False unless it was failed or
    /// queued and not being sent.
    fn retry_delivery(&mut self, id: i64, now: i64) -> QueryResult<bool>;
    /// Deletes a delivery not being sent right now. False if there was none.
    fn drop_delivery(&mut self, id: i64) -> QueryResult<bool>;
    /// Forgets what events said about a comment whose text is gone for good (erased, or
    /// deleted by its author): its events and their deliveries, sent or not.
    fn forget_comment_events(&mut self, comment_id: i64) -> QueryResult<usize>;
    /// Deletes dispatched events and delivered deliveries older than `before`.
    fn prune_events(&mut self, before: i64) -> QueryResult<(usize, usize)>;
}

macro_rules! event_store_fns {
    ($take:expr, $claim:expr) => {
        fn insert_event(&mut self, e: &NewEvent<'_>) -> QueryResult<()> {
            diesel::insert_into(events::table)
                .values(e)
                .execute(self)
                .map(|_| ())
        }

        fn pending_events(&mut self, n: i64) -> QueryResult<Vec<EventRow>> {
            diesel::sql_query($take).bind::<BigInt, _>(n).load(self)
        }

        fn take_events(&mut self, ids: &[i64], now: i64) -> QueryResult<Vec<i64>> {
            diesel::update(
                events::table
                    .filter(events::id.eq_any(ids))
                    .filter(events::dispatched_at.is_null()),
            )
            .set(events::dispatched_at.eq(now))
            .returning(events::id)
            .get_results(self)
        }

        fn insert_delivery(&mut self, d: &NewDelivery<'_>) -> QueryResult<bool> {
            let n = diesel::insert_into(webhook_deliveries::table)
                .values(d)
                .on_conflict_do_nothing()
                .execute(self)?;
            Ok(n == 1)
        }

        fn claim_deliveries(
            &mut self,
            endpoint: &str,
            worker: &str,
            now: i64,
            lease_until: i64,
            n: i64,
        ) -> QueryResult<Vec<ClaimedDelivery>> {
            let mut rows: Vec<ClaimedDelivery> = diesel::sql_query($claim)
                .bind::<Text, _>(worker)
                .bind::<BigInt, _>(lease_until)
                .bind::<Text, _>(endpoint)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(n)
                .load(self)?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        }

        fn finish_deliveries(
            &mut self,
            ids: &[i64],
            worker: &str,
            status: &str,
            next_at: i64,
            answer: &str,
            now: i64,
        ) -> QueryResult<usize> {
            use webhook_deliveries as d;
            diesel::update(
                d::table
                    .filter(d::id.eq_any(ids))
                    .filter(d::claimed_by.eq(worker)),
            )
            .set((
                d::status.eq(status),
                d::attempts.eq(d::attempts + 1),
                d::next_attempt_at.eq(next_at),
                d::last_answer.eq(answer),
                d::claimed_by.eq(None::<String>),
                d::lease_until.eq(None::<i64>),
                d::delivered_at.eq((status == "delivered").then_some(now)),
            ))
            .execute(self)
        }

        fn release_deliveries(&mut self, worker: &str) -> QueryResult<usize> {
            use webhook_deliveries as d;
            diesel::update(
                d::table
                    .filter(d::claimed_by.eq(worker))
                    .filter(d::status.eq("queued")),
            )
            .set((
                d::claimed_by.eq(None::<String>),
                d::lease_until.eq(None::<i64>),
            ))
            .execute(self)
        }

        fn deliveries_page(
            &mut self,
            status: Option<&str>,
            before: Option<i64>,
            n: i64,
        ) -> QueryResult<Vec<DeliveryRow>> {
            use webhook_deliveries as d;
            let mut q = d::table
                .select(DeliveryRow::as_select())
                .order(d::id.desc())
                .limit(n)
                .into_boxed();
            if let Some(s) = status {
                q = q.filter(d::status.eq(s));
            }
            if let Some(b) = before {
                q = q.filter(d::id.lt(b));
            }
            q.load(self)
        }

        fn delivery_row(&mut self, id: i64) -> QueryResult<Option<DeliveryRow>> {
            webhook_deliveries::table
                .find(id)
                .select(DeliveryRow::as_select())
                .first(self)
                .optional()
        }

        fn retry_delivery(&mut self, id: i64, now: i64) -> QueryResult<bool> {
            use webhook_deliveries as d;
            let n = diesel::update(
                d::table
                    .filter(d::id.eq(id))
                    .filter(d::status.eq_any(["failed", "queued"]))
                    .filter(d::claimed_by.is_null()),
            )
            .set((
                d::status.eq("queued"),
                d::next_attempt_at.eq(now),
                // A fresh 48 hours of retries from now.
                d::created_at.eq(now),
            ))
            .execute(self)?;
            Ok(n == 1)
        }

        fn drop_delivery(&mut self, id: i64) -> QueryResult<bool> {
            use webhook_deliveries as d;
            let n = diesel::delete(
                d::table
                    .filter(d::id.eq(id))
                    .filter(d::claimed_by.is_null()),
            )
            .execute(self)?;
            Ok(n == 1)
        }

        fn forget_comment_events(&mut self, comment_id: i64) -> QueryResult<usize> {
            use webhook_deliveries as d;
            let ids = events::table
                .filter(events::comment_id.eq(comment_id))
                .select(events::id);
            let n = diesel::delete(d::table.filter(d::event_id.eq_any(ids.nullable())))
                .execute(self)?;
            let e = diesel::delete(events::table.filter(events::comment_id.eq(comment_id)))
                .execute(self)?;
            Ok(n + e)
        }

        fn prune_events(&mut self, before: i64) -> QueryResult<(usize, usize)> {
            use webhook_deliveries as d;
            let e = diesel::delete(
                events::table
                    .filter(events::dispatched_at.is_not_null())
                    .filter(events::at.lt(before)),
            )
            .execute(self)?;
            let n = diesel::delete(
                d::table
                    .filter(d::status.eq("delivered"))
                    .filter(d::delivered_at.lt(before)),
            )
            .execute(self)?;
            Ok((e, n))
        }
    };
}

impl EventStore for SqliteConnection {
    // One process per SQLite file, one dispatcher and one worker per endpoint in it.
    event_store_fns!(
        "SELECT id, at, kind, site, thread_id, comment_id, detail FROM events \
         WHERE dispatched_at IS NULL ORDER BY id LIMIT ?",
        "UPDATE webhook_deliveries SET claimed_by = ?, lease_until = ? WHERE id IN (SELECT id \
         FROM webhook_deliveries WHERE endpoint = ? AND status = 'queued' AND \
         next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) \
         ORDER BY next_attempt_at, id LIMIT ?) \
         RETURNING id, message_id, site, endpoint, kind, format, body, attempts, created_at"
    );
}

impl EventStore for PgConnection {
    // Instances claiming deliveries at once skip each other's rows instead of waiting,
    // and never claim the same row; an event is taken by a conditional update, once.
    event_store_fns!(
        "SELECT id, at, kind, site, thread_id, comment_id, detail FROM events \
         WHERE dispatched_at IS NULL ORDER BY id LIMIT $1",
        "UPDATE webhook_deliveries SET claimed_by = $1, lease_until = $2 WHERE id IN (SELECT id \
         FROM webhook_deliveries WHERE endpoint = $3 AND status = 'queued' AND \
         next_attempt_at <= $4 AND (lease_until IS NULL OR lease_until < $5) \
         ORDER BY next_attempt_at, id LIMIT $6 FOR UPDATE SKIP LOCKED) \
         RETURNING id, message_id, site, endpoint, kind, format, body, attempts, created_at"
    );
}
