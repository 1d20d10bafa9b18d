//! Replies from elsewhere: the background worker that polls linked Mastodon statuses and
//! Bluesky posts for their public replies (and, see `webmention`, verifies webmentions).
//!
//! Like the mail worker it runs on a thread of its own and claims its work with a lease
//! (`claimed_by`, `lease_until`), so several instances on one database never poll one post
//! at once, and a post whose poller died comes back when its lease runs out. Fetching goes
//! through the one guarded client (`crate::outbound`); what a poll found is stored through
//! the writer, like every comment, so the caches of every instance follow. A slow or dead
//! instance only ever holds this thread: posting comments never waits for it.

pub mod accounts;
pub mod bluesky;
pub mod mastodon;
pub mod mf2;
pub mod richtext;
pub mod webmention;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::cache::ThreadKey;
use crate::config::Settings;
use crate::db::federation::{PollOutcome, RemotePostRow};
use crate::db::{FederationStore, Pool, Store};
use crate::domain::{RemoteKind, SiteId};
use crate::email::worker::Stop;
use crate::outbound::{Outbound, OutboundError};
use crate::security::ServerKey;
use crate::service::federation::{self as service, Fetched};
use crate::{on_conn, with_conn};

/// How often the worker looks for due work when it found none.
const TICK: Duration = Duration::from_secs(1);
/// A claim outlives any fetch: the client's timeout for each of a few requests.
const LEASE_FETCHES: u32 = 16;
/// Polls of an old post, or failed ones, wait at most this long.
const AT_MOST: Duration = Duration::from_secs(24 * 3600);

/// Why a poll failed: said in the admin view, retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Outbound(#[from] OutboundError),
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered what is not the expected JSON: {reason}")]
    Shape { url: String, reason: String },
}

/// GETs JSON through the guarded client: at most `cap` bytes, a 2xx status, parsed.
pub fn get_json<T: serde::de::DeserializeOwned>(
    out: &Outbound,
    url: &str,
    cap: usize,
) -> Result<(u16, Option<T>), FetchError> {
    let answer = out.get(
        url,
        "application/json",
        cap,
        crate::outbound::Overflow::Refuse,
    )?;
    if answer.status == 404 || answer.status == 410 {
        return Ok((answer.status, None));
    }
    if !(200..300).contains(&answer.status) {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: answer.status,
        });
    }
    let value = serde_json::from_slice(&answer.body).map_err(|e| FetchError::Shape {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((answer.status, Some(value)))
}

/// The wait before the next poll of a post linked `age` ago: the configured interval for
/// a day, then less and less often.
pub fn interval_for_age(base: Duration, age: Duration) -> Duration {
    const DAY: u64 = 86_400;
    let factor = match age.as_secs() {
        a if a < DAY => 1,
        a if a < 7 * DAY => 4,
        a if a < 30 * DAY => 12,
        _ => 48,
    };
    base.saturating_mul(factor).min(AT_MOST)
}

/// The wait after `failures` failed polls in a row: doubling from the interval.
pub fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1u32 << failures.min(16)).min(AT_MOST)
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `d` give or take a tenth, so that instances do not poll in step.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::thread_rng().gen_range(0.9..1.1))
}

/// What the worker is started with; its client is made on its own thread (the blocking
/// client may not be made, nor dropped, on an async runtime's thread).
pub struct PollerConfig {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub key: ServerKey,
    pub stop: Stop,
    /// The User-Agent of every request.
    pub agent: String,
}

impl PollerConfig {
    pub fn start(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        let name = format!("afterword-poll-{}", crate::security::new_token());
        std::thread::Builder::new()
            .name("afterword-federation".into())
            .spawn(move || {
                let outbound = Outbound::new(self.settings.outbound.clone(), &self.agent);
                Poller {
                    pool: self.pool,
                    outbound,
                    settings: self.settings,
                    key: self.key,
                    stop: self.stop,
                }
                .run(&name)
            })
    }
}

pub struct Poller {
    pub pool: Pool,
    pub outbound: Outbound,
    pub settings: Arc<Settings>,
    pub key: ServerKey,
    pub stop: Stop,
}

impl Poller {
    fn lease(&self) -> Duration {
        self.outbound.settings().timeout * LEASE_FETCHES
    }

