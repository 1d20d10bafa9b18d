//! Upgrades: a database made by the first release (tests/fixtures/upgrade, made by that
//! release's own binary with make.py) is migrated by this one, then read and written
//! through the API, and ends with the schema of a database made fresh. On both backends.

use std::path::Path;
use std::sync::Arc;

use crate::common::{self, Backend, TestDb};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use serde_json::{json, Value};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upgrade");
const BIN: &str = env!("CARGO_BIN_EXE_afterword");

/// The first release's site, with a one-second edit window: its tokens are checked, and
/// its comments are long past any window.
const CONFIG: &str = "[[site]]\nid = \"default\"\norigins = [\"*\"]\nedit_window = \"1s\"\n";

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

/// Every table's columns, foreign keys and indexes, in an order that does not depend on
/// how a column came to be (ALTER TABLE adds at the end).
const SQLITE_SCHEMA: &str = "SELECT COALESCE(group_concat(line, char(10)), '') AS t FROM ( \
    SELECT m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' \
        || COALESCE(p.dflt_value, '') || ' ' || p.pk AS line \
    FROM sqlite_master m JOIN pragma_table_info(m.name) p \
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
    UNION ALL SELECT 'fk ' || m.name || '.' || f.\"from\" || ' ' || f.\"table\" || '.' \
        || COALESCE(f.\"to\", '') || ' ' || f.on_delete \
    FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table' \
    UNION ALL SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master \
    WHERE type IN ('index', 'trigger', 'view') AND name NOT LIKE 'sqlite_%' \
    ORDER BY line)";

fn schema_sqlite(path: &Path) -> String {
    let mut c = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    diesel::sql_query(SQLITE_SCHEMA)
        .get_result::<Text>(&mut c)
        .unwrap()
        .t
}

fn schema_pg(url: &str) -> String {
    let mut c = PgConnection::establish(url).unwrap();
    diesel::sql_query(crate::reaction_migration::PG_SCHEMA)
        .get_result::<Text>(&mut c)
        .unwrap()
        .t
}

/// The first release's database, as a test database of this backend.
fn first_release(backend: Backend) -> Option<TestDb> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("first-release.db");
            std::fs::copy(Path::new(FIXTURES).join("first-release.db"), &path).unwrap();
            Some(TestDb::Sqlite {
                url: format!("sqlite://{}", path.display()),
                path,
                _dir: dir,
            })
        }
        Backend::Postgres => {
            let db = TestDb::new(Backend::Postgres)?;
            let dump =
                std::fs::read_to_string(Path::new(FIXTURES).join("first-release.pg.sql")).unwrap();
            PgConnection::establish(db.url())
                .unwrap()
                .batch_execute(&dump)
                .unwrap();
            Some(db)
        }
    }
}

fn schema_of(db: &TestDb) -> String {
    match db {
        TestDb::Sqlite { path, .. } => schema_sqlite(path),
        TestDb::Postgres { url, .. } => schema_pg(url),
    }
}

/// The edit tokens the first release handed out when it wrote the fixture.
fn token(backend: Backend, who: &str) -> (i64, String) {
    let all: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(FIXTURES).join("tokens.json")).unwrap(),
    )
    .unwrap();
    let side = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let t = &all[side][who];
    (
        t["id"].as_i64().unwrap(),
        t["edit_token"].as_str().unwrap().to_owned(),
    )
}

