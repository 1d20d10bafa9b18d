//! The queries of `afterword import` and `afterword export`, for both backends.
//!
//! Imports write on their own connection, outside the server's writer, in large
//! transactions; each commit moves `change_epoch` (SQLite) or notifies the changed threads
//! (PostgreSQL), so running servers drop what they cached.

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::models::ThreadRow;
use super::schema::{change_epoch, comments, import_tombstones, threads};

diesel::define_sql_function!(fn last_insert_rowid() -> diesel::sql_types::BigInt);

/// The commenters' address index, exactly as the migrations leave it (a unit test checks).
/// A large import on SQLite drops it and builds it again at its end (see
/// [`ImportStore::set_aside_address_index`]); every start builds it again if an import was
/// stopped before it could.
pub const SQLITE_ADDRESS_INDEX: &str =
    "CREATE INDEX comments_email_key_idx ON comments (email_key, status)";

/// Keeps the source id of an imported comment about to be removed for good (bound: the
/// time, the comment's id), so that importing the same file again does not bring it back.
/// Both backends read it alike.
pub const TOMBSTONE_SQL: &str = "INSERT INTO import_tombstones (site, source_key, removed_at) \
     SELECT t.site, c.source_key, $1 FROM comments c JOIN threads t ON t.id = c.thread_id \
     WHERE c.id = $2 AND c.source_key IS NOT NULL ON CONFLICT DO NOTHING";

/// A comment as an import stores it: with its source id, and dates from the source.
#[derive(Debug)]
pub struct ImportedComment<'a> {
    pub thread_id: i64,
    pub parent_id: Option<i64>,
    pub root_id: Option<i64>,
    pub status: &'a str,
    pub body: &'a str,
    pub html: &'a str,
    pub author: Option<&'a str>,
    pub email: Option<&'a str>,
    pub email_key: Option<&'a str>,
    pub website: Option<&'a str>,
    pub avatar: &'a str,
    pub notify_replies: bool,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub deleted_by: Option<&'a str>,
    pub source_key: Option<&'a str>,
}

/// A comment as the export writes it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ExportCommentRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub status: String,
    pub body: String,
    pub author: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub source_key: Option<String>,
}

/// What an import needs to know of a comment already in a thread.
pub struct KnownComment {
    pub id: i64,
    pub root_id: Option<i64>,
    pub source_key: Option<String>,
}

