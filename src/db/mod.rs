//! Connections and pools for both backends, migrations, and the dispatch macro.
//!
//! The URL scheme picks the backend. Model functions live in [`Store`], written once and
//! compiled for each connection type; `with_conn!` hands the right one to generic code.
//! This is the MultiConnection idea without its limits (RETURNING, upserts).

pub mod admins;
pub mod backup;
pub mod faults;
pub mod feeds;
pub mod imports;
pub mod models;
pub mod moderation;
pub mod outbox;
pub mod privacy;
pub mod schema;
pub mod stats;
mod store;
pub mod subscriptions;
pub mod upgrade;
mod writer;

use std::sync::Arc;
use std::time::Duration;

pub use admins::AdminStore;
use anyhow::Context;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
pub use faults::Faults;
pub use moderation::ModerationStore;
pub use outbox::MailStore;
pub use privacy::PrivacyStore;
pub use store::Store;
pub use subscriptions::SubscriptionStore;

/// Everything a service function may ask of a connection.
pub trait Db:
    Store + AdminStore + ModerationStore + MailStore + PrivacyStore + SubscriptionStore
{
}
impl<C: Store + AdminStore + ModerationStore + MailStore + PrivacyStore + SubscriptionStore> Db
    for C
{
}
pub use writer::{OnCommit, Writer, WriterConn, WriterTarget};

use crate::cache::ThreadKey;
use crate::config::{DatabaseUrl, SqliteSync};
use crate::error::ApiError;
use crate::security::ServerKey;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The PostgreSQL channel on which instances announce changed threads.
pub const NOTIFY_CHANNEL: &str = "afterword_threads";

type SqlitePool = r2d2::Pool<ConnectionManager<SqliteConnection>>;
type PgPool = r2d2::Pool<ConnectionManager<PgConnection>>;

#[derive(Clone)]
pub enum Pool {
    /// Writes go through one thread with a connection of its own that commits them in
    /// batches (see `writer`); reads through the pool, so a flood of reads never makes a
    /// write wait for a connection.
    Sqlite(SqlitePool, Writer<SqliteConnection>),
    Pg(PgPool, Writer<PgConnection>, Arc<str>),
}

/// A borrowed connection of either backend, handed to write jobs.
pub enum ConnRef<'a> {
    Sqlite(&'a mut SqliteConnection),
    Pg(&'a mut PgConnection),
}

/// `with_conn!` for a [`ConnRef`].
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::ConnRef::Sqlite($c) => $body,
            $crate::db::ConnRef::Pg($c) => $body,
        }
    };
}

pub enum DbConn {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    Pg(PooledConnection<ConnectionManager<PgConnection>>),
}

/// Runs generic code (`Store` bounds) on whichever backend `conn` holds.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(ref mut pooled) => {
                let $c: &mut ::diesel::SqliteConnection = &mut **pooled;
                $body
            }
            $crate::db::DbConn::Pg(ref mut pooled) => {
                let $c: &mut ::diesel::PgConnection = &mut **pooled;
                $body
            }
        }
    };
}

#[derive(Debug)]
struct SqlitePragmas {
    synchronous: SqliteSync,
}

/// The settings every SQLite connection runs with, the writer's included.
fn sqlite_pragmas(conn: &mut SqliteConnection, synchronous: SqliteSync) -> QueryResult<()> {
    let sync = match synchronous {
        SqliteSync::Normal => "NORMAL",
        SqliteSync::Full => "FULL",
    };
    diesel::sql_query("PRAGMA busy_timeout = 10000")
        .execute(conn)
        .and_then(|_| diesel::sql_query("PRAGMA journal_mode = WAL").execute(conn))
        .and_then(|_| diesel::sql_query(format!("PRAGMA synchronous = {sync}")).execute(conn))
        .and_then(|_| diesel::sql_query("PRAGMA foreign_keys = ON").execute(conn))
        // 512 KiB of page cache per connection (SQLite's default is 2 MiB): hot pages
        // live in the OS cache anyway, and rendered threads in ours.
        .and_then(|_| diesel::sql_query("PRAGMA cache_size = -512").execute(conn))
        .map(|_| ())
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        sqlite_pragmas(conn, self.synchronous).map_err(diesel::r2d2::Error::QueryError)
    }
}

impl WriterConn for SqliteConnection {
    fn open(target: &WriterTarget) -> anyhow::Result<Self> {
        let mut conn = SqliteConnection::establish(&target.url)?;
        sqlite_pragmas(&mut conn, target.sqlite_sync)?;
        Ok(conn)
    }

    fn begin_batch(&mut self) -> QueryResult<()> {
        diesel::connection::AnsiTransactionManager::begin_transaction_sql(self, "BEGIN IMMEDIATE")
    }

    fn before_commit(&mut self, _changed: &[ThreadKey]) -> QueryResult<Option<i64>> {
        // A failed COMMIT on SQLite stores nothing: there is no outcome to ask about.
        Ok(None)
    }

    fn committed(&mut self, _txid: i64) -> QueryResult<Option<bool>> {
        Ok(None)
    }
}

