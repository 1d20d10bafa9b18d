//! Connections and pools for both backends, migrations, and the dispatch macro.
//!
//! The URL scheme picks the backend. Model functions live in [`Store`], written once and
//! compiled for each connection type; `with_conn!` hands the right one to generic code.
//! This is the MultiConnection idea without its limits (RETURNING, upserts).

pub mod admins;
pub mod backup;
pub mod events;
pub mod faults;
pub mod federation;
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
pub use events::EventStore;
pub use faults::Faults;
pub use federation::FederationStore;
pub use feeds::FeedStore;
pub use moderation::ModerationStore;
pub use outbox::MailStore;
pub use privacy::PrivacyStore;
pub use store::Store;
pub use subscriptions::SubscriptionStore;

/// Everything a service function may ask of a connection.
pub trait Db:
    Store
    + AdminStore
    + ModerationStore
    + MailStore
    + PrivacyStore
    + SubscriptionStore
    + EventStore
    + FederationStore
    + FeedStore
{
}
impl<
        C: Store
            + AdminStore
            + ModerationStore
            + MailStore
            + PrivacyStore
            + SubscriptionStore
            + EventStore
            + FederationStore
            + FeedStore,
    > Db for C
{
}
pub use writer::{OnCommit, Writer, WriterConn, WriterTarget};

use crate::cache::ThreadKey;
use crate::config::{DatabaseSettings, DatabaseUrl, SqliteSync};
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
        // Deleted and overwritten content is zeroed, not left in free pages: an erased
        // address must not stay readable in the file.
        .and_then(|_| diesel::sql_query("PRAGMA secure_delete = ON").execute(conn))
        // 512 KiB of page cache per connection (SQLite's default is 2 MiB): hot pages
        // live in the OS cache anyway, and rendered threads in ours.
        .and_then(|_| diesel::sql_query("PRAGMA cache_size = -512").execute(conn))
        .map(|_| ())
}

/// The server cancels what runs too long, and ends a session left idle in a transaction
/// (whose locks would otherwise hold every other instance's writes). Sent as the session's
/// start-up options, so that `RESET` (after an import or a migration lifted them) brings
/// them back.
fn session_options(t: &DatabaseSettings) -> String {
    format!(
        "-c statement_timeout={} -c idle_in_transaction_session_timeout={}",
        t.statement_timeout.as_millis(),
        t.idle_in_transaction_timeout.as_millis()
    )
}

/// Runs `f` with no statement or idle timeout on this PostgreSQL session (a migration, an
/// import, a purge of a large backlog may run long), then restores the session's own.
pub fn without_timeouts<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> T,
) -> QueryResult<T> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(LIFT_TIMEOUTS)?;
    let out = f(conn);
    conn.batch_execute(RESTORE_TIMEOUTS)?;
    Ok(out)
}

pub(crate) const LIFT_TIMEOUTS: &str =
    "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0";
pub(crate) const RESTORE_TIMEOUTS: &str =
    "RESET statement_timeout; RESET idle_in_transaction_session_timeout";

/// `url` with libpq parameters added, unless the URL sets them already (the operator's
/// choice wins). `options` (settings sent to the server) is the exception: ours are added
/// after the URL's own, which win where both set the same.
pub fn with_params(url: &str, wanted: &[(&str, String)]) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    // Written by hand, the URL's own part left as it is: libpq reads `%20` as a space but
    // not the `+` of form encoding.
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut raw: Vec<String> = parsed
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    for (k, v) in wanted {
        let key_of = |p: &String| p.split('=').next().unwrap_or("").to_owned();
        match raw.iter_mut().find(|p| key_of(p) == *k) {
            Some(theirs) if *k == "options" => {
                let value = theirs.split_once('=').map_or("", |(_, v)| v);
                *theirs = format!("options={}%20{value}", enc(v));
            }
            Some(_) => {}
            None => raw.push(format!("{k}={}", enc(v))),
        }
    }
    parsed.set_query(Some(&raw.join("&")));
    parsed.to_string()
}

