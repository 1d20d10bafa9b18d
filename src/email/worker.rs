//! The outbox worker: claims due messages, sends them, records what the SMTP server said.
//!
//! It works on the read pool with short transactions of its own, not through the request
//! writer: a send takes up to the SMTP timeout, and its bookkeeping must never make a
//! comment wait behind it. Each statement is one short write (on SQLite it waits at most
//! `busy_timeout` for the writer's batch, which lasts milliseconds).
//!
//! A claim is a lease (`claimed_by`, `lease_until`): several instances on one PostgreSQL
//! claim disjoint rows (`FOR UPDATE SKIP LOCKED`), and the rows of an instance that died
//! mid-send come back once its lease has run out. A message is marked sent right after the
//! SMTP server accepted it; only a crash between the two can send it again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lettre::SmtpTransport;

use crate::db::outbox::MailRow;
use crate::db::{MailStore, Pool};
use crate::with_conn;

/// How often the worker looks for due mail.
const POLL: Duration = Duration::from_millis(500);
/// How long a claim holds: far longer than one send may take.
const LEASE: Duration = Duration::from_secs(300);
/// Messages claimed at once.
const BATCH: i64 = 10;
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

impl Worker {
    pub fn start(self) -> std::io::Result<()> {
        let name = format!("afterword-mail-{}", crate::security::new_token());
        std::thread::Builder::new()
            .name("afterword-mail".into())
            .spawn(move || self.run(&name))
            .map(|_| ())
    }

    fn run(self, name: &str) {
        let mut pruned: Option<std::time::Instant> = None;
        while !self.stop.stopped() {
            if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                self.prune();
                pruned = Some(std::time::Instant::now());
            }
            if let Err(e) = self.flush_digests() {
                tracing::warn!(error = %e, "mail outbox: cannot turn reply digests into mail; trying again");
            }
            match self.round(name) {
                Ok(0) => std::thread::sleep(POLL),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "mail outbox: cannot read the queue; trying again");
                    std::thread::sleep(POLL * 4);
                }
            }
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

    /// Claims and sends one batch; returns how many it claimed.
    fn round(&self, name: &str) -> anyhow::Result<usize> {
        let now = crate::view::now_micros();
        let rows = {
            let mut conn = self.pool.get()?;
            with_conn!(conn, |c| c.claim_mail(
                name,
                now,
                now + micros(LEASE),
                BATCH
            ))?
        };
        let n = rows.len();
        for row in rows {
            if self.stop.stopped() {
                // Its lease runs out and another worker (or the next start) sends it.
                break;
            }
            let outcome = self.send(&row);
            self.record(name, &row, outcome)?;
        }
        Ok(n)
    }

    fn send(&self, row: &MailRow) -> Outcome {
        super::send_raw(
            &self.transport,
            &row.sender,
            &row.recipient,
            row.message.as_bytes(),
        )
    }

    /// The log names a message by its outbox id, never by its recipient's address (an
    /// erasure could not reach the logs); a server's answer may quote it, so it goes too.
    fn record(&self, name: &str, row: &MailRow, outcome: Outcome) -> anyhow::Result<()> {
        let now = crate::view::now_micros();
        let attempts = row.attempts + 1;
        let (status, next_at, answer) = match outcome {
            Outcome::Sent(a) => {
                tracing::info!(id = row.id, kind = %row.kind, attempts, answer = %super::redact(&a, &row.recipient), "mail sent");
                ("sent", now, a)
            }
            Outcome::Failed(a) => {
                tracing::warn!(id = row.id, kind = %row.kind, attempts, answer = %super::redact(&a, &row.recipient), "mail refused for good; not retrying");
                ("failed", now, a)
            }
            Outcome::Retry(a) if now - row.created_at > micros(GIVE_UP_AFTER) => {
                tracing::warn!(id = row.id, kind = %row.kind, attempts, answer = %super::redact(&a, &row.recipient), "mail still not accepted after 48 hours; giving up");
                (
                    "failed",
                    now,
                    format!("gave up after {attempts} attempts: {a}"),
                )
            }
            Outcome::Retry(a) => {
                let wait = super::backoff(self.retry_after, attempts);
                tracing::warn!(id = row.id, kind = %row.kind, attempts, answer = %super::redact(&a, &row.recipient), retry_in = %humantime::format_duration(wait), "mail not sent; will retry");
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