pub trait ImportStore: Sized {
    /// Runs a batch in a transaction that takes the write lock up front (SQLite:
    /// `BEGIN IMMEDIATE`), so a running server's commit in between can never make its
    /// first write fail: a deferred one would start as a read and could not upgrade.
    fn batch_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>;
    /// Between two of the import's transactions: a moment in which a running server's
    /// writer takes the write lock (SQLite; it asks every few milliseconds). Nothing to do
    /// on PostgreSQL, whose writers do not wait on one lock.
    fn between_transactions(&mut self) {}
    /// The source ids of a site's imported comments removed here for good (see
    /// [`TOMBSTONE_SQL`]).
    fn removed_sources(&mut self, site: &str) -> QueryResult<std::collections::HashSet<String>>;
    /// Every comment of a thread: its id, root and source key.
    fn known_comments(&mut self, thread_id: i64) -> QueryResult<Vec<KnownComment>>;
    /// Stores one comment; returns its id.
    fn insert_imported(&mut self, c: &ImportedComment<'_>) -> QueryResult<i64>;
    /// A large page cache and rare checkpoints for the length of an import (`on`), the
    /// usual after: the indexes of a million comments do not fit the server's 512 KiB, and
    /// every insert would read its index pages back from the OS.
    fn import_cache(&mut self, on: bool) -> QueryResult<()>;
    /// Drops the commenters' address index for the rest of a large import, in the batch's
    /// transaction (rolled back with it); true if it did. On SQLite, addresses come in no
    /// order, so every transaction would write most of the index's pages again: for a
    /// million comments, twice the bytes of the comments themselves.
    fn set_aside_address_index(&mut self) -> QueryResult<bool>;
    /// Builds the address index where it is missing; nothing where it stands.
    fn restore_address_index(&mut self) -> QueryResult<()>;
    /// Tells running servers, at commit, that these threads (`(site, slug)`) changed.
    fn announce(&mut self, changed: &[(String, String)]) -> QueryResult<()>;
    /// The current change epoch (see the module doc).
    fn change_epoch(&mut self) -> QueryResult<i64>;
    /// Up to `n` threads of a site after the id `after`, by id.
    fn threads_after(&mut self, site: &str, after: i64, n: i64) -> QueryResult<Vec<ThreadRow>>;
    /// Every comment of a thread, by id.
    fn export_comments(&mut self, thread_id: i64) -> QueryResult<Vec<ExportCommentRow>>;
    /// Puts a thread's imported comments in the feeds' record (imports write no events):
    /// published when they were written if approved, held ones arrived then. Comments
    /// already recorded keep their rows.
    fn import_feed_entries(&mut self, thread_id: i64) -> QueryResult<usize>;
}

/// Every column of an imported comment, bound NULL or not: one statement text, prepared
/// once and cached (an Insertable struct leaves out its `None` columns, so each mix of
/// missing fields would be a statement of its own).
macro_rules! imported_values {
    ($c:expr) => {
        (
            comments::thread_id.eq($c.thread_id),
            comments::parent_id.eq($c.parent_id),
            comments::root_id.eq($c.root_id),
            comments::status.eq($c.status),
            comments::body.eq($c.body),
            comments::html.eq($c.html),
            comments::author.eq($c.author),
            comments::email.eq($c.email),
            comments::email_key.eq($c.email_key),
            comments::website.eq($c.website),
            comments::avatar.eq($c.avatar),
            comments::notify_replies.eq($c.notify_replies),
            comments::created_at.eq($c.created_at),
            comments::edited_at.eq($c.edited_at),
            comments::deleted_at.eq($c.deleted_at),
            comments::deleted_by.eq($c.deleted_by),
            comments::source_key.eq($c.source_key),
        )
    };
}

macro_rules! common_import_fns {
    () => {
        fn import_feed_entries(&mut self, thread_id: i64) -> QueryResult<usize> {
            diesel::sql_query(
                "INSERT INTO feed_entries (comment_id, site, thread_id, arrived_at, published_at) \
                 SELECT c.id, t.site, c.thread_id, c.created_at, \
                 CASE WHEN c.status = 'approved' THEN c.created_at END \
                 FROM comments c JOIN threads t ON t.id = c.thread_id \
                 WHERE c.thread_id = $1 AND c.status IN ('approved', 'pending') \
                 ON CONFLICT (comment_id) DO NOTHING",
            )
            .bind::<diesel::sql_types::BigInt, _>(thread_id)
            .execute(self)
        }

        fn known_comments(&mut self, thread_id: i64) -> QueryResult<Vec<KnownComment>> {
            let rows: Vec<(i64, Option<i64>, Option<String>)> = comments::table
                .filter(comments::thread_id.eq(thread_id))
                .select((comments::id, comments::root_id, comments::source_key))
                .load(self)?;
            Ok(rows
                .into_iter()
                .map(|(id, root_id, source_key)| KnownComment {
                    id,
                    root_id,
                    source_key,
                })
                .collect())
        }

        fn removed_sources(
            &mut self,
            site: &str,
        ) -> QueryResult<std::collections::HashSet<String>> {
            import_tombstones::table
                .filter(import_tombstones::site.eq(site))
                .select(import_tombstones::source_key)
                .load::<String>(self)
                .map(|keys| keys.into_iter().collect())
        }

        fn change_epoch(&mut self) -> QueryResult<i64> {
            change_epoch::table
                .select(change_epoch::epoch)
                .first::<i64>(self)
                .optional()
                .map(|e| e.unwrap_or(0))
        }

        fn threads_after(&mut self, site: &str, after: i64, n: i64) -> QueryResult<Vec<ThreadRow>> {
            threads::table
                .filter(threads::site.eq(site))
                .filter(threads::id.gt(after))
                .order(threads::id)
                .limit(n)
                .select(ThreadRow::as_select())
                .load(self)
        }

        fn export_comments(&mut self, thread_id: i64) -> QueryResult<Vec<ExportCommentRow>> {
            comments::table
                .filter(comments::thread_id.eq(thread_id))
                .order(comments::id)
                .select(ExportCommentRow::as_select())
                .load(self)
        }
    };
}

impl ImportStore for SqliteConnection {
    common_import_fns!();

    fn insert_imported(&mut self, c: &ImportedComment<'_>) -> QueryResult<i64> {
        // Not `RETURNING`: SQLite runs it as a trigger, which makes every insert keep a
        // statement journal (a copy of each page it changes, in case it fails halfway).
        // A single-row insert without it fails before it changes anything.
        diesel::insert_into(comments::table)
            .values(imported_values!(c))
            .execute(self)?;
        diesel::select(last_insert_rowid()).get_result(self)
    }

