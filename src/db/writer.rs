//! SQLite's single writer, with group commit.
//!
//! SQLite takes one write transaction at a time. Instead of letting request threads queue
//! on its lock, one thread runs every write: it takes whatever writes are waiting, runs
//! each in its own savepoint inside one `BEGIN IMMEDIATE` transaction and commits them
//! together. A write that fails rolls back to its savepoint alone; a failed commit fails
//! them all. Under `synchronous = FULL` this turns one fsync per comment into one per
//! batch; under `NORMAL` it still saves a commit per write.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::r2d2::ConnectionManager;
use diesel::SqliteConnection;

use crate::error::ApiError;

/// Run inside the batch transaction; returns what to do once the batch has (or has not)
/// committed.
pub type WriteJob = Box<dyn FnOnce(&mut SqliteConnection) -> Completion + Send>;
pub type Completion = Box<dyn FnOnce(bool) + Send>;

/// Writes run together in one transaction at most.
const MAX_BATCH: usize = 256;
/// Writes waiting beyond this are refused with 503 rather than queued without bound.
const MAX_QUEUE: usize = 8192;

#[derive(Clone)]
pub struct SqliteWriter {
    queue: mpsc::SyncSender<WriteJob>,
}

impl SqliteWriter {
    pub fn start(pool: r2d2::Pool<ConnectionManager<SqliteConnection>>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<WriteJob>(MAX_QUEUE);
        std::thread::Builder::new()
            .name("afterword-sqlite-writer".into())
            .spawn(move || run(pool, rx))?;
        Ok(SqliteWriter { queue: tx })
    }

    /// Queues a write and waits for its batch to commit.
    pub async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut SqliteConnection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, ApiError>>();
        let job: WriteJob = Box::new(move |conn| {
            let result = catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
                Err(ApiError::internal(anyhow::anyhow!(
                    "a database write panicked"
                )))
            });
            Box::new(move |committed| {
                let out = match result {
                    Ok(_) if !committed => Err(ApiError::unavailable(anyhow::anyhow!(
                        "the batch this write was in did not commit"
                    ))),
                    other => other,
                };
                let _ = tx.send(out);
            })
        });
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => {
                ApiError::unavailable(anyhow::anyhow!("the write queue is full"))
            }
            mpsc::TrySendError::Disconnected(_) => {
                ApiError::internal(anyhow::anyhow!("the SQLite writer thread has stopped"))
            }
        })?;
        rx.await.map_err(|_| {
            ApiError::unavailable(anyhow::anyhow!(
                "the SQLite writer could not run this write"
            ))
        })?
    }
}

fn run(pool: r2d2::Pool<ConnectionManager<SqliteConnection>>, rx: mpsc::Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut conn = match pool.get() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "no SQLite connection for writes");
                // Each job still has to answer its request: run none, report failure.
                fail_all(batch);
                continue;
            }
        };
        let mut completions = Vec::with_capacity(batch.len());
        let committed = conn
            .immediate_transaction(|c| {
                for job in batch.drain(..) {
                    completions.push(job(c));
                }
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(|e| tracing::error!(error = %e, "a batch of writes failed to commit"))
            .is_ok();
        // Jobs never run (BEGIN failed) fail too.
        fail_all(batch);
        for done in completions {
            done(committed);
        }
    }
}

/// Answers jobs that could not run: their requests get a 503.
fn fail_all(batch: Vec<WriteJob>) {
    for job in batch {
        // A job only reports through its completion; without a connection it cannot run,
        // so it is dropped, which drops its sender and the waiting request sees the failure.
        drop(job);
    }
}