/// The server's connection string: a connect that hangs, data the network never
/// acknowledges and a peer gone silent all fail within the configured bounds, rather than
/// when the kernel gives up (minutes).
pub fn server_url(url: &str, name: &str, t: &DatabaseSettings) -> String {
    let net = t.network_timeout.as_secs().max(2);
    with_params(
        url,
        &[
            ("options", session_options(t)),
            ("application_name", name.to_owned()),
            (
                "connect_timeout",
                t.connect_timeout.as_secs().max(2).to_string(),
            ),
            ("keepalives", "1".into()),
            ("keepalives_idle", (net / 2).to_string()),
            ("keepalives_interval", (net / 6).max(1).to_string()),
            ("keepalives_count", "3".into()),
            (
                "tcp_user_timeout",
                t.network_timeout.as_millis().to_string(),
            ),
        ],
    )
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        sqlite_pragmas(conn, self.synchronous).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// How long the writer asks for SQLite's write lock while another process holds it (the
/// connections' `busy_timeout`), and how often.
const WRITE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const WRITE_LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(2);

impl WriterConn for SqliteConnection {
    fn open(target: &WriterTarget) -> anyhow::Result<Self> {
        let mut conn = SqliteConnection::establish(&target.url)?;
        sqlite_pragmas(&mut conn, target.sqlite_sync)?;
        // The writer waits for the lock itself, in `begin_batch`. Once `BEGIN IMMEDIATE`
        // holds it, nothing in the batch waits for another writer (write-ahead log).
        diesel::sql_query("PRAGMA busy_timeout = 0").execute(&mut conn)?;
        Ok(conn)
    }

    fn begin_batch(&mut self) -> QueryResult<()> {
        // Asked for every 2 ms rather than through SQLite's busy handler, which sleeps up
        // to 100 ms between tries: another process writing transaction after transaction
        // (an import, which pauses a little between them) would take the lock back in
        // every pause, and the server's writes would wait for the whole import.
        let started = std::time::Instant::now();
        loop {
            match diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                self,
                "BEGIN IMMEDIATE",
            ) {
                Err(e) if crate::error::is_transient(&e) && started.elapsed() < WRITE_LOCK_WAIT => {
                    std::thread::sleep(WRITE_LOCK_POLL);
                }
                done => return done,
            }
        }
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
        // The server's timeouts come with its URL (see `server_url`).
        if target.timeouts.is_none() {
            diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                "SET statement_timeout = '15s'",
            )?;
        }
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
    /// For commands: no session timeouts (an import's statements may run long).
    pub fn connect(url: &DatabaseUrl, sync: SqliteSync, max_size: u32) -> anyhow::Result<Pool> {
        Self::open(url, sync, max_size, None)
    }

    /// For the server: every wait on the database is bounded by `timeouts`.
    pub fn for_server(
        url: &DatabaseUrl,
        sync: SqliteSync,
        max_size: u32,
        timeouts: &DatabaseSettings,
    ) -> anyhow::Result<Pool> {
        Self::open(url, sync, max_size, Some(timeouts))
    }

    fn open(
        url: &DatabaseUrl,
        sync: SqliteSync,
        max_size: u32,
        timeouts: Option<&DatabaseSettings>,
    ) -> anyhow::Result<Pool> {
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
                    timeouts: timeouts.cloned(),
                };
                let writer = Writer::start(target, Arc::default())
                    .context("cannot start the database writer")?;
                Ok(Pool::Sqlite(pool, writer))
            }
            DatabaseUrl::Postgres(secret) => {
                let (pool_url, writer_url) = match timeouts {
                    Some(t) => (
                        server_url(secret.expose(), "afterword", t),
                        server_url(secret.expose(), "afterword-writer", t),
                    ),
                    None => (secret.expose().to_owned(), secret.expose().to_owned()),
                };
                let manager = ConnectionManager::<PgConnection>::new(pool_url);
                let pool = r2d2::Pool::builder()
                    .max_size(max_size)
                    .min_idle(Some(1))
                    .connection_timeout(Duration::from_secs(10))
                    .build(manager)
                    .context("cannot connect to the PostgreSQL database")?;
                let target = WriterTarget {
                    url: writer_url,
                    sqlite_sync: sync,
                    timeouts: timeouts.cloned(),
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

    /// Runs `read` on a pooled connection, off the async workers. A database that has not
    /// answered within the write timeout is answered 503 (the connection stays busy until
    /// it answers or its network timeout breaks it).
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let within = match self {
            Pool::Sqlite(_, w) => w.timeout(),
            Pool::Pg(_, w, _) => w.timeout(),
        };
        let pool = self.clone();
        let task = tokio::task::spawn_blocking(move || read(&mut pool.get()?));
        match tokio::time::timeout(within, task).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => Err(ApiError::internal(anyhow::anyhow!("a read failed: {e}"))),
            Err(_) => Err(ApiError::unavailable(anyhow::anyhow!(
                "the database did not answer a read within {} ms",
                within.as_millis()
            ))),
        }
    }

    /// Runs a write through the writer thread, batched with the writes waiting with it.
    /// `thread` is the thread it changes: other instances hear of it when it commits.
    pub async fn write<T: Send + 'static>(
        &self,
        thread: ThreadKey,
        work: impl FnOnce(ConnRef<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.write_sized(thread, 0, work).await
    }

    /// `write` for a write that carries `bytes` of input (a comment's text): the writer's
    /// queue is bounded in bytes as well as in writes.
    pub async fn write_sized<T: Send + 'static>(
        &self,
        thread: ThreadKey,
        bytes: usize,
        work: impl FnOnce(ConnRef<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Pool::Sqlite(_, writer) => {
                writer
                    .write(thread, bytes, move |c| work(ConnRef::Sqlite(c)))
                    .await
            }
            Pool::Pg(_, writer, _) => {
                writer
                    .write(thread, bytes, move |c| work(ConnRef::Pg(c)))
                    .await
            }
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
                    .write_changing(thread, 0, move |c| work(ConnRef::Sqlite(c)))
                    .await
            }
            Pool::Pg(_, writer, _) => {
                writer
                    .write_changing(thread, 0, move |c| work(ConnRef::Pg(c)))
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

    /// Why writes cannot be made right now, if they cannot (for `/healthz`).
    pub fn writer_health(&self) -> Result<(), String> {
        match self {
            Pool::Sqlite(_, w) => w.health(),
            Pool::Pg(_, w, _) => w.health(),
        }
    }

    /// The writer takes no new write, runs those queued and ends (`writer_stopped`).
    pub fn close_writer(&self) {
        match self {
            Pool::Sqlite(_, w) => w.close(),
            Pool::Pg(_, w, _) => w.close(),
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
            // Waiting for another instance's migration, or a long one, must not time out.
            DbConn::Pg(c) => without_timeouts(c, |c| -> anyhow::Result<usize> {
                // Several instances may start at once; one migrates, the others wait.
                diesel::sql_query("SELECT pg_advisory_lock(7261830471)").execute(c)?;
                let r = c
                    .repair()
                    .context("repairing a database of an earlier release")
                    .and_then(|_| {
                        c.run_pending_migrations(POSTGRES_MIGRATIONS)
                            .map(|v| v.len())
                            .map_err(|e| anyhow::anyhow!("{e}"))
                    });
                diesel::sql_query("SELECT pg_advisory_unlock(7261830471)").execute(c)?;
                r
            })??,
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
        // The first purge of a large database may take a while.
        Ok(match &mut conn {
            DbConn::Sqlite(c) => c.forget_client_data(before)?,
            DbConn::Pg(c) => without_timeouts(c, |c| c.forget_client_data(before))??,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_url_bounds_every_wait_and_the_operator_wins() {
        let t = DatabaseSettings::default();
        let url = server_url(
            "postgres://u:p@db:5432/x?connect_timeout=3&options=-c%20search_path%3Dblog&sslmode=require",
            "afterword",
            &t,
        );
        let q: Vec<(String, String)> = url::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |k: &str| q.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
        assert_eq!(get("connect_timeout"), Some("3"));
        assert_eq!(get("sslmode"), Some("require"));
        assert_eq!(get("tcp_user_timeout"), Some("10000"));
        assert_eq!(get("keepalives"), Some("1"));
        assert_eq!(get("application_name"), Some("afterword"));
        // Ours first, the operator's after: a setting in both is the operator's.
        assert_eq!(
            get("options"),
            Some(
                "-c statement_timeout=8000 -c idle_in_transaction_session_timeout=15000 \
                 -c search_path=blog"
            )
        );
        assert!(
            url.starts_with("postgres://u:p@db:5432/x?connect_timeout=3&"),
            "{url}"
        );
    }
}
