//! The scratch file between reading and writing: a temporary SQLite database holding the
//! records in file order, read back thread by thread. Disqus lists all threads first and
//! then every post in any order, Remark42 writes comments in any order: grouping them in
//! memory would cost as much as the file, grouping them on disk costs a few seconds.

use anyhow::Context;
use diesel::prelude::*;
use diesel::SqliteConnection;

use super::{SourceComment, SourceThread};

mod tables {
    diesel::table! {
        staged_threads (ord) {
            ord -> BigInt,
            key -> Text,
            rec -> Text,
        }
    }
    diesel::table! {
        staged_comments (seq) {
            seq -> BigInt,
            thread -> Text,
            rec -> Text,
        }
    }
    diesel::allow_tables_to_appear_in_same_query!(staged_threads, staged_comments);
}
use tables::{staged_comments, staged_threads};

/// Records per scratch transaction.
const STAGE_BATCH: usize = 20_000;

pub struct Stage {
    conn: SqliteConnection,
    pending: usize,
    /// Bytes of records written, and how many may be (`max_input_bytes`): records take
    /// more room than the file in the worst case (escaped control characters).
    written: u64,
    max: u64,
    pub threads: u64,
    pub comments: u64,
}

impl Stage {
    /// SQLite's own temporary database (an empty name): created `0600` in the temporary
    /// directory (`SQLITE_TMPDIR`, else `TMPDIR`) and unlinked at once, so nothing is left
    /// behind however the import ends, even killed.
    pub fn create(max: u64) -> anyhow::Result<Stage> {
        let mut conn = SqliteConnection::establish("")
            .context("cannot create the scratch file in the temporary directory")?;
        // Scratch data: nothing to keep after a crash.
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -8192;
             CREATE TABLE staged_threads (ord INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, rec TEXT NOT NULL);
             CREATE TABLE staged_comments (seq INTEGER PRIMARY KEY, thread TEXT NOT NULL, rec TEXT NOT NULL);
             BEGIN;",
        )?;
        Ok(Stage {
            conn,
            pending: 0,
            written: 0,
            max,
            threads: 0,
            comments: 0,
        })
    }

    /// A record to write, as long as the scratch file stays within its cap.
    fn record<T: serde::Serialize>(&mut self, rec: &T) -> anyhow::Result<String> {
        let text = serde_json::to_string(rec)?;
        self.written += text.len() as u64;
        if self.written > self.max {
            anyhow::bail!(super::input::too_big(
                "the scratch file",
                self.max,
                "max_input_bytes"
            ));
        }
        Ok(text)
    }

    fn tick(&mut self) -> anyhow::Result<()> {
        self.pending += 1;
        if self.pending >= STAGE_BATCH {
            self.pending = 0;
            diesel::connection::SimpleConnection::batch_execute(&mut self.conn, "COMMIT; BEGIN;")?;
        }
        Ok(())
    }

    /// Keeps the first record of each thread key; a later one only fills what it lacked.
    pub fn thread(&mut self, t: &SourceThread) -> anyhow::Result<()> {
        let old: Option<String> = staged_threads::table
            .filter(staged_threads::key.eq(&t.key))
            .select(staged_threads::rec)
            .first(&mut self.conn)
            .optional()?;
        match old {
            None => {
                diesel::insert_into(staged_threads::table)
                    .values((
                        staged_threads::key.eq(&t.key),
                        staged_threads::rec.eq(self.record(t)?),
                    ))
                    .execute(&mut self.conn)?;
                self.threads += 1;
            }
            Some(old) => {
                let mut old: SourceThread = serde_json::from_str(&old)?;
                old.url = old.url.or_else(|| t.url.clone());
                old.title = old.title.or_else(|| t.title.clone());
                old.slug = old.slug.or_else(|| t.slug.clone());
                diesel::update(staged_threads::table.filter(staged_threads::key.eq(&t.key)))
                    .set(staged_threads::rec.eq(self.record(&old)?))
                    .execute(&mut self.conn)?;
            }
        }
        self.tick()
    }

    pub fn comment(&mut self, c: &SourceComment) -> anyhow::Result<()> {
        diesel::insert_into(staged_comments::table)
            .values((
                staged_comments::thread.eq(&c.thread),
                staged_comments::rec.eq(self.record(c)?),
            ))
            .execute(&mut self.conn)?;
        self.comments += 1;
        self.tick()
    }

    /// Done writing: indexes the comments by thread for reading back.
    pub fn seal(&mut self) -> anyhow::Result<()> {
        diesel::connection::SimpleConnection::batch_execute(
            &mut self.conn,
            "COMMIT; CREATE INDEX staged_comments_thread ON staged_comments (thread, seq);",
        )?;
        Ok(())
    }

    /// Up to `n` threads after the `after`th (0: from the first), in the order first seen,
    /// each with its place.
    pub fn threads_after(
        &mut self,
        after: i64,
        n: i64,
    ) -> anyhow::Result<Vec<(i64, SourceThread)>> {
        let recs: Vec<(i64, String)> = staged_threads::table
            .filter(staged_threads::ord.gt(after))
            .order(staged_threads::ord)
            .limit(n)
            .select((staged_threads::ord, staged_threads::rec))
            .load(&mut self.conn)?;
        recs.into_iter()
            .map(|(ord, r)| Ok((ord, serde_json::from_str(&r)?)))
            .collect()
    }

    /// How many comments a thread has.
    pub fn count_of(&mut self, key: &str) -> anyhow::Result<u64> {
        let n: i64 = staged_comments::table
            .filter(staged_comments::thread.eq(key))
            .count()
            .get_result(&mut self.conn)?;
        Ok(n as u64)
    }

    /// A thread's comments, in file order.
    pub fn comments_of(&mut self, key: &str) -> anyhow::Result<Vec<SourceComment>> {
        let recs: Vec<String> = staged_comments::table
            .filter(staged_comments::thread.eq(key))
            .order(staged_comments::seq)
            .select(staged_comments::rec)
            .load(&mut self.conn)?;
        recs.iter().map(|r| Ok(serde_json::from_str(r)?)).collect()
    }

    /// How many comments name a thread the file never described.
    pub fn orphans(&mut self) -> anyhow::Result<i64> {
        staged_comments::table
            .filter(diesel::dsl::not(
                staged_comments::thread.eq_any(staged_threads::table.select(staged_threads::key)),
            ))
            .count()
            .get_result(&mut self.conn)
            .map_err(Into::into)
    }
}