fn migrate(args: &[&str], url: &str) -> String {
    let out = std::process::Command::new(BIN)
        .arg("migrate")
        .args(args)
        .env_remove("AFTERWORD_CONFIG")
        .env("AFTERWORD_DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The comment counts of the two posts.
async fn counts(app: &common::TestApp) -> (i64, i64) {
    let counts = app
        .get("/api/v1/counts?site=default&slug=/first-post/&slug=/second-post/")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let n = |slug: &str| counts["counts"][slug].as_i64().unwrap();
    (n("/first-post/"), n("/second-post/"))
}

async fn upgrade(backend: Backend) {
    let Some(db) = first_release(backend) else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    // What an operator sees first: the repair and every migration since, and nothing done.
    let before = schema_of(&db);
    let plan = migrate(&["--dry-run"], db.url());
    assert!(plan.contains("repair: add comments.root_id"), "{plan}");
    for name in [
        "2026-11-27-000002_admin_accounts",
        "2026-11-27-000010_drop_unused_email_index",
    ] {
        assert!(plan.contains(&format!("pending: {name}")), "{plan}");
    }
    assert!(!plan.contains("000001_init"), "{plan}");
    assert_eq!(schema_of(&db), before, "--dry-run changed the database");

    // The server migrates at start.
    let db = Arc::new(db);
    let app = common::spawn_on(Arc::clone(&db), CONFIG).await;
    assert!(migrate(&["--dry-run"], db.url()).contains("up to date"));
    let reference = Arc::new(TestDb::new(backend).unwrap());
    drop(common::spawn_on(Arc::clone(&reference), "").await);
    assert_eq!(
        schema_of(&db),
        schema_of(&reference),
        "upgraded schema differs from a fresh one"
    );

    // Everything the first release stored reads back: replies under their comments, the
    // edit, the deletion gone, the counts.
    let page = app.thread("default", "/first-post/", "").await;
    let text = page.to_string();
    for said in [
        "First comment, from <em>the first release</em>.",
        "A reply to Ada.",
        "A reply to Bob, two deep.",
        "Another top-level comment, edited.",
    ] {
        assert!(text.contains(said), "{said} missing from {page}");
    }
    assert!(!text.contains("Deleted by its author"), "{page}");
    assert_eq!(page["thread"]["title"], "First post", "{page}");
    let (ada, _) = token(backend, "ada");
    let (bob, _) = token(backend, "bob");
    let (cy, _) = token(backend, "cy");
    assert_eq!(counts(&app).await, (4, 1));
    // The feeds hold the comments stored before them (the migration records them as
    // published when they were written), without the deleted one.
    let r = app.get("/feeds/default.atom").await;
    assert_eq!(r.status(), 200);
    let feed = r.text().await.unwrap();
    let entries = feed_rs::parser::parse(feed.as_bytes()).unwrap().entries;
    assert_eq!(entries.len(), 5, "{feed}");
    assert!(feed.contains("A reply to Bob, two deep."), "{feed}");
    assert!(!feed.contains("Deleted by its author"), "{feed}");
    // Addresses the first release kept in clear are keyed hashes now.
    assert_eq!(
        db.number("SELECT COUNT(*) AS n FROM comments WHERE ip = '127.0.0.1'"),
        0
    );
    assert_eq!(
        db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {cy} AND root_id = {ada}"
        )),
        1
    );

    // Its edit tokens still belong to their comments (the server key survived): the
    // answer is the closed window, not a foreign token.
    let (dee, dee_token) = token(backend, "dee");
    let r = app
        .edit(
            app.url(&format!("/api/v1/comments/{dee}")),
            &dee_token,
            &json!({"body": "late"}),
        )
        .await;
    common::expect_error(r, 403, "edit_window_closed").await;
    let r = app
        .edit(
            app.url(&format!("/api/v1/comments/{dee}")),
            &"x".repeat(43),
            &json!({"body": "late"}),
        )
        .await;
    common::expect_error(r, 403, "invalid_token").await;

    // New writes: a reply three deep under the old ones, a new comment, a reaction.
    let (reply, _) = app
        .comment(
            "default",
            "/first-post/",
            json!({"body": "Three deep, after the upgrade.", "author": "Fay", "parent_id": cy}),
        )
        .await;
    assert_eq!(reply["parent_id"], cy);
    let (_, token_new) = app
        .comment(
            "default",
            "/second-post/",
            json!({"body": "New here.", "author": "Gus"}),
        )
        .await;
    assert!(!token_new.is_empty());
    let r = app
        .client
        .post(app.url("/api/v1/reactions?site=default&slug=/first-post/"))
        .json(&json!({"kind": "👍", "comment_id": bob, "visitor": "v1", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let page = app.thread("default", "/first-post/", "").await;
    assert!(
        page.to_string().contains("Three deep, after the upgrade."),
        "{page}"
    );
    assert_eq!(counts(&app).await, (5, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_release_sqlite_database_upgrades() {
    upgrade(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_release_postgres_database_upgrades() {
    upgrade(Backend::Postgres).await;
}
