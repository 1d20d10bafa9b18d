//! The writer: one thread with a connection of its own runs every write, with group commit.
//!
//! It takes the writes waiting, runs each in a savepoint it opens and closes itself inside
//! one transaction, and commits them together. After every write and after the commit it
//! checks what really happened, and answers each write with that:
//! - a write that fails or panics is rolled back to its savepoint alone; the others commit;
//! - when the transaction can no longer be trusted (diesel's depth is not what the writer
//!   left it at: SQLite rolled it back by itself, PostgreSQL refuses to release an aborted
//!   savepoint, a connection broke) or the commit fails, nothing of the batch is stored, the
//!   connection is dropped and every write of the batch is answered 503;
//! - when PostgreSQL's connection breaks during `COMMIT`, the writer asks the server
//!   (`txid_status`) whether that transaction committed before it answers.
//!
//! Once the commit is known, the writer invalidates the threads it changed and only then
//! answers, so no handler (cancelled or not) can leave a stale page behind.
//!
//! SQLite takes one write transaction at a time anyway, and under `synchronous = FULL` this
//! turns one fsync per comment into one per batch. On PostgreSQL a commit that NOTIFYs other
//! instances serializes with every other such commit, so batching is what lets writes scale.

use std::num::NonZeroU32;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::result::QueryResult;

use super::faults::{Fault, FaultOps, Faults};
use super::Store;
use crate::cache::ThreadKey;
use crate::error::ApiError;

/// Writes run together in one transaction at most: enough to share a commit, few enough
/// that a write does not wait long behind the others.
const MAX_BATCH: usize = 64;
/// Writes waiting beyond this are refused with 503 rather than queued without bound.
const MAX_QUEUE: usize = 8192;
/// Nor may the writes waiting hold more than this much input (comment texts, mostly).
const MAX_QUEUE_BYTES: usize = 32 << 20;
/// What a write costs in the queue besides the input its caller declares.
const JOB_BYTES: usize = 512;
/// How often the idle writer looks whether it should reconnect or stop.
const IDLE_TICK: Duration = Duration::from_millis(250);
/// A write whose COMMIT was sent when its time ran out waits this much longer for the
/// outcome before it is answered `write_outcome_unknown`.
const COMMIT_GRACE: Duration = Duration::from_secs(1);
/// A batch running longer than this makes `/healthz` say the database is not answering.
const HEALTH_STALL: Duration = Duration::from_secs(2);
/// While the database is unreachable, the writer tries to reconnect this often; writes in
/// between are answered 503 at once.
const RECONNECT_EVERY: Duration = Duration::from_millis(250);
/// How long the writer keeps asking whether a commit cut off by a broken connection landed.
const RESOLVE_FOR: Duration = Duration::from_secs(15);

/// Called with the threads a batch changed, once it has committed.
pub type OnCommit = Box<dyn Fn(&[ThreadKey]) + Send + Sync>;

/// What the writer needs from a connection beyond the model functions.
pub trait WriterConn:
    Connection<TransactionManager = AnsiTransactionManager> + Store + FaultOps + Send + 'static
{
    /// Opens the writer's own connection.
    fn open(target: &WriterTarget) -> anyhow::Result<Self>;
    /// `BEGIN IMMEDIATE` on SQLite (no lock upgrade, so no `SQLITE_BUSY` mid-batch).
    fn begin_batch(&mut self) -> QueryResult<()>;
    /// Runs last before `COMMIT`. Its success proves the transaction is not aborted (on
    /// PostgreSQL `COMMIT` would quietly roll an aborted one back). Returns the
    /// transaction id where the outcome of a cut-off `COMMIT` can be asked later.
    fn before_commit(&mut self, changed: &[ThreadKey]) -> QueryResult<Option<i64>>;
    /// Whether transaction `txid` committed; `None` while the server cannot tell yet.
    fn committed(&mut self, txid: i64) -> QueryResult<Option<bool>>;
}

/// Where the writer connects, and how.
#[derive(Clone)]
pub struct WriterTarget {
    pub url: String,
    pub sqlite_sync: crate::config::SqliteSync,
    /// The server's bounds; `None` for commands (the defaults, no session timeouts).
    pub timeouts: Option<crate::config::DatabaseSettings>,
}

/// Where a queued write is, shared by the writer and the request waiting for it. A request
/// that stops waiting may answer "not stored" only if it moves its ticket out of `QUEUED`
/// or `RUNNING` before the writer moves it to `COMMITTING`: a batch holding an abandoned
/// write is never committed.
struct Ticket(AtomicU8);

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const COMMITTING: u8 = 2;
const DONE: u8 = 3;
const ABANDONED: u8 = 4;

