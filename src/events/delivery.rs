//! One worker per webhook endpoint: claims that endpoint's due deliveries one at a time
//! (a lease, as the mail outbox's), posts each signed, and records the answer.
//!
//! While the endpoint answers, a worker claims up to [`BATCH`] deliveries at once and
//! records them in one transaction (few writes per delivery: comments keep the database);
//! after a failure, one at a time. The lease outlasts the attempts it covers (each at most
//! the outbound timeout, plus a margin), so no other instance sends a delivery while one
//! is sending it; once receivers have answered 2xx, recording it is retried until it
//! sticks. Other answers and failures
//! are retried after `retry_after`, doubling up to [`MAX_WAIT`], until the delivery is 48
//! hours old; `410 Gone` and a URL the guarded client refuses fail at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Settings, WebhookSettings};
use crate::db::events::ClaimedDelivery;
use crate::db::{EventStore, Pool};
use crate::email::worker::Stop;
use crate::outbound::{Outbound, OutboundError};
use crate::{on_conn, with_conn};

/// How often a worker looks for due deliveries.
const POLL: Duration = Duration::from_millis(200);
/// The most deliveries a worker claims at once (while its endpoint answers).
const BATCH: usize = 20;
/// The longest wait between two attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(2 * 3600);
/// Deliveries are retried this long after they were queued, then marked failed.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(48 * 3600);
/// The most of a receiver's answer read (and kept to show on the admin page).
pub const ANSWER_BYTES: usize = 2048;
/// What the admin page shows of it.
const ANSWER_SHOWN: usize = 300;

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The wait before attempt `attempts + 1`: `first`, doubled each time, at most [`MAX_WAIT`].
pub fn backoff(first: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    first
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_WAIT)
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(String),
    Retry(String),
    Failed(String),
}

