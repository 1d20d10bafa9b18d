//! Fault injection for the writer's tests (cargo feature `failpoints`, on for `cargo test`).
//!
//! Faults are set per application, not globally, so tests running side by side do not
//! see each other's faults. A fault is chosen by the slug of the thread a write goes to,
//! which lets one concurrent load mix good and bad writes in the same batches. Without the
//! feature every check is a no-op the compiler removes.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The write panics inside its savepoint, after its statements ran.
    JobPanics,
    /// After its statements the write runs one that fails and returns that error.
    JobStatementFails,
    /// The write runs a failing statement, ignores the error and reports success.
    JobIgnoresFailedStatement,
    /// The whole transaction ends under the write (a `ROLLBACK`, as SQLite does by itself
    /// on SQLITE_FULL or an I/O error), and the write reports success.
    JobEndsTransaction,
    /// The batch holding this write fails at `COMMIT` (a deferred constraint fires).
    CommitFails,
    /// The writer thread itself panics, outside any write.
    WriterDies,
}

#[derive(Default)]
pub struct Faults {
    #[cfg(feature = "failpoints")]
    inner: parking_lot::Mutex<Inner>,
}

#[cfg(feature = "failpoints")]
#[derive(Default)]
struct Inner {
    /// `(slug prefix, fault)`: the first matching prefix wins.
    rules: Vec<(String, Fault)>,
    /// Run on the writer's connection at the next batch and after every reconnect.
    writer_sql: Vec<String>,
    /// Set when `writer_sql` changed and the current connection has not run it yet.
    writer_sql_pending: bool,
}

impl Faults {
    /// The fault for a write to the thread `slug`, if any.
    #[inline]
    pub fn for_slug(&self, _slug: &str) -> Option<Fault> {
        #[cfg(feature = "failpoints")]
        {
            let inner = self.inner.lock();
            if let Some((_, f)) = inner.rules.iter().find(|(p, _)| _slug.starts_with(p)) {
                return Some(*f);
            }
        }
        None
    }

    /// SQL for the writer's connection: all of it after a reconnect (`fresh`), else only
    /// when it changed.
    #[inline]
    pub fn writer_sql(&self, _fresh: bool) -> Vec<String> {
        #[cfg(feature = "failpoints")]
        {
            let mut inner = self.inner.lock();
            if _fresh || inner.writer_sql_pending {
                inner.writer_sql_pending = false;
                return inner.writer_sql.clone();
            }
        }
        Vec::new()
    }
}

#[cfg(feature = "failpoints")]
impl Faults {
    /// Writes to threads whose slug starts with `prefix` meet `fault`.
    pub fn inject(&self, prefix: &str, fault: Fault) {
        self.inner.lock().rules.push((prefix.to_owned(), fault));
    }

    /// Removes every fault for slugs starting with `prefix`.
    pub fn clear(&self, prefix: &str) {
        self.inner.lock().rules.retain(|(p, _)| p != prefix);
    }

    /// Runs `sql` on the writer's connection before its next batch and after every
    /// reconnect (per-connection settings such as `PRAGMA max_page_count`).
    pub fn run_on_writer(&self, sql: &str) {
        let mut inner = self.inner.lock();
        inner.writer_sql.push(sql.to_owned());
        inner.writer_sql_pending = true;
    }
}

/// The statements faults need, on each backend.
pub trait FaultOps: SimpleConnection {
    /// A statement that fails (an unknown table).
    fn failing_statement(&mut self) -> QueryResult<()> {
        self.batch_execute("SELECT * FROM afterword_failpoint_missing")
    }
    /// Ends the transaction behind diesel's back.
    fn end_transaction(&mut self) -> QueryResult<()> {
        self.batch_execute("ROLLBACK")
    }
    /// Leaves a deferred constraint violation that makes this transaction's `COMMIT` fail.
    fn deferred_violation(&mut self) -> QueryResult<()>;
}

impl FaultOps for SqliteConnection {
    fn deferred_violation(&mut self) -> QueryResult<()> {
        // A deferred foreign key is checked at COMMIT, which then fails and leaves the
        // transaction open.
        self.batch_execute(
            "CREATE TEMP TABLE IF NOT EXISTS afterword_fp_parent (id INTEGER PRIMARY KEY);
             CREATE TEMP TABLE IF NOT EXISTS afterword_fp_child (parent INTEGER
                 REFERENCES afterword_fp_parent (id) DEFERRABLE INITIALLY DEFERRED);
             INSERT INTO afterword_fp_child VALUES (1);",
        )
    }
}

impl FaultOps for PgConnection {
    fn deferred_violation(&mut self) -> QueryResult<()> {
        // A deferred unique constraint is checked at COMMIT.
        self.batch_execute(
            "CREATE TEMP TABLE afterword_fp (x INT UNIQUE DEFERRABLE INITIALLY DEFERRED)
                 ON COMMIT DROP;
             INSERT INTO afterword_fp VALUES (1), (1);",
        )
    }
}
