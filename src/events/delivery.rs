//! One worker per webhook endpoint: claims that endpoint's due deliveries one at a time
//! (a lease, as the mail outbox's), posts each signed, and records the answer.
//!
//! The lease outlasts any attempt (twice the outbound timeout, plus a margin), so no other
//! instance sends a delivery while one is sending it; once the receiver has answered 2xx,
//! recording it comes first and is retried until it sticks. Other answers and failures
//! are retried after `retry_after`, doubling up to [`MAX_WAIT`], until the delivery is 48
//! hours old; `410 Gone` and a URL the guarded client refuses fail at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Settings, WebhookSettings};
use crate::db::events::ClaimedDelivery;
use crate::db::{EventStore, Pool};
use crate::email::worker::Stop;
use crate::outbound::{Outbound, OutboundError};
use crate::with_conn;

/// How often a worker looks for due deliveries.
const POLL: Duration = Duration::from_millis(200);
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

    /// Twice the longest attempt, and a margin.
    fn lease(&self) -> Duration {
        self.outbound.settings().timeout.saturating_mul(2) + Duration::from_secs(5)
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
        while !self.stop.stopped() {
            match self.round(name) {
                Ok(true) => {}
                Ok(false) => self.sleep(POLL),
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

    /// Claims one due delivery, sends it and records the outcome; false if none was due.
    fn round(&self, name: &str) -> anyhow::Result<bool> {
        let now = crate::view::now_micros();
        let lease = micros(self.lease());
        let row = {
            let mut conn = self.pool.get()?;
            with_conn!(conn, |c| c.claim_delivery(
                &self.endpoint,
                name,
                now,
                now + lease
            ))?
        };
        let Some(row) = row else {
            return Ok(false);
        };
        let (outcome, retry_after) = match self.hook(&row.site) {
            Some(hook) => (send(&self.outbound, hook, &row), hook.retry_after),
            None => (
                Outcome::Failed(
                    "this endpoint is no longer configured for this site; not sent".into(),
                ),
                Duration::ZERO,
            ),
        };
        self.record(name, &row, outcome, retry_after);
        Ok(true)
    }

    /// Records the outcome, retried until it sticks (a delivered message must not be sent
    /// again), for at most a while once stopping.
    fn record(&self, name: &str, row: &ClaimedDelivery, outcome: Outcome, retry_after: Duration) {
        let now = crate::view::now_micros();
        let attempts = row.attempts + 1;
        let (status, next_at, answer) = match outcome {
            Outcome::Delivered(a) => {
                tracing::info!(id = row.id, kind = %row.kind, endpoint = %row.endpoint, attempts, "webhook delivered");
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
        let mut wait = Duration::from_millis(100);
        let started = Instant::now();
        loop {
            let done = self
                .pool
                .get()
                .map_err(anyhow::Error::from)
                .and_then(|mut conn| {
                    Ok(with_conn!(conn, |c| c.finish_delivery(
                        row.id, name, status, next_at, &answer, now
                    ))?)
                });
            match done {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(
                        id = row.id,
                        "webhooks: the claim on this delivery ran out while sending"
                    );
                    return;
                }
                Err(e) => {
                    if started.elapsed() > self.lease() {
                        tracing::error!(id = row.id, error = %format!("{e:#}"), "webhooks: cannot record this delivery's outcome; it may be sent again");
                        return;
                    }
                    tracing::warn!(id = row.id, error = %format!("{e:#}"), "webhooks: cannot record this delivery's outcome yet; retrying");
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
