//! What migrations alone cannot do for databases made by earlier releases.
//!
//! The first release (b9f3cb3) created `comments` without `root_id`; its migration
//! 2026-11-27-000001_init was then edited in place to add it. Databases it made record that
//! migration as applied, so nothing adds the column: it is added here, before the pending
//! migrations run, and filled from each comment's chain of parents.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The repairs an existing database needs, in plain words (empty: none).
pub trait Repairs {
    fn needed_repairs(&mut self) -> QueryResult<Vec<&'static str>>;
    /// Applies them, in one transaction.
    fn repair(&mut self) -> QueryResult<usize>;
}

const ROOT_ID: &str = "add comments.root_id (a database from the first release)";

/// Fills `root_id` of every reply with the top-level comment above it.
const FILL_ROOT_IDS_SQLITE: &str = "WITH RECURSIVE chain (id, root) AS ( \
        SELECT id, id FROM comments WHERE parent_id IS NULL \
        UNION ALL SELECT c.id, chain.root FROM comments c JOIN chain ON c.parent_id = chain.id) \
    UPDATE comments SET root_id = (SELECT root FROM chain WHERE chain.id = comments.id) \
    WHERE parent_id IS NOT NULL";

const FILL_ROOT_IDS_PG: &str = "WITH RECURSIVE chain (id, root) AS ( \
        SELECT id, id FROM comments WHERE parent_id IS NULL \
        UNION ALL SELECT c.id, chain.root FROM comments c JOIN chain ON c.parent_id = chain.id) \
    UPDATE comments SET root_id = chain.root FROM chain \
    WHERE chain.id = comments.id AND comments.parent_id IS NOT NULL";

impl Repairs for SqliteConnection {
    fn needed_repairs(&mut self) -> QueryResult<Vec<&'static str>> {
        let has = |c: &mut Self, sql: &str| -> QueryResult<bool> {
            Ok(diesel::sql_query(sql).get_result::<Count>(c)?.n > 0)
        };
        let table = has(
            self,
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'comments'",
        )?;
        let column = has(
            self,
            "SELECT COUNT(*) AS n FROM pragma_table_info('comments') WHERE name = 'root_id'",
        )?;
        Ok(if table && !column {
            vec![ROOT_ID]
        } else {
            vec![]
        })
    }

    fn repair(&mut self) -> QueryResult<usize> {
        let needed = self.needed_repairs()?;
        if needed.is_empty() {
            return Ok(0);
        }
        self.immediate_transaction(|c| {
            c.batch_execute(
                "ALTER TABLE comments ADD COLUMN root_id BIGINT \
                     REFERENCES comments (id) ON DELETE CASCADE; \
                 CREATE INDEX comments_root_idx ON comments (thread_id, root_id, id);",
            )?;
            c.batch_execute(FILL_ROOT_IDS_SQLITE)
        })?;
        Ok(needed.len())
    }
}

impl Repairs for PgConnection {
    fn needed_repairs(&mut self) -> QueryResult<Vec<&'static str>> {
        let row: Count = diesel::sql_query(
            "SELECT (CASE WHEN to_regclass('comments') IS NOT NULL AND NOT EXISTS ( \
                 SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name = 'comments' AND column_name = 'root_id') \
             THEN 1 ELSE 0 END)::BIGINT AS n",
        )
        .get_result(self)?;
        Ok(if row.n > 0 { vec![ROOT_ID] } else { vec![] })
    }

    fn repair(&mut self) -> QueryResult<usize> {
        self.transaction(|c| {
            let needed = c.needed_repairs()?;
            if needed.is_empty() {
                return Ok(0);
            }
            c.batch_execute(
                "ALTER TABLE comments ADD COLUMN root_id BIGINT \
                     REFERENCES comments (id) ON DELETE CASCADE; \
                 CREATE INDEX comments_root_idx ON comments (thread_id, root_id, id);",
            )?;
            c.batch_execute(FILL_ROOT_IDS_PG)?;
            Ok(needed.len())
        })
    }
}