impl WriterConn for PgConnection {
    fn open(target: &WriterTarget) -> anyhow::Result<Self> {
        let mut conn = PgConnection::establish(&target.url)?;
        // A statement stuck on a lock must not hold every write of the instance forever.
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "SET statement_timeout = '15s'",
        )?;
        Ok(conn)
    }

    fn begin_batch(&mut self) -> QueryResult<()> {
        diesel::connection::AnsiTransactionManager::begin_transaction_sql(self, "BEGIN")
    }

    fn before_commit(&mut self, changed: &[ThreadKey]) -> QueryResult<Option<i64>> {
        #[derive(QueryableByName)]
        struct Txid {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            txid: i64,
        }
        let payloads: Vec<String> = changed
            .iter()
            .map(|t| crate::cache::notify_payload(&t.site, &t.slug))
            .collect();
        // One round trip: a notification per changed thread, delivered at commit to every
        // instance listening (see cache::listen_postgres), and the transaction id. It
        // fails if the transaction is aborted.
        let row: Txid = diesel::sql_query(
            "SELECT txid_current() AS txid, (SELECT COUNT(*) FROM \
             (SELECT pg_notify($1, p) FROM unnest($2) AS p) AS sent) AS notified",
        )
        .bind::<diesel::sql_types::Text, _>(NOTIFY_CHANNEL)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(payloads)
        .get_result(self)?;
        Ok(Some(row.txid))
    }

    fn committed(&mut self, txid: i64) -> QueryResult<Option<bool>> {
        #[derive(QueryableByName)]
        struct Status {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            status: Option<String>,
        }
        let row: Status = diesel::sql_query("SELECT txid_status($1) AS status")
            .bind::<diesel::sql_types::BigInt, _>(txid)
            .get_result(self)?;
        Ok(match row.status.as_deref() {
            Some("committed") => Some(true),
            Some("aborted") => Some(false),
            // "in progress" while the old session is still ending.
            _ => None,
        })
    }
}