impl Ticket {
    fn advance(&self, from: u8, to: u8) -> bool {
        self.0
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// A place in the queue and the bytes a queued write holds; given back when it has run.
struct Held {
    shared: Arc<Shared>,
    bytes: usize,
}

impl Held {
    /// Counts a write and its bytes in; `Drop` counts them out.
    fn new(shared: &Arc<Shared>, bytes: usize) -> Self {
        shared.queued_jobs.fetch_add(1, Ordering::AcqRel);
        shared.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        Held {
            shared: Arc::clone(shared),
            bytes,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.shared.queued_jobs.fetch_sub(1, Ordering::AcqRel);
        self.shared
            .queued_bytes
            .fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// What became of one write.
enum Verdict {
    /// Its savepoint was released and the batch committed.
    Stored,
    /// Its savepoint was rolled back, alone: it answers its own error, or this one if it
    /// had none (a savepoint that could not be released).
    RolledBack(ApiError),
    /// Nothing of its batch was stored (or, rarely, nobody can tell): answer this.
    Lost(ApiError),
}

/// A write that has run, waiting for its verdict.
struct Ran {
    ok: bool,
    /// The threads it changed beyond the one it was queued for.
    changed: Vec<ThreadKey>,
    answer: Box<dyn FnOnce(Verdict) + Send>,
}

/// Runs the write in the savepoint the writer opened, with the test fault it meets.
type RunJob<C> = Box<dyn FnOnce(&mut C, Option<Fault>) -> Ran + Send>;

struct Job<C> {
    /// The thread it was queued for, if known in advance (test faults are keyed on it).
    thread: Option<ThreadKey>,
    run: RunJob<C>,
    ticket: Arc<Ticket>,
    _held: Held,
}

struct Shared {
    on_commit: OnceLock<OnCommit>,
    faults: Arc<Faults>,
    /// Bytes of input the waiting writes hold.
    queued_bytes: AtomicUsize,
    /// Writes queued or running (the channel itself is unbounded: a bounded one would
    /// allocate all of its `MAX_QUEUE` slots at start, 1.1 MiB).
    queued_jobs: AtomicUsize,
    /// How long a request waits for its write.
    write_timeout: Duration,
    /// Set when the server stops: no new write is taken, the queue is drained.
    closed: AtomicBool,
    /// When the running batch started (ms since `epoch`, plus one), 0 while idle.
    busy_since: AtomicU64,
    epoch: Instant,
    /// Why the writer has no connection, while it has none.
    unreachable: parking_lot::Mutex<Option<String>>,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// How long the running batch has run, if one is running.
    fn busy_for(&self) -> Option<Duration> {
        match self.busy_since.load(Ordering::Acquire) {
            0 => None,
            since => Some(Duration::from_millis(self.now_ms().saturating_sub(since))),
        }
    }
}

pub struct Writer<C: 'static> {
    queue: mpsc::Sender<Job<C>>,
    shared: Arc<Shared>,
    /// Its sender lives on the writer thread: closed means the thread has ended.
    alive: tokio::sync::watch::Receiver<()>,
}

impl<C> Clone for Writer<C> {
    fn clone(&self) -> Self {
        Writer {
            queue: self.queue.clone(),
            shared: Arc::clone(&self.shared),
            alive: self.alive.clone(),
        }
    }
}

impl<C: WriterConn> Writer<C> {
    /// Opens the writer's connection (failing if the database is unreachable) and starts
    /// its thread.
    pub fn start(target: WriterTarget, faults: Arc<Faults>) -> anyhow::Result<Self> {
        let conn = C::open(&target)?;
        let (tx, rx) = mpsc::channel::<Job<C>>();
        let (alive_tx, alive) = tokio::sync::watch::channel(());
        let write_timeout = target.timeouts.as_ref().map_or_else(
            || crate::config::DatabaseSettings::default().write_timeout,
            |t| t.write_timeout,
        );
        let shared = Arc::new(Shared {
            on_commit: OnceLock::new(),
            faults,
            queued_bytes: AtomicUsize::new(0),
            queued_jobs: AtomicUsize::new(0),
            write_timeout,
            closed: AtomicBool::new(false),
            busy_since: AtomicU64::new(0),
            epoch: Instant::now(),
            unreachable: parking_lot::Mutex::new(None),
        });
        let mut state = WriterState {
            target,
            conn: Some(conn),
            fresh: true,
            next_connect: Instant::now(),
            shared: Arc::clone(&shared),
        };
        std::thread::Builder::new()
            .name("afterword-writer".into())
            .spawn(move || {
                let _alive = alive_tx;
                loop {
                    let first = match rx.recv_timeout(IDLE_TICK) {
                        Ok(job) => job,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            if state.shared.closed.load(Ordering::Acquire) {
                                break;
                            }
                            state.idle();
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    };
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    crate::metrics::writer_batch(batch.len());
                    state.run_batch(batch);
                }
                // The connection closes here, before the thread is known to have ended.
                state.discard();
            })?;
        Ok(Writer {
            queue: tx,
            shared,
            alive,
        })
    }
}

impl<C: WriterConn> Writer<C> {
    /// Sets what runs after each commit, with the threads it changed (once; later calls
    /// are ignored).
    pub fn on_commit(&self, f: OnCommit) {
        let _ = self.shared.on_commit.set(f);
    }

    pub fn faults(&self) -> &Arc<Faults> {
        &self.shared.faults
    }

    /// How long a request waits for the database.
    pub fn timeout(&self) -> Duration {
        self.shared.write_timeout
    }

    pub fn is_alive(&self) -> bool {
        self.alive.has_changed().is_ok()
    }

    /// Why writes cannot be made right now, if they cannot.
    pub fn health(&self) -> Result<(), String> {
        if !self.is_alive() {
            return Err("the database writer has stopped".into());
        }
        if self.shared.closed.load(Ordering::Acquire) {
            return Err("the server is stopping".into());
        }
        if let Some(busy) = self.shared.busy_for().filter(|b| *b >= HEALTH_STALL) {
            return Err(format!(
                "the database has not answered the writer for {} s",
                busy.as_secs()
            ));
        }
        match self.shared.unreachable.lock().as_ref() {
            Some(why) => Err(format!("the writer cannot reach the database: {why}")),
            None => Ok(()),
        }
    }

    /// Takes no new write; the writer runs those queued, then ends (see `stopped`).
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
    }

    /// Resolves when the writer thread has ended.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.alive.clone();
        async move { while rx.changed().await.is_ok() {} }
    }

    /// Queues a write to `thread` and waits for what became of it. The write runs inside
    /// its own savepoint: it does every read it needs there, and opens no transaction.
    pub async fn write<T: Send + 'static>(
        &self,
        thread: ThreadKey,
        bytes: usize,
        work: impl FnOnce(&mut C) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.write_changing(Some(thread), bytes, move |c| {
            work(c).map(|t| (t, Vec::new()))
        })
        .await
    }

    /// A write that learns as it runs which threads it changes (a moderator's action on
    /// comments by id, say) and returns them with its result; `thread`, if known, is
    /// changed too.
    ///
    /// `bytes` is the size of the input the write carries (a comment's text, say), which
    /// the queue's byte bound counts. The answer comes within the write timeout: a write
    /// not stored by then is answered 503 and never stored later.
    pub async fn write_changing<T: Send + 'static>(
        &self,
        thread: Option<ThreadKey>,
        bytes: usize,
        work: impl FnOnce(&mut C) -> Result<(T, Vec<ThreadKey>), ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(ApiError::unavailable(anyhow::anyhow!(
                "the server is stopping"
            )));
        }
        // A batch that has outlived the write timeout is stuck on the database: a write
        // queued behind it could only wait out its own time.
        if let Some(busy) = shared.busy_for().filter(|b| *b >= shared.write_timeout) {
            return Err(ApiError::unavailable(anyhow::anyhow!(
                "the database has not answered the writer for {} ms",
                busy.as_millis()
            )));
        }
        let bytes = bytes.saturating_add(JOB_BYTES);
        let held = Held::new(shared, bytes);
        if shared.queued_jobs.load(Ordering::Acquire) > MAX_QUEUE {
            return Err(ApiError::unavailable(anyhow::anyhow!(
                "the write queue is full"
            )));
        }
        if shared.queued_bytes.load(Ordering::Acquire) > MAX_QUEUE_BYTES {
            return Err(ApiError::unavailable(anyhow::anyhow!(
                "the write queue holds too many bytes"
            )));
        }
        let ticket = Arc::new(Ticket(AtomicU8::new(QUEUED)));
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, ApiError>>();
        let run = Box::new(move |conn: &mut C, fault: Option<Fault>| {
            let result = catch_unwind(AssertUnwindSafe(|| {
                let out = work(conn);
                inject(conn, fault)?;
                out
            }))
            .unwrap_or_else(|_| {
                Err(ApiError::internal(anyhow::anyhow!(
                    "a database write panicked; it was rolled back"
                )))
            });
            let (result, changed) = match result {
                Ok((t, changed)) => (Ok(t), changed),
                Err(e) => (Err(e), Vec::new()),
            };
            Ran {
                ok: result.is_ok(),
                changed,
                answer: Box::new(move |verdict| {
                    let out = match (verdict, result) {
                        (Verdict::Stored, r) => r,
                        (Verdict::RolledBack(_), Err(own)) => Err(own),
                        (Verdict::RolledBack(e), Ok(_)) | (Verdict::Lost(e), _) => Err(e),
                    };
                    let _ = tx.send(out);
                }),
            }
        });
        self.queue
            .send(Job {
                thread,
                run,
                ticket: Arc::clone(&ticket),
                _held: held,
            })
            .map_err(|_| ApiError::unavailable(anyhow::anyhow!("the writer thread has stopped")))?;
        crate::metrics::write_queued();
        // A job dropped unrun (its batch could not start) closes the channel: 503.
        let unrun =
            |_| ApiError::unavailable(anyhow::anyhow!("the writer could not run this write"));
        let mut rx = rx;
        if let Ok(answer) = tokio::time::timeout(shared.write_timeout, &mut rx).await {
            return answer.map_err(unrun)?;
        }
        if ticket.advance(QUEUED, ABANDONED) || ticket.advance(RUNNING, ABANDONED) {
            return Err(ApiError::unavailable(anyhow::anyhow!(
                "the database did not answer this write within {} ms; it will not be stored",
                shared.write_timeout.as_millis()
            )));
        }
        // Its COMMIT is on the way: only the database knows.
        match tokio::time::timeout(COMMIT_GRACE, rx).await {
            Ok(answer) => answer.map_err(unrun)?,
            Err(_) => Err(outcome_unknown()),
        }
    }
}

