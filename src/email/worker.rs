//! The outbox worker: claims due messages, sends them, records what the SMTP server said.
//!
//! It works on the read pool with short transactions of its own, not through the request
//! writer: a send takes up to the SMTP timeout, and its bookkeeping must never make a
//! comment wait behind it. Each statement is one short write (on SQLite it waits at most
//! `busy_timeout` for the writer's batch, which lasts milliseconds).
//!
//! A claim is a lease (`claimed_by`, `lease_until`) on one message at a time: several
//! instances on one PostgreSQL claim disjoint rows (`FOR UPDATE SKIP LOCKED`), and the row
//! of an instance that died mid-send comes back once its lease has run out. The lease is
//! renewed while the send runs, so it outlives any send, however slow. Once the SMTP
//! server has accepted a message, marking it sent comes before anything else and is
//! retried until it sticks; only a crash between the two can send it again.
//!
//! While messages wait for a retry (the SMTP server was down), the worker tries the
//! earliest of them ahead of its time, every `retry_after` or so (jittered, doubling up to
//! a minute); once one goes through, all of them are due at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rand::Rng;

use lettre::SmtpTransport;

use crate::db::outbox::MailRow;
use crate::db::{MailStore, Pool};
use crate::with_conn;

/// How often the worker looks for due mail.
const POLL: Duration = Duration::from_millis(500);
/// The longest wait between early tries while mail waits for a retry.
const PROBE_AT_MOST: Duration = Duration::from_secs(60);
/// How long a worker that is stopping keeps trying to record a message the SMTP server
/// accepted.
const MARK_WHILE_STOPPING: Duration = Duration::from_secs(10);
/// Retries go on this long after a message was queued, then it is marked failed.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(48 * 3600);

/// Stops the worker when dropped or told to.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Sent messages stay this long in the outbox view, then are pruned.
pub const KEEP_SENT: Duration = Duration::from_secs(7 * 86_400);
/// How often old sent mail and used link nonces are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub struct Worker {
    pub pool: Pool,
    pub transport: SmtpTransport,
    pub retry_after: Duration,
    /// The SMTP timeout, per step of a send: claims last a few of them.
    pub timeout: Duration,
    pub stop: Stop,
    /// Composes reply digests when they are due.
    pub mailer: Arc<super::Mailer>,
    pub settings: Arc<crate::config::Settings>,
    /// How long a reply digest collects replies.
    pub reply_delay: Duration,
}

use super::Outcome;

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `d` times a random factor from 0.5 to 1.5, so that instances do not act in step.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
}

impl Worker {
    /// Starts the worker's thread; it ends once `stop` is set and the message it holds is
    /// sent and recorded, or given back.
    pub fn start(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        let name = format!("afterword-mail-{}", crate::security::new_token());
        std::thread::Builder::new()
            .name("afterword-mail".into())
            .spawn(move || self.run(&name))
    }

    /// How long a claim holds before it must be renewed: two SMTP timeouts (no step of a
    /// send waits longer than one), renewed every third of it.
    fn lease(&self) -> Duration {
        self.timeout.saturating_mul(2).max(Duration::from_secs(3))
    }