impl Pool {
    pub fn connect(url: &DatabaseUrl, sync: SqliteSync, max_size: u32) -> anyhow::Result<Pool> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).with_context(|| {
                        format!("cannot create the directory {}", dir.display())
                    })?;
                }
                let manager = ConnectionManager::<SqliteConnection>::new(path.to_string_lossy());
                let pool = r2d2::Pool::builder()
                    .max_size(max_size)
                    .min_idle(Some(1))
                    .connection_timeout(Duration::from_secs(10))
                    .connection_customizer(Box::new(SqlitePragmas { synchronous: sync }))
                    .build(manager)
                    .with_context(|| {
                        format!("cannot open the SQLite database {}", path.display())
                    })?;
                let target = WriterTarget {
                    url: path.to_string_lossy().into_owned(),
                    sqlite_sync: sync,
                };
                let writer = Writer::start(target, Arc::default())
                    .context("cannot start the database writer")?;
                Ok(Pool::Sqlite(pool, writer))
            }
            DatabaseUrl::Postgres(secret) => {
                let manager = ConnectionManager::<PgConnection>::new(secret.expose());
                let pool = r2d2::Pool::builder()
                    .max_size(max_size)
                    .min_idle(Some(1))
                    .connection_timeout(Duration::from_secs(10))
                    .build(manager)
                    .context("cannot connect to the PostgreSQL database")?;
                let target = WriterTarget {
                    url: secret.expose().to_owned(),
                    sqlite_sync: sync,
                };
                let writer = Writer::start(target, Arc::default())
                    .context("cannot start the database writer")?;
                Ok(Pool::Pg(pool, writer, Arc::from(secret.expose())))
            }
        }
    }

    pub fn get(&self) -> Result<DbConn, r2d2::Error> {
        match self {
            Pool::Sqlite(p, _) => p.get().map(DbConn::Sqlite),
            Pool::Pg(p, ..) => p.get().map(DbConn::Pg),
        }
    }

    /// Runs a write through the writer thread, batched with the writes waiting with it.
    /// `thread` is the thread it changes: other instances hear of it when it commits.
    pub async fn write<T: Send + 'static>(
        &self,
        thread: ThreadKey,
        work: impl FnOnce(ConnRef<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Pool::Sqlite(_, writer) => {
                writer
                    .write(thread, move |c| work(ConnRef::Sqlite(c)))
                    .await
            }
            Pool::Pg(_, writer, _) => writer.write(thread, move |c| work(ConnRef::Pg(c))).await,
        }
    }

    /// A write that learns as it runs which threads it changes, and returns them with its
    /// result (see `Writer::write_changing`).
    pub async fn write_changing<T: Send + 'static>(
        &self,
        thread: Option<ThreadKey>,
        work: impl FnOnce(ConnRef<'_>) -> Result<(T, Vec<ThreadKey>), ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Pool::Sqlite(_, writer) => {
                writer
                    .write_changing(thread, move |c| work(ConnRef::Sqlite(c)))
                    .await
            }
            Pool::Pg(_, writer, _) => {
                writer
                    .write_changing(thread, move |c| work(ConnRef::Pg(c)))
                    .await
            }
        }
    }

    /// What runs once a batch has committed, with the threads it changed.
    pub fn on_commit(&self, f: OnCommit) {
        match self {
            Pool::Sqlite(_, w) => w.on_commit(f),
            Pool::Pg(_, w, _) => w.on_commit(f),
        }
    }

    /// False once the writer thread has ended: no write can succeed any more.
    pub fn writer_alive(&self) -> bool {
        match self {
            Pool::Sqlite(_, w) => w.is_alive(),
            Pool::Pg(_, w, _) => w.is_alive(),
        }
    }

    /// Resolves when the writer thread has ended.
    pub fn writer_stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        match self {
            Pool::Sqlite(_, w) => futures_util::future::Either::Left(w.stopped()),
            Pool::Pg(_, w, _) => futures_util::future::Either::Right(w.stopped()),
        }
    }

    /// The writer's fault injection, for tests.
    pub fn faults(&self) -> &Arc<Faults> {
        match self {
            Pool::Sqlite(_, w) => w.faults(),
            Pool::Pg(_, w, _) => w.faults(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Pool::Pg(..))
    }

    /// The PostgreSQL URL, for the connection that listens for changes.
    pub fn postgres_url(&self) -> Option<&str> {
        match self {
            Pool::Pg(.., url) => Some(url),
            Pool::Sqlite(..) => None,
        }
    }

    /// Applies pending migrations (after the repairs earlier releases' databases need);
    /// returns how many ran.
    pub fn migrate(&self) -> anyhow::Result<usize> {
        use upgrade::Repairs;
        let mut conn = self
            .get()
            .context("no database connection for migrations")?;
        let ran = match &mut conn {
            DbConn::Sqlite(c) => {
                c.repair()
                    .context("repairing a database of an earlier release")?;
                let ran = c
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|v| v.len())
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                // An import stopped halfway may have left its address index set aside.
                imports::ImportStore::restore_address_index(&mut **c)
                    .context("rebuilding the index of commenters' addresses")?;
                ran
            }
            DbConn::Pg(c) => {
                // Several instances may start at once; one migrates, the others wait.
                diesel::sql_query("SELECT pg_advisory_lock(7261830471)").execute(&mut **c)?;
                let r = c
                    .repair()
                    .context("repairing a database of an earlier release")
                    .and_then(|_| {
                        c.run_pending_migrations(POSTGRES_MIGRATIONS)
                            .map(|v| v.len())
                            .map_err(|e| anyhow::anyhow!("{e}"))
                    });
                diesel::sql_query("SELECT pg_advisory_unlock(7261830471)").execute(&mut **c)?;
                r?
            }
        };
        Ok(ran)
    }

    /// What `migrate` would do, without doing it: the repairs, then the migrations' names.
    pub fn pending_migrations(&self) -> anyhow::Result<(Vec<&'static str>, Vec<String>)> {
        use upgrade::Repairs;
        let mut conn = self.get().context("no database connection")?;
        fn names<DB: diesel::backend::Backend>(
            list: Vec<Box<dyn diesel::migration::Migration<DB> + '_>>,
        ) -> Vec<String> {
            list.iter().map(|m| m.name().to_string()).collect()
        }
        Ok(match &mut conn {
            DbConn::Sqlite(c) => (
                c.needed_repairs()?,
                names(
                    c.pending_migrations(SQLITE_MIGRATIONS)
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                ),
            ),
            DbConn::Pg(c) => (
                c.needed_repairs()?,
                names(
                    c.pending_migrations(POSTGRES_MIGRATIONS)
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                ),
            ),
        })
    }

    /// Replaces addresses stored in clear by older versions with their keyed hash; returns
    /// how many. Runs at start, in batches, before the server takes requests.
    pub fn hash_clear_ips(&self, key: &ServerKey) -> anyhow::Result<usize> {
        let mut conn = self.get()?;
        let mut done = 0;
        loop {
            let batch = with_conn!(conn, |c| c.clear_ips(1000))?;
            if batch.is_empty() {
                return Ok(done);
            }
            with_conn!(conn, |c| c.transaction(|c| {
                for (id, ip) in &batch {
                    c.set_ip(*id, &key.hash_ip(ip))?;
                }
                QueryResult::Ok(())
            }))?;
            done += batch.len();
        }
    }

    /// Drops the IP hashes and user agents of comments older than `days` days; returns
    /// how many comments lost them.
    pub fn forget_client_data(&self, days: u32) -> anyhow::Result<usize> {
        let before = crate::view::now_micros() - i64::from(days) * 86_400_000_000;
        let mut conn = self.get()?;
        Ok(with_conn!(conn, |c| c.forget_client_data(before))?)
    }

    /// The server key shared by every instance: created once, on first start.
    pub fn server_key(&self) -> anyhow::Result<ServerKey> {
        let mut conn = self.get()?;
        let fresh = ServerKey::generate().to_hex();
        let stored = with_conn!(conn, |c| {
            c.insert_secret_if_absent("server_key", &fresh)?;
            c.secret("server_key")
        })?;
        stored
            .as_deref()
            .and_then(ServerKey::from_hex)
            .context("the stored server key is damaged (table server_secrets)")
    }
}