/// The one answer that cannot say whether the write is stored: it says so.
fn outcome_unknown() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        "write_outcome_unknown",
        "The database connection broke while this write was committed: it may \
         or may not be stored. Reload the page before sending it again.",
    )
}

fn job_fault<C>(faults: &Faults, job: &Job<C>) -> Option<Fault> {
    job.thread.as_ref().and_then(|t| faults.for_slug(&t.slug))
}

/// Applies a test fault after the write's own statements.
fn inject<C: FaultOps>(conn: &mut C, fault: Option<Fault>) -> Result<(), ApiError> {
    match fault {
        Some(Fault::JobPanics) => panic!("failpoint: the write panics"),
        Some(Fault::JobStatementFails) => conn.failing_statement()?,
        Some(Fault::JobIgnoresFailedStatement) => {
            let _ = conn.failing_statement();
        }
        Some(Fault::JobEndsTransaction) => conn.end_transaction()?,
        _ => {}
    }
    Ok(())
}

fn depth<C: WriterConn>(conn: &mut C) -> QueryResult<u32> {
    <AnsiTransactionManager as TransactionManager<C>>::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map(|d| d.map_or(0, NonZeroU32::get))
}

/// Fails unless the transaction depth is `want`.
fn expect_depth<C: WriterConn>(conn: &mut C, want: u32) -> anyhow::Result<()> {
    let got = depth(conn)?;
    anyhow::ensure!(
        got == want,
        "transaction depth is {got}, expected {want}: the transaction ended or broke under the writer"
    );
    Ok(())
}