/// Posts one delivery now, signed for this attempt.
pub fn send(outbound: &Outbound, hook: &WebhookSettings, row: &ClaimedDelivery) -> Outcome {
    let body = row.body.as_bytes();
    let timestamp = crate::view::now_micros() / 1_000_000;
    let headers = super::sign::headers(
        hook.secret.as_ref().map(|s| s.0.as_slice()),
        &row.message_id,
        timestamp,
        body,
    );
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let target = super::format::target(&row.format, &row.endpoint);
    match outbound.post(&target, &refs, body.to_vec(), ANSWER_BYTES) {
        Ok(a) => {
            let text = super::format::excerpt(&String::from_utf8_lossy(&a.body), ANSWER_SHOWN);
            let answer = if text.is_empty() {
                format!("HTTP {}", a.status)
            } else {
                format!("HTTP {}: {text}", a.status)
            };
            match a.status {
                200..=299 => Outcome::Delivered(answer),
                410 => Outcome::Failed(format!("{answer} (the receiver is gone; not retrying)")),
                _ => Outcome::Retry(answer),
            }
        }
        Err(e @ (OutboundError::BadUrl(_) | OutboundError::PrivateAddress(_))) => {
            Outcome::Failed(e.to_string())
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

/// What an attempt makes of a delivery: its status, when it is next due, the answer kept.
fn settle(
    row: &ClaimedDelivery,
    outcome: Outcome,
    retry_after: Duration,
) -> (i64, &'static str, i64, String) {
    let now = crate::view::now_micros();
    let attempts = row.attempts + 1;
    let (status, next_at, answer) = match outcome {
        Outcome::Delivered(a) => {
            tracing::debug!(id = row.id, kind = %row.kind, endpoint = %row.endpoint, attempts, "webhook delivered");
            ("delivered", now, a)
        }
        Outcome::Failed(a) => {
            tracing::warn!(id = row.id, kind = %row.kind, endpoint = %row.endpoint, attempts, answer = %a, "webhook refused for good; not retrying");
            ("failed", now, a)
        }
        Outcome::Retry(a) if now - row.created_at > micros(GIVE_UP_AFTER) => {
            tracing::warn!(id = row.id, kind = %row.kind, endpoint = %row.endpoint, attempts, answer = %a, "webhook still not delivered after 48 hours; giving up");
            (
                "failed",
                now,
                format!("gave up after {attempts} attempts: {a}"),
            )
        }
        Outcome::Retry(a) => {
            let wait = backoff(retry_after, attempts);
            tracing::warn!(id = row.id, kind = %row.kind, endpoint = %row.endpoint, attempts, answer = %a, retry_in = %humantime::format_duration(wait), "webhook not delivered; will retry");
            ("queued", now + micros(wait), a)
        }
    };
    (row.id, status, next_at, answer)
}

/// Records each outcome of `worker`'s attempts and gives back what it claimed but did
/// not try. Returns how many claims had run out meanwhile.
///
/// Attempts with the same outcome (a batch delivered, each answered `HTTP 204`, say) are
/// recorded by one statement: the writer's batches, which the comments share, stay short.
fn finish_all<C: EventStore>(
    c: &mut C,
    worker: &str,
    done: &[(i64, &'static str, i64, String)],
) -> Result<usize, crate::error::ApiError> {
    let now = crate::view::now_micros();
    // What one statement records: the status, the time of the next attempt (only a
    // delivery queued again has one of its own) and the answer.
    fn outcome<'a>(
        (_, status, next_at, answer): &'a (i64, &'static str, i64, String),
        now: i64,
    ) -> (&'static str, i64, &'a str) {
        let next_at = if *status == "queued" { *next_at } else { now };
        (*status, next_at, answer.as_str())
    }
    let mut recorded = 0;
    let mut left: Vec<&(i64, &'static str, i64, String)> = done.iter().collect();
    while let Some(first) = left.first() {
        let (status, next_at, answer) = outcome(first, now);
        let (same, rest): (Vec<_>, Vec<_>) = left
            .into_iter()
            .partition(|d| outcome(d, now) == (status, next_at, answer));
        let ids: Vec<i64> = same.iter().map(|d| d.0).collect();
        recorded += c.finish_deliveries(&ids, worker, status, next_at, answer, now)?;
        left = rest;
    }
    c.release_deliveries(worker)?;
    Ok(done.len() - recorded)
}

pub struct EndpointWorker {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub outbound: Outbound,
    pub endpoint: String,
    pub stop: Stop,
}

impl EndpointWorker {
    pub fn start(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("afterword-hook".into())
            .spawn(move || {
                let name = format!("afterword-hook-{}", crate::security::new_token());
                self.run(&name)
            })
    }

    /// How long a claim on `n` deliveries holds: each attempt at most the outbound
    /// timeout, one after the other, and a margin.
    fn lease(&self, n: usize) -> Duration {
        let n = u32::try_from(n).unwrap_or(BATCH as u32);
        self.outbound.settings().timeout.saturating_mul(n) + Duration::from_secs(5)
    }

    fn hook(&self, site: &str) -> Option<&WebhookSettings> {
        self.settings
            .sites
            .get(site)?
            .webhooks
            .iter()
            .find(|w| w.url == self.endpoint)
    }

    fn run(self, name: &str) {
        super::background_priority();
        let rt = match super::runtime() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot start a delivery worker");
                return;
            }
        };
        // One at a time while the endpoint fails, a batch while it answers.
        let mut batch = BATCH;
        while !self.stop.stopped() {
            match self.round(&rt, name, batch) {
                Ok(Some((all_delivered, claimed))) => {
                    // A full batch means more wait: go on at once. Otherwise let some
                    // gather (fewer, larger transactions beside the comments' writes).
                    if claimed < batch {
                        self.sleep(POLL);
                    }
                    batch = if all_delivered { BATCH } else { 1 };
                }
                Ok(None) => self.sleep(POLL),
                Err(e) => {
                    tracing::warn!(endpoint = %self.endpoint, error = %format!("{e:#}"), "webhooks: cannot read the deliveries; trying again");
                    self.sleep(POLL * 10);
                }
            }
        }
        let released = self
            .pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| Ok(with_conn!(conn, |c| c.release_deliveries(name))?));
        if let Err(e) = released {
            tracing::warn!(error = %format!("{e:#}"), "webhooks: could not give back claimed deliveries");
        }
    }

    /// Claims up to `batch` due deliveries and sends them one after the other, stopping
    /// at the first that is not delivered (the rest go back at once); records every
    /// outcome in one transaction. `None` if none was due; else whether all were delivered,
    /// and how many were claimed.
    fn round(
        &self,
        rt: &tokio::runtime::Runtime,
        name: &str,
        batch: usize,
    ) -> anyhow::Result<Option<(bool, usize)>> {
        let lease = micros(self.lease(batch));
        let (endpoint, worker) = (self.endpoint.clone(), name.to_owned());
        let rows = super::write(rt, &self.pool, move |conn| {
            let now = crate::view::now_micros();
            Ok(on_conn!(conn, |c| c.claim_deliveries(
                &endpoint,
                &worker,
                now,
                now + lease,
                batch as i64
            ))?)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut done: Vec<(i64, &'static str, i64, String)> = Vec::with_capacity(rows.len());
        let mut all_delivered = true;
        for row in &rows {
            if self.stop.stopped() {
                break;
            }
            let (outcome, retry_after) = match self.hook(&row.site) {
                Some(hook) => (send(&self.outbound, hook, row), hook.retry_after),
                None => (
                    Outcome::Failed(
                        "this endpoint is no longer configured for this site; not sent".into(),
                    ),
                    Duration::ZERO,
                ),
            };
            let delivered = matches!(outcome, Outcome::Delivered(_));
            done.push(settle(row, outcome, retry_after));
            if !delivered {
                all_delivered = false;
                break;
            }
        }
        self.record(rt, name, done, batch);
        Ok(Some((all_delivered, rows.len())))
    }

    /// Records the outcomes and gives back what was claimed but not tried, in one
    /// transaction, retried until it sticks (a delivered message must not be sent again)
    /// for as long as the claim holds. Once the writer is closed (the server is stopping),
    /// on a connection of its own.
    fn record(
        &self,
        rt: &tokio::runtime::Runtime,
        name: &str,
        done: Vec<(i64, &'static str, i64, String)>,
        batch: usize,
    ) {
        let done = Arc::new(done);
        let mut wait = Duration::from_millis(100);
        let started = Instant::now();
        loop {
            let written = if self.stop.stopped() {
                self.pool
                    .get()
                    .map_err(anyhow::Error::from)
                    .and_then(|mut conn| {
                        with_conn!(conn, |c| diesel::Connection::transaction(c, |c| {
                            finish_all(c, name, &done)
                        }))
                        .map_err(|e| anyhow::anyhow!("{e:?}"))
                    })
            } else {
                let (done, worker) = (Arc::clone(&done), name.to_owned());
                super::write(rt, &self.pool, move |conn| {
                    on_conn!(conn, |c| finish_all(c, &worker, &done))
                })
                .map_err(|e| anyhow::anyhow!("{e:?}"))
            };
            match written {
                Ok(0) => return,
                Ok(lost) => {
                    tracing::warn!(
                        lost,
                        endpoint = %self.endpoint,
                        "webhooks: the claim on deliveries ran out while sending them"
                    );
                    return;
                }
                Err(e) => {
                    if started.elapsed() > self.lease(batch) {
                        tracing::error!(endpoint = %self.endpoint, error = %format!("{e:#}"), "webhooks: cannot record what was delivered; it may be sent again");
                        return;
                    }
                    tracing::warn!(endpoint = %self.endpoint, error = %format!("{e:#}"), "webhooks: cannot record what was delivered yet; retrying");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stop.stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50).min(d));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_two_hours() {
        let s = Duration::from_secs(30);
        assert_eq!(backoff(s, 1), s);
        assert_eq!(backoff(s, 2), s * 2);
        assert_eq!(backoff(s, 4), s * 8);
        assert_eq!(backoff(s, 100), MAX_WAIT);
    }
}
