//! The reaction_counts migration: up fills the counters from the reactions already stored,
//! down undoes exactly what up did. On SQLite and on PostgreSQL.

use crate::common;

use afterword::db::schema::reaction_counts as rc;
use afterword::db::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use common::{Backend, TestDb};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::MigrationHarness;

const NAME: &str = "2026-11-27-000004_reaction_counts";

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

/// Every table, column and index, as text.
const SQLITE_SCHEMA: &str = "SELECT COALESCE(group_concat(line, char(10)), '') AS t FROM \
    (SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS line FROM sqlite_master \
     WHERE name NOT LIKE 'sqlite_%' AND name != '__diesel_schema_migrations' ORDER BY type, name)";
pub(crate) const PG_SCHEMA: &str =
    "SELECT COALESCE(string_agg(line, E'\\n' ORDER BY line), '') AS t FROM ( \
    SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
        || COALESCE(column_default, '') AS line \
    FROM information_schema.columns WHERE table_schema = 'public' \
        AND table_name != '__diesel_schema_migrations' \
    UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' \
        AND tablename != '__diesel_schema_migrations' \
    UNION ALL SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
        WHERE connamespace = 'public'::regnamespace) AS s";

/// Runs every migration before ours, stores a few reactions, runs ours, checks the
/// counters, reverts ours and compares the schema with the one before. A macro: the
/// same steps on two connection types.
macro_rules! check {
    ($conn:expr, $backend:ty, $migrations:expr, $schema_sql:expr) => {{
        let mut c = $conn;
        let all = MigrationSource::<$backend>::migrations(&$migrations).unwrap();
        let ours = all
            .iter()
            .position(|m| m.name().to_string() == NAME)
            .expect("the migration is embedded");
        for _ in 0..ours {
            c.run_next_migration($migrations).unwrap();
        }
        let schema = |c: &mut _| -> String {
            diesel::sql_query($schema_sql)
                .get_result::<Text>(c)
                .unwrap()
                .t
        };
        let before = schema(&mut c);
        c.batch_execute(
            "INSERT INTO threads (id, site, slug, locked, comment_count, created_at) \
                 VALUES (1, 's', '/a/', FALSE, 1, 0); \
             INSERT INTO comments (id, thread_id, status, body, html, avatar, notify_replies, created_at) \
                 VALUES (7, 1, 'approved', 'x', 'x', 'a', FALSE, 0); \
             INSERT INTO reactions (thread_id, comment_id, kind, visitor_hash, created_at) VALUES \
                 (1, NULL, 'a', 'v1', 0), (1, NULL, 'a', 'v2', 0), (1, NULL, 'b', 'v1', 0), \
                 (1, 7, 'a', 'v1', 0);",
        )
        .unwrap();
        c.run_next_migration($migrations).unwrap();
        let got: Vec<(i64, String, i64)> = rc::table
            .select((rc::comment_key, rc::kind, rc::count))
            .order((rc::comment_key, rc::kind))
            .load(&mut c)
            .unwrap();
        assert_eq!(
            got,
            vec![(0, "a".into(), 2), (0, "b".into(), 1), (7, "a".into(), 1)]
        );
        assert_ne!(schema(&mut c), before);
        c.revert_last_migration($migrations).unwrap();
        assert_eq!(schema(&mut c), before, "down.sql must undo exactly what up.sql did");
        // And up again, as `afterword migrate` would after a rollback.
        c.run_next_migration($migrations).unwrap();
    }};
}

#[test]
fn sqlite_migration_fills_counters_and_reverts_exactly() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    check!(
        SqliteConnection::establish(&path).unwrap(),
        diesel::sqlite::Sqlite,
        SQLITE_MIGRATIONS,
        SQLITE_SCHEMA
    );
}

#[test]
fn postgres_migration_fills_counters_and_reverts_exactly() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    check!(
        PgConnection::establish(db.url()).unwrap(),
        diesel::pg::Pg,
        POSTGRES_MIGRATIONS,
        PG_SCHEMA
    );
}