    fn run(self, me: &str) {
        // The writer is asked from this thread through a runtime of its own.
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "federation: cannot start; no replies from elsewhere");
                return;
            }
        };
        let mut scanned: Option<Instant> = None;
        while !self.stop.stopped() {
            let mut busy = false;
            let every = self.settings.federation.poll_interval;
            if scanned.is_none_or(|at| at.elapsed() >= every) {
                accounts::scan(&self, &runtime);
                scanned = Some(Instant::now());
            }
            match self.claim_post(me) {
                Ok(Some(post)) => {
                    self.poll(&runtime, me, post);
                    busy = true;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "federation: cannot read linked posts"),
            }
            match webmention::round(&self, &runtime, me) {
                Ok(true) => busy = true,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "webmentions: cannot verify"),
            }
            if !busy {
                self.sleep(TICK);
            }
        }
    }

    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stop.stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }

    fn claim_post(&self, me: &str) -> anyhow::Result<Option<RemotePostRow>> {
        let now = crate::view::now_micros();
        let until = now + micros(self.lease());
        let mut conn = self.pool.get()?;
        Ok(with_conn!(conn, |c| c.claim_remote_post(me, now, until))?)
    }

    fn poll(&self, runtime: &tokio::runtime::Runtime, me: &str, post: RemotePostRow) {
        let started = crate::view::now_micros();
        let fetched = match RemoteKind::parse(&post.kind) {
            Some(RemoteKind::Mastodon) => mastodon::fetch(self, &post),
            Some(RemoteKind::Bluesky) => bluesky::fetch(self, &post),
            None => Err(FetchError::Shape {
                url: post.url.clone(),
                reason: format!("unknown kind {}", post.kind),
            }),
        };
        let result = fetched
            .map_err(|e| e.to_string())
            .and_then(|f| self.store(runtime, me, &post, f));
        if let Err(reason) = result {
            let failures = post.failures.saturating_add(1);
            let wait = jitter(backoff(
                self.settings.federation.poll_interval,
                u32::try_from(failures).unwrap_or(u32::MAX),
            ));
            tracing::info!(
                thread = post.thread_id,
                url = %post.url,
                failures,
                error = %reason,
                "federation: poll failed; retrying later"
            );
            let outcome = PollOutcome {
                remote_id: &post.remote_id,
                next_poll_at: started + micros(wait),
                polled_at: post.polled_at,
                failures,
                last_error: Some(&reason),
                likes: post.likes,
                reposts: post.reposts,
                claimed_by: None,
                lease_until: None,
            };
            let recorded = self
                .pool
                .get()
                .map_err(anyhow::Error::from)
                .and_then(|mut conn| {
                    Ok(with_conn!(conn, |c| c.finish_poll(
                        post.thread_id,
                        me,
                        &outcome
                    ))?)
                });
            if let Err(e) = recorded {
                tracing::warn!(error = %e, "federation: cannot record a failed poll");
            }
        }
    }

    /// Stores what a poll found, through the writer.
    fn store(
        &self,
        runtime: &tokio::runtime::Runtime,
        me: &str,
        post: &RemotePostRow,
        fetched: Fetched,
    ) -> Result<(), String> {
        let thread = {
            let mut conn = self.pool.get().map_err(|e| e.to_string())?;
            with_conn!(conn, |c| c.thread_by_id(post.thread_id)).map_err(|e| e.to_string())?
        };
        let site = SiteId::parse(&thread.site)
            .ok()
            .and_then(|id| self.settings.site(&id))
            .cloned()
            .ok_or_else(|| format!("the site {} is no longer configured", thread.site))?;
        let now = crate::view::now_micros();
        // The announcement's age when it says (a post linked late is old already).
        let born = fetched
            .posted_at
            .unwrap_or(post.linked_at)
            .min(post.linked_at);
        let age = Duration::from_micros(u64::try_from(now - born).unwrap_or(0));
        let next = now
            + micros(jitter(interval_for_age(
                self.settings.federation.poll_interval,
                age,
            )));
        let key = self.key.clone();
        let me = me.to_owned();
        let post = post.clone();
        let thread_key = ThreadKey {
            site: thread.site.clone(),
            slug: thread.slug.clone(),
        };
        let applied = runtime
            .block_on(self.pool.write(thread_key, move |conn| {
                on_conn!(conn, |c| service::apply_poll(
                    c, &site, &key, &me, &post, &fetched, next, now
                ))
            }))
            .map_err(|e| format!("cannot store the replies: {e}"))?;
        if applied != service::Applied::default() {
            tracing::info!(
                thread = thread.id,
                added = applied.added,
                held = applied.held,
                edited = applied.edited,
                deleted = applied.deleted,
                "federation: replies from elsewhere"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_thin_out_as_a_post_ages_and_back_off_when_they_fail() {
        let base = Duration::from_secs(300);
        let day = Duration::from_secs(86_400);
        let at = |age: Duration| interval_for_age(base, age).as_secs();
        assert_eq!(at(Duration::ZERO), 300);
        assert_eq!(at(day / 2), 300);
        assert_eq!(at(day * 2), 1200);
        assert_eq!(at(day * 10), 3600);
        assert_eq!(at(day * 365), 14_400);
        assert_eq!(
            interval_for_age(Duration::from_secs(3600), day * 365),
            AT_MOST
        );
        let waits: Vec<u64> = (1..=4).map(|f| backoff(base, f).as_secs()).collect();
        assert_eq!(waits, vec![600, 1200, 2400, 4800]);
        assert_eq!(backoff(base, 40), AT_MOST);
    }
}
