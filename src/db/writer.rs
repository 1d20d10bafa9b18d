//! The writer: one thread per instance runs every write, with group commit.
//!
//! It takes whatever writes are waiting, runs each in its own savepoint inside one
//! transaction and commits them together. A write that fails rolls back to its savepoint
//! alone; a failed commit fails them all (503, nothing stored). SQLite takes one write
//! transaction at a time anyway, and under `synchronous = FULL` this turns one fsync per
//! comment into one per batch. On PostgreSQL a commit that NOTIFYs other instances
//! serializes with every other such commit, so batching is what lets writes scale there.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::r2d2::{ConnectionManager, R2D2Connection};

use super::Store;
use crate::cache::ThreadKey;
use crate::error::ApiError;

/// Run inside the batch transaction; returns the thread it changed (if it succeeded) and
/// what to do once the batch has (or has not) committed.
pub type WriteJob<C> = Box<dyn FnOnce(&mut C) -> (Option<ThreadKey>, Completion) + Send>;
pub type Completion = Box<dyn FnOnce(bool) + Send>;

/// Writes run together in one transaction at most.
const MAX_BATCH: usize = 256;
/// Writes waiting beyond this are refused with 503 rather than queued without bound.
const MAX_QUEUE: usize = 8192;

pub struct Writer<C: 'static> {
    queue: mpsc::SyncSender<WriteJob<C>>,
}

impl<C> Clone for Writer<C> {
    fn clone(&self) -> Self {
        Writer {
            queue: self.queue.clone(),
        }
    }
}

impl<C: R2D2Connection + Store + Send + 'static> Writer<C> {
    pub fn start(pool: r2d2::Pool<ConnectionManager<C>>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<WriteJob<C>>(MAX_QUEUE);
        std::thread::Builder::new()
            .name("afterword-writer".into())
            .spawn(move || run(pool, rx))?;
        Ok(Writer { queue: tx })
    }

    /// Queues a write to `thread` and waits for its batch to commit.
    pub async fn write<T: Send + 'static>(
        &self,
        thread: ThreadKey,
        work: impl FnOnce(&mut C) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, ApiError>>();
        let job: WriteJob<C> = Box::new(move |conn: &mut C| {
            let result = catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
                Err(ApiError::internal(anyhow::anyhow!(
                    "a database write panicked"
                )))
            });
            let changed = result.is_ok().then_some(thread);
            let completion: Completion = Box::new(move |committed| {
                let out = match result {
                    Ok(_) if !committed => Err(ApiError::unavailable(anyhow::anyhow!(
                        "the batch this write was in did not commit"
                    ))),
                    other => other,
                };
                let _ = tx.send(out);
            });
            (changed, completion)
        });
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => {
                ApiError::unavailable(anyhow::anyhow!("the write queue is full"))
            }
            mpsc::TrySendError::Disconnected(_) => {
                ApiError::internal(anyhow::anyhow!("the writer thread has stopped"))
            }
        })?;
        rx.await.map_err(|_| {
            ApiError::unavailable(anyhow::anyhow!("the writer could not run this write"))
        })?
    }
}

fn run<C: R2D2Connection + Store + 'static>(
    pool: r2d2::Pool<ConnectionManager<C>>,
    rx: mpsc::Receiver<WriteJob<C>>,
) {
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
                tracing::error!(error = %e, "no database connection for writes");
                // Dropping a job drops its reply channel: its request answers 503.
                drop(batch);
                continue;
            }
        };
        let size = batch.len();
        let started = std::time::Instant::now();
        let mut completions = Vec::with_capacity(size);
        let committed = conn
            .write_tx(|c| {
                let mut changed = Vec::new();
                for job in batch.drain(..) {
                    let (thread, done) = job(c);
                    completions.push(done);
                    if let Some(t) = thread.filter(|t| !changed.contains(t)) {
                        changed.push(t);
                    }
                }
                // One notification per changed thread, sent with the commit.
                c.notify_threads_changed(&changed)
            })
            .map_err(|e| tracing::error!(error = %e, "a batch of writes failed to commit"))
            .is_ok();
        tracing::trace!(
            size,
            committed,
            elapsed_us = started.elapsed().as_micros() as u64,
            "write batch"
        );
        // Jobs never run (BEGIN failed) are dropped: their requests answer 503.
        drop(batch);
        for done in completions {
            done(committed);
        }
    }
}