    fn run(self, name: &str) {
        let mut pruned: Option<Instant> = None;
        // Early tries while mail waits for a retry: when the next is due, and how many
        // have failed in a row.
        let mut probe_at = Instant::now() + jitter(self.retry_after);
        let mut probes_failed = 0;
        while !self.stop.stopped() {
            if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                self.prune();
                pruned = Some(Instant::now());
            }
            if let Err(e) = self.flush_digests() {
                tracing::warn!(error = %e, "mail outbox: cannot turn reply digests into mail; trying again");
            }
            let now = crate::view::now_micros();
            match self.round(name, now) {
                Ok(Some(_)) => continue,
                Ok(None) if Instant::now() >= probe_at => {
                    let probe = self.round(name, i64::MAX);
                    if let Ok(Some(true)) = probe {
                        probes_failed = 0;
                        self.wake();
                    } else if let Ok(Some(false)) = probe {
                        probes_failed += 1;
                    }
                    let wait =
                        super::backoff(self.retry_after, probes_failed + 1).min(PROBE_AT_MOST);
                    probe_at = Instant::now() + jitter(wait);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "mail outbox: cannot read the queue; trying again");
                    std::thread::sleep(POLL * 4);
                    continue;
                }
            }
            self.sleep(POLL);
        }
        // What this instance claimed but did not send goes back at once, not when the
        // lease runs out.
        let released = self
            .pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| Ok(with_conn!(conn, |c| c.release_mail(name))?));
        if let Err(e) = released {
            tracing::warn!(error = %e, "mail outbox: could not give back claimed mail");
        }
    }

    /// Queues the reply digests that are due, each as one message (see `replies`).
    fn flush_digests(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        loop {
            let now = crate::view::now_micros();
            let n = with_conn!(conn, |c| diesel::Connection::transaction(c, |c| {
                super::replies::flush_digests(
                    c,
                    &self.mailer,
                    &self.settings,
                    micros(self.reply_delay),
                    now,
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if n == 0 || self.stop.stopped() {
                return Ok(());
            }
        }
    }

    /// Drops sent mail older than [`KEEP_SENT`] and the nonces of action links that have
    /// expired (a used nonce only matters while its link could still be presented).
    fn prune(&self) {
        let now = crate::view::now_micros();
        let sent_before = now - micros(KEEP_SENT);
        let tokens_before = now - (super::links::VALID_FOR_SECS + 86_400) * 1_000_000;
        let pruned = self
            .pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| {
                Ok(with_conn!(conn, |c| c.prune_mail(sent_before, tokens_before))?)
            });
        match pruned {
            Ok((0, 0)) => {}
            Ok((mail, tokens)) => {
                tracing::info!(
                    mail,
                    tokens,
                    "mail outbox: pruned old sent mail and used links"
                )
            }
            Err(e) => tracing::warn!(error = %e, "mail outbox: cannot prune"),
        }
    }

    /// Sleeps `d`, or less if the worker is told to stop.
    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stop.stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50).min(d));
        }
    }

    /// Makes the mail waiting for a retry due now: the SMTP server took a message again.
    fn wake(&self) {
        let now = crate::view::now_micros();
        let woken = self
            .pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| Ok(with_conn!(conn, |c| c.wake_mail(now))?));
        match woken {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                messages = n,
                "mail outbox: the SMTP server takes mail again; sending what waited"
            ),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "mail outbox: cannot wake waiting mail")
            }
        }
    }

    /// Claims one message due by `due_by`, sends it and records the outcome. `None` if
    /// there was none; else whether the SMTP server accepted it.
    fn round(&self, name: &str, due_by: i64) -> anyhow::Result<Option<bool>> {
        let now = crate::view::now_micros();
        let lease = micros(self.lease());
        let row = {
            let mut conn = self.pool.get()?;
            with_conn!(conn, |c| c.claim_mail(name, due_by, now, now + lease, 1))?
        };
        let Some(row) = row.into_iter().next() else {
            return Ok(None);
        };
        let outcome = self.send_holding(name, &row);
        let sent = matches!(outcome, Outcome::Sent(_));
        self.record(name, &row, outcome)?;
        Ok(Some(sent))
    }

    /// Sends on a thread of its own while this one renews the claim, so the claim outlives
    /// the send however long each SMTP step takes.
    fn send_holding(&self, name: &str, row: &MailRow) -> Outcome {
        let every = self.lease() / 3;
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel();
            s.spawn(move || {
                let _ = tx.send(self.send(row));
            });
            loop {
                match rx.recv_timeout(every) {
                    Ok(outcome) => return outcome,
                    Err(mpsc::RecvTimeoutError::Timeout) => self.renew(name, row),
                    // The send panicked: whether it reached the server is unknown.
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Outcome::Retry("the send failed unexpectedly".into())
                    }
                }
            }
        })
    }

    fn renew(&self, name: &str, row: &MailRow) {
        let until = crate::view::now_micros() + micros(self.lease());
        let renewed = self
            .pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| Ok(with_conn!(conn, |c| c.renew_mail(row.id, name, until))?));
        match renewed {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                id = row.id,
                "mail outbox: lost the claim on a message while sending it"
            ),
            Err(e) => {
                tracing::warn!(id = row.id, error = %format!("{e:#}"), "mail outbox: cannot renew the claim on a message being sent")
            }
        }
    }

    fn send(&self, row: &MailRow) -> Outcome {
        super::send_raw(
            &self.transport,
            &row.sender,
            &row.recipient,
            row.message.as_bytes(),
        )
    }

    /// Records that the SMTP server accepted the message, first of all and until it
    /// sticks: the claim is kept meanwhile, so no other worker sends it again.
    fn record_sent(&self, name: &str, row: &MailRow, answer: &str) {
        let mut stopping_since: Option<Instant> = None;
        let mut wait = Duration::from_millis(100);
        loop {
            let now = crate::view::now_micros();
            let marked = self
                .pool
                .get()
                .map_err(anyhow::Error::from)
                .and_then(|mut conn| Ok(with_conn!(conn, |c| c.mark_sent(row.id, answer, now))?));
            let Err(e) = marked else { return };
            if self.stop.stopped() {
                let since = *stopping_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= MARK_WHILE_STOPPING {
                    tracing::error!(id = row.id, error = %format!("{e:#}"), "mail outbox: stopping without having recorded that this message was sent; it may be sent again");
                    return;
                }
            }
            tracing::warn!(id = row.id, error = %format!("{e:#}"), "mail outbox: the SMTP server accepted this message but it cannot be marked sent yet; retrying");
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(5));
            self.renew(name, row);
        }
    }

    fn record(&self, name: &str, row: &MailRow, outcome: Outcome) -> anyhow::Result<()> {
        let now = crate::view::now_micros();
        let attempts = row.attempts + 1;
        let (status, next_at, answer) = match outcome {
            Outcome::Sent(a) => {
                self.record_sent(name, row, &a);
                tracing::info!(id = row.id, kind = %row.kind, to = %row.recipient, attempts, answer = %a, "mail sent");
                return Ok(());
            }
            Outcome::Failed(a) => {
                tracing::warn!(id = row.id, kind = %row.kind, to = %row.recipient, attempts, answer = %a, "mail refused for good; not retrying");
                ("failed", now, a)
            }
            Outcome::Retry(a) if now - row.created_at > micros(GIVE_UP_AFTER) => {
                tracing::warn!(id = row.id, kind = %row.kind, to = %row.recipient, attempts, answer = %a, "mail still not accepted after 48 hours; giving up");
                (
                    "failed",
                    now,
                    format!("gave up after {attempts} attempts: {a}"),
                )
            }
            Outcome::Retry(a) => {
                let wait = super::backoff(self.retry_after, attempts);
                tracing::warn!(id = row.id, kind = %row.kind, to = %row.recipient, attempts, answer = %a, retry_in = %humantime::format_duration(wait), "mail not sent; will retry");
                ("queued", now + micros(wait), a)
            }
        };
        let mut conn = self.pool.get()?;
        let kept = with_conn!(conn, |c| c
            .finish_mail(row.id, name, status, next_at, &answer, now))?;
        if !kept {
            tracing::warn!(
                id = row.id,
                "mail outbox: the claim on this message ran out while sending"
            );
        }
        Ok(())
    }
}