/// How a batch ended.
enum Outcome {
    Committed,
    NotStored(anyhow::Error),
    Unknown(anyhow::Error),
}

struct WriterState<C> {
    target: WriterTarget,
    conn: Option<C>,
    /// The connection was just opened: per-connection test settings must run on it.
    fresh: bool,
    next_connect: Instant,
    shared: Arc<Shared>,
}

impl<C: WriterConn> WriterState<C> {
    /// The connection, reconnecting if it was dropped (at most every `RECONNECT_EVERY`
    /// unless `now`).
    fn connect(&mut self, now: bool) -> anyhow::Result<&mut C> {
        if self.conn.is_none() {
            anyhow::ensure!(
                now || Instant::now() >= self.next_connect,
                "the database is unreachable; the writer retries shortly"
            );
            let c = C::open(&self.target).inspect_err(|e| {
                self.next_connect = Instant::now() + RECONNECT_EVERY;
                *self.shared.unreachable.lock() = Some(format!("{e:#}"));
            })?;
            *self.shared.unreachable.lock() = None;
            tracing::info!("the writer reconnected to the database");
            self.conn = Some(c);
            self.fresh = true;
        }
        let fresh = std::mem::take(&mut self.fresh);
        let sql = self.shared.faults.writer_sql(fresh);
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("the writer has no connection"))?;
        for s in sql {
            conn.batch_execute(&s)?;
        }
        Ok(conn)
    }

    /// Drops the connection: an open transaction on it rolls back (SQLite on close,
    /// PostgreSQL when the session ends).
    fn discard(&mut self) {
        self.conn = None;
    }

    /// Between writes: reconnects a lost connection, so that `/healthz` knows when the
    /// database is back before the next write has to find out.
    fn idle(&mut self) {
        if self.conn.is_none() && Instant::now() >= self.next_connect {
            if let Err(e) = self.connect(false) {
                tracing::debug!(error = %format!("{e:#}"), "the writer cannot reconnect yet");
            }
        }
    }

    /// After a batch that did not commit: rolls back whatever is still open, or drops the
    /// connection if that fails. (Should SQLite still hold a transaction diesel does not
    /// know of, the next BEGIN fails and `begin` reconnects.)
    fn settle(&mut self) {
        let clean = self.conn.as_mut().is_some_and(|c| loop {
            match depth(c) {
                Ok(0) => break true,
                Ok(_) => {
                    if <AnsiTransactionManager as TransactionManager<C>>::rollback_transaction(c)
                        .is_err()
                    {
                        break false;
                    }
                }
                Err(_) => break false,
            }
        });
        if !clean {
            self.discard();
        }
    }

    /// Opens the batch transaction; on a broken connection, reconnects once and retries.
    fn begin(&mut self) -> anyhow::Result<()> {
        let first = self.connect(false).and_then(|c| {
            expect_depth(c, 0)?;
            Ok(c.begin_batch()?)
        });
        if first.is_ok() {
            return first;
        }
        if self.conn.is_none() {
            return first;
        }
        self.discard();
        let c = self.connect(true)?;
        c.begin_batch()?;
        Ok(())
    }

    fn run_batch(&mut self, batch: Vec<Job<C>>) {
        // Writes whose requests stopped waiting while queued are not run at all.
        let batch: Vec<Job<C>> = batch
            .into_iter()
            .filter(|j| j.ticket.0.load(Ordering::Acquire) == QUEUED)
            .collect();
        if batch.is_empty() {
            return;
        }
        self.shared
            .busy_since
            .store(self.shared.now_ms(), Ordering::Release);
        self.run_jobs(batch);
        self.shared.busy_since.store(0, Ordering::Release);
    }

    fn run_jobs(&mut self, batch: Vec<Job<C>>) {
        let started = Instant::now();
        let size = batch.len();
        let faults = Arc::clone(&self.shared.faults);
        for job in &batch {
            if job_fault(&faults, job) == Some(Fault::WriterDies) {
                panic!("failpoint: the writer thread dies");
            }
        }
        if let Err(e) = self.begin() {
            tracing::error!(error = %format!("{e:#}"), size, "a batch of writes could not start");
            self.discard();
            // Dropping the jobs unrun answers them 503.
            return;
        }
        let mut ran: Vec<(Ran, Option<ApiError>, Arc<Ticket>)> = Vec::with_capacity(size);
        let mut changed: Vec<ThreadKey> = Vec::new();
        let mut commit_fault = false;
        let mut broken = None;
        let mut unrun = Vec::new();
        let mut jobs = batch.into_iter().peekable();
        // A savepoint opened by the previous write's release, not used yet.
        let mut opened = false;
        while let Some(job) = jobs.next() {
            let Some(conn) = self.conn.as_mut() else {
                unrun.push(job);
                break;
            };
            if !job.ticket.advance(QUEUED, RUNNING) {
                continue;
            }
            let fault = job_fault(&faults, &job);
            commit_fault |= fault == Some(Fault::CommitFails);
            if !std::mem::take(&mut opened) {
                if let Err(e) =
                    <AnsiTransactionManager as TransactionManager<C>>::begin_transaction(conn)
                {
                    broken = Some(anyhow::Error::from(e).context("cannot open a savepoint"));
                    unrun.push(job);
                    break;
                }
            }
            let mut r = (job.run)(conn, fault);
            let ticket = job.ticket;
            // With another write to run, its savepoint opens in the same round trip.
            let next = jobs.peek().is_some();
            let closed = close_savepoint(conn, r.ok, next);
            if let Ok((_, true)) = closed {
                opened = true;
            }
            match closed.map(|(why, _)| why) {
                Ok(None) => {
                    if r.ok {
                        for t in job.thread.into_iter().chain(r.changed.drain(..)) {
                            if !changed.contains(&t) {
                                changed.push(t);
                            }
                        }
                    }
                    ran.push((r, None, ticket));
                }
                Ok(Some(why)) => ran.push((r, Some(why), ticket)),
                Err(e) => {
                    ran.push((r, None, ticket));
                    broken = Some(e);
                    break;
                }
            }
        }
        unrun.extend(jobs);
        if opened && broken.is_none() {
            // The write it was opened for had stopped waiting: released empty.
            if let Some(conn) = self.conn.as_mut() {
                if let Err(e) =
                    <AnsiTransactionManager as TransactionManager<C>>::commit_transaction(conn)
                {
                    broken = Some(anyhow::Error::from(e).context("cannot release a savepoint"));
                }
            }
        }
        // Those whose requests wait to hear "stored": none may have stopped waiting.
        let kept: Vec<&Ticket> = ran
            .iter()
            .filter(|(r, why, _)| r.ok && why.is_none())
            .map(|(_, _, t)| &**t)
            .collect();
        let outcome = match broken {
            Some(e) => Outcome::NotStored(e),
            None => self.commit(&changed, commit_fault, &kept),
        };
        let committed = match &outcome {
            Outcome::Committed => true,
            Outcome::NotStored(e) => {
                tracing::error!(error = %format!("{e:#}"), size, "a batch of writes was rolled back; none is stored");
                self.settle();
                false
            }
            Outcome::Unknown(e) => {
                tracing::error!(error = %format!("{e:#}"), size, "a batch of writes may or may not have committed");
                self.discard();
                false
            }
        };
        // Invalidate before answering: a client told 201 must not then read a stale page.
        if committed || matches!(outcome, Outcome::Unknown(_)) {
            if let Some(f) = self.shared.on_commit.get() {
                f(&changed);
            }
        }
        tracing::trace!(
            size,
            committed,
            elapsed_us = started.elapsed().as_micros() as u64,
            "write batch"
        );
        for (r, rolled_back, ticket) in ran {
            let verdict = match (&outcome, rolled_back) {
                (Outcome::Committed, None) => Verdict::Stored,
                (Outcome::Committed, Some(why)) => Verdict::RolledBack(why),
                (Outcome::NotStored(_), _) => Verdict::Lost(ApiError::unavailable(
                    anyhow::anyhow!("the batch this write was in did not commit"),
                )),
                (Outcome::Unknown(_), _) => Verdict::Lost(outcome_unknown()),
            };
            ticket.0.store(DONE, Ordering::Release);
            (r.answer)(verdict);
        }
        drop(unrun);
    }

    /// Commits the batch and learns whether it really did.
    fn commit(&mut self, changed: &[ThreadKey], commit_fault: bool, kept: &[&Ticket]) -> Outcome {
        let Some(conn) = self.conn.as_mut() else {
            return Outcome::NotStored(anyhow::anyhow!("the writer lost its connection"));
        };
        let txid = match conn.before_commit(changed) {
            Ok(t) => t,
            Err(e) => return Outcome::NotStored(anyhow::Error::from(e).context("before COMMIT")),
        };
        if commit_fault {
            if let Err(e) = conn.deferred_violation() {
                return Outcome::NotStored(e.into());
            }
        }
        // Last moment to abandon: past this, a request that stops waiting cannot say "not
        // stored".
        if !kept.iter().all(|t| t.advance(RUNNING, COMMITTING)) {
            return Outcome::NotStored(anyhow::anyhow!(
                "a write of this batch was answered 503 when its time ran out"
            ));
        }
        let result = <AnsiTransactionManager as TransactionManager<C>>::commit_transaction(conn);
        match (result, txid) {
            (Ok(()), _) => match expect_depth(conn, 0) {
                Ok(()) => Outcome::Committed,
                Err(e) => Outcome::Unknown(e),
            },
            // PostgreSQL: the server may have committed before the answer was lost.
            (Err(e), Some(txid)) => {
                tracing::warn!(error = %e, txid, "COMMIT failed; asking the database whether it committed");
                self.resolve(txid, e)
            }
            // SQLite: a failed COMMIT stored nothing (diesel has rolled back, or dropping
            // the connection will).
            (Err(e), None) => Outcome::NotStored(anyhow::Error::from(e).context("COMMIT failed")),
        }
    }

    /// Asks the server whether transaction `txid` committed, reconnecting as needed.
    fn resolve(&mut self, txid: i64, cause: diesel::result::Error) -> Outcome {
        let deadline = Instant::now() + RESOLVE_FOR;
        let mut last = anyhow::Error::from(cause).context("COMMIT failed");
        if self.conn.as_mut().is_some_and(|c| depth(c) != Ok(0)) {
            self.discard();
        }
        while Instant::now() < deadline {
            match self.connect(true).and_then(|c| Ok(c.committed(txid)?)) {
                Ok(Some(true)) => return Outcome::Committed,
                Ok(Some(false)) => return Outcome::NotStored(last),
                Ok(None) => {}
                Err(e) => {
                    self.discard();
                    last = e;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Outcome::Unknown(last)
    }
}

/// What releases a write's savepoint and opens the next write's, in one round trip (the
/// name is diesel's for depth 2, which the transaction manager keeps meanwhile).
const RELEASE_AND_OPEN: &str = "RELEASE SAVEPOINT diesel_savepoint_1; SAVEPOINT diesel_savepoint_1";

/// Ends a write's savepoint: released if the write succeeded, else rolled back. `Ok(None)`
/// is released, `Ok(Some(why))` rolled back alone; `Err` means the batch transaction can no
/// longer be trusted. With `then_open`, a released savepoint is followed by the next
/// write's in the same statement, and the second value says whether it is open.
fn close_savepoint<C: WriterConn>(
    conn: &mut C,
    ok: bool,
    then_open: bool,
) -> anyhow::Result<(Option<ApiError>, bool)> {
    // A write that opened transactions of its own and panicked inside them left them open.
    while depth(conn)? > 2 {
        <AnsiTransactionManager as TransactionManager<C>>::rollback_transaction(conn)?;
    }
    expect_depth(conn, 2)?;
    if ok && then_open {
        match conn.batch_execute(RELEASE_AND_OPEN) {
            // Released and opened again: the depth is 2 as before.
            Ok(()) => return Ok((None, true)),
            // Either the release failed (the write ignored an error, and its savepoint is
            // still there to roll back to, as below) or the release passed and the new
            // savepoint did not (then the rollback finds no savepoint, and the batch is
            // not trusted).
            Err(e) => {
                <AnsiTransactionManager as TransactionManager<C>>::rollback_transaction(conn)
                    .map_err(|r| {
                        anyhow::Error::from(r).context(format!(
                            "after a failed release of a write's savepoint ({e})"
                        ))
                    })?;
                expect_depth(conn, 1)?;
                return Ok((
                    Some(ApiError::internal(
                        anyhow::Error::from(e)
                            .context("the write's savepoint could not be released"),
                    )),
                    false,
                ));
            }
        }
    }
    let mut why = None;
    if ok {
        if let Err(e) = <AnsiTransactionManager as TransactionManager<C>>::commit_transaction(conn)
        {
            // PostgreSQL refuses to release a savepoint whose statement failed (the write
            // ignored the error): the write did not happen as it believes.
            why = Some(ApiError::internal(
                anyhow::Error::from(e).context("the write's savepoint could not be released"),
            ));
            if depth(conn)? == 2 {
                <AnsiTransactionManager as TransactionManager<C>>::rollback_transaction(conn)?;
            }
        }
    } else {
        <AnsiTransactionManager as TransactionManager<C>>::rollback_transaction(conn)?;
    }
    expect_depth(conn, 1)?;
    Ok((why, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::SqliteConnection;

    fn thread(slug: &str) -> ThreadKey {
        ThreadKey {
            site: "s".into(),
            slug: slug.into(),
        }
    }

    /// A writer on the SQLite file at `path`.
    fn writer_at(path: &std::path::Path) -> Writer<SqliteConnection> {
        let target = WriterTarget {
            url: path.to_string_lossy().into_owned(),
            sqlite_sync: crate::config::SqliteSync::Normal,
            timeouts: None,
        };
        Writer::<SqliteConnection>::start(target, Arc::default()).unwrap()
    }

    /// A write that holds the writer until told to go on (send on the first value), once
    /// it runs.
    async fn hold(
        writer: &Writer<SqliteConnection>,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), ApiError>>,
    ) {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let w = writer.clone();
            async move {
                w.write(thread("/block/"), 0, move |_| {
                    let _ = wait.recv();
                    Ok(())
                })
                .await
            }
        });
        while writer.shared.busy_for().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (go, blocker)
    }

    /// The queue refuses what would take it past its byte bound, however few the writes,
    /// and takes writes again once those waiting have run.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queue_is_bounded_in_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer_at(&dir.path().join("w.db"));
        let (go, blocker) = hold(&writer).await;
        let big = MAX_QUEUE_BYTES / 4;
        let queued: Vec<_> = (0..3)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move {
                    w.write(thread(&format!("/{i}/")), big, move |_| Ok(i))
                        .await
                })
            })
            .collect();
        while writer.shared.queued_bytes.load(Ordering::Acquire) < 3 * big {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let refused = writer.write(thread("/over/"), big, |_| Ok(())).await;
        let e = refused.unwrap_err();
        assert_eq!(e.status, actix_web::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(format!("{e}").contains("too many bytes"), "{e}");
        go.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for (i, q) in queued.into_iter().enumerate() {
            assert_eq!(q.await.unwrap().unwrap(), i);
        }
        assert_eq!(writer.shared.queued_bytes.load(Ordering::Acquire), 0);
        writer
            .write(thread("/after/"), big, |_| Ok(()))
            .await
            .unwrap();
    }

    /// The queue refuses a write past `MAX_QUEUE` writes waiting or running, however small,
    /// and takes writes again once those have run (its channel allocates as it fills).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queue_is_bounded_in_writes() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer_at(&dir.path().join("w.db"));
        let (go, blocker) = hold(&writer).await;
        let queued: Vec<_> = (1..MAX_QUEUE)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move { w.write(thread("/q/"), 0, move |_| Ok(i)).await })
            })
            .collect();
        while writer.shared.queued_jobs.load(Ordering::Acquire) < MAX_QUEUE {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let e = writer
            .write(thread("/over/"), 0, |_| Ok(()))
            .await
            .unwrap_err();
        assert_eq!(e.status, actix_web::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(format!("{e}").contains("queue is full"), "{e}");
        go.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for (i, q) in (1..MAX_QUEUE).zip(queued) {
            assert_eq!(q.await.unwrap().unwrap(), i);
        }
        assert_eq!(writer.shared.queued_jobs.load(Ordering::Acquire), 0);
        writer
            .write(thread("/after/"), 0, |_| Ok(()))
            .await
            .unwrap();
    }

    /// In a batch, each write's savepoint opens in the round trip that releases the one
    /// before (`RELEASE_AND_OPEN`): a write that fails after it wrote is still rolled back
    /// alone, the writes around it are stored, and so is the last one (released on its
    /// own).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_of_one_batch_keep_their_own_savepoints() {
        use diesel::connection::SimpleConnection;
        use diesel::RunQueryDsl;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = writer_at(&path);
        writer
            .write(thread("/setup/"), 0, |c| {
                c.batch_execute("CREATE TABLE t (n INTEGER NOT NULL)")
                    .map_err(ApiError::from)
            })
            .await
            .unwrap();
        let (go, blocker) = hold(&writer).await;
        // Queued behind the blocker, so they run as one batch.
        let writes: Vec<_> = (0..6)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move {
                    w.write(thread(&format!("/{i}/")), 0, move |c| {
                        c.batch_execute(&format!("INSERT INTO t VALUES ({i})"))
                            .map_err(ApiError::from)?;
                        if i == 2 {
                            return Err(ApiError::internal(anyhow::anyhow!("write 2 fails")));
                        }
                        Ok(i)
                    })
                    .await
                })
            })
            .collect();
        while writer.shared.queued_bytes.load(Ordering::Acquire) < 6 * JOB_BYTES {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        go.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for (i, w) in writes.into_iter().enumerate() {
            let answer = w.await.unwrap();
            assert_eq!(answer.is_ok(), i != 2, "write {i}: {answer:?}");
        }
        let mut c = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::Text)]
            ns: String,
        }
        let stored: N = diesel::sql_query(
            "SELECT group_concat(n, ',') AS ns FROM (SELECT n FROM t ORDER BY n)",
        )
        .get_result(&mut c)
        .unwrap();
        assert_eq!(stored.ns, "0,1,3,4,5");
    }
}