    fn batch_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.immediate_transaction(f)
    }

    fn between_transactions(&mut self) {
        // 20 ms after each transaction of up to a second: 2 % of the import's time.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    fn import_cache(&mut self, on: bool) -> QueryResult<()> {
        // During an import, the write-ahead log is copied into the database every 128 MiB
        // instead of every 4 MiB: the same index pages change in every transaction, and
        // each copy would write them all again.
        let (kib, wal_pages) = if on { (49_152, 32_768) } else { (512, 1_000) };
        diesel::sql_query(format!("PRAGMA cache_size = -{kib}")).execute(self)?;
        diesel::sql_query(format!("PRAGMA wal_autocheckpoint = {wal_pages}"))
            .execute(self)
            .map(|_| ())
    }

    fn set_aside_address_index(&mut self) -> QueryResult<bool> {
        diesel::sql_query("DROP INDEX IF EXISTS comments_email_key_idx").execute(self)?;
        Ok(true)
    }

    fn restore_address_index(&mut self) -> QueryResult<()> {
        let sql = SQLITE_ADDRESS_INDEX.replacen("INDEX", "INDEX IF NOT EXISTS", 1);
        diesel::sql_query(sql).execute(self).map(|_| ())
    }

    fn announce(&mut self, _changed: &[(String, String)]) -> QueryResult<()> {
        // A server on SQLite shares the file with no other instance: it polls the epoch.
        diesel::update(change_epoch::table)
            .set(change_epoch::epoch.eq(change_epoch::epoch + 1))
            .execute(self)
            .map(|_| ())
    }
}

impl ImportStore for PgConnection {
    common_import_fns!();

    fn insert_imported(&mut self, c: &ImportedComment<'_>) -> QueryResult<i64> {
        diesel::insert_into(comments::table)
            .values(imported_values!(c))
            .returning(comments::id)
            .get_result(self)
    }

    fn batch_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.transaction(f)
    }

    fn import_cache(&mut self, on: bool) -> QueryResult<()> {
        // An import's statements (and its pauses inside a transaction, while it reads and
        // renders) may outlast a server's session timeouts; RESET brings those back.
        use diesel::connection::SimpleConnection;
        self.batch_execute(if on {
            super::LIFT_TIMEOUTS
        } else {
            super::RESTORE_TIMEOUTS
        })
    }

    // PostgreSQL logs index entries, not every changed page at each commit: the index
    // stays (imports on PostgreSQL were not measured for this).
    fn set_aside_address_index(&mut self) -> QueryResult<bool> {
        Ok(false)
    }

    fn restore_address_index(&mut self) -> QueryResult<()> {
        Ok(())
    }

    fn announce(&mut self, changed: &[(String, String)]) -> QueryResult<()> {
        diesel::update(change_epoch::table)
            .set(change_epoch::epoch.eq(change_epoch::epoch + 1))
            .execute(self)?;
        let payloads: Vec<String> = changed
            .iter()
            .map(|(site, slug)| crate::cache::notify_payload(site, slug))
            .collect();
        // Delivered at commit to every listening instance, as the writer's own are.
        diesel::sql_query(
            "SELECT COUNT(*) FROM (SELECT pg_notify($1, p) FROM unnest($2) AS p) AS sent",
        )
        .bind::<diesel::sql_types::Text, _>(super::NOTIFY_CHANNEL)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(payloads)
        .execute(self)
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel_migrations::MigrationHarness;

    #[derive(QueryableByName)]
    struct Sql {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }

    fn index_sql(c: &mut SqliteConnection) -> Vec<String> {
        diesel::sql_query(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'comments_email_key_idx'",
        )
        .load::<Sql>(c)
        .unwrap()
        .into_iter()
        .map(|r| r.sql)
        .collect()
    }

    #[test]
    fn the_address_index_is_rebuilt_as_the_migrations_define_it() {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.run_pending_migrations(crate::db::SQLITE_MIGRATIONS)
            .unwrap();
        assert_eq!(index_sql(&mut c), [SQLITE_ADDRESS_INDEX]);
        assert!(c.set_aside_address_index().unwrap());
        assert!(index_sql(&mut c).is_empty());
        c.restore_address_index().unwrap();
        c.restore_address_index().unwrap();
        assert_eq!(index_sql(&mut c), [SQLITE_ADDRESS_INDEX]);
    }
}
