//! Faults injected into the writer, alone and under concurrent load: every 201 must be
//! stored exactly once and every 5xx must have stored nothing, and the service must go on.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use afterword::db::faults::Fault;
use common::writes::{
    assert_reads_honest, assert_stored_or_refused, assert_truthful, post_all, post_padded, slugs,
    spawn_reader,
};
use common::{Backend, TestApp};
use serde_json::json;

on_both_backends!(
    a_panicking_write_rolls_back_alone,
    failing_statements_roll_back_alone,
    a_failed_commit_stores_nothing_of_its_batch,
    a_transaction_ended_under_the_writer_stores_nothing_of_its_batch,
    mixed_faults_under_load_never_lie,
    a_dead_writer_fails_health_and_stops_the_server,
    a_write_whose_client_left_still_refreshes_its_page,
);

/// A panic inside a write rolls back that write alone; the writes batched with it commit.
async fn a_panicking_write_rolls_back_alone(app: TestApp) {
    app.faults.inject("/panic/", Fault::JobPanics);
    let app = Arc::new(app);
    let answers = post_all(
        &app,
        "panic",
        slugs(30, |i| match i % 3 {
            0 => format!("/panic/{i}/"),
            _ => format!("/calm/{i}/"),
        }),
    )
    .await;
    for a in &answers {
        if a.slug.starts_with("/panic/") {
            assert_eq!(a.status, 500, "{}: {}", a.key, a.body);
            assert_eq!(a.body["error"]["code"], "internal_error");
        } else {
            assert_eq!(a.status, 201, "{}: {}", a.key, a.body);
        }
    }
    assert_eq!(assert_truthful(&app, &answers).await, (20, 10));
    app.faults.clear("/panic/");
    app.comment("open", "/panic/0/", json!({"body": "after the panic"}))
        .await;
}

/// A statement that fails rolls back its write alone. A write that ignores the failure:
/// PostgreSQL has aborted its savepoint, so it is not stored and says so; SQLite keeps
/// what it did, so it is stored and says so.
async fn failing_statements_roll_back_alone(app: TestApp) {
    app.faults.inject("/fail/", Fault::JobStatementFails);
    app.faults
        .inject("/ignore/", Fault::JobIgnoresFailedStatement);
    let backend = app.backend();
    let app = Arc::new(app);
    let answers = post_all(
        &app,
        "fail",
        slugs(30, |i| match i % 3 {
            0 => format!("/fail/{i}/"),
            1 => format!("/ignore/{i}/"),
            _ => format!("/calm/{i}/"),
        }),
    )
    .await;
    for a in &answers {
        let want = match (&a.slug[..3], backend) {
            ("/fa", _) => 500,
            ("/ig", Backend::Postgres) => 500,
            _ => 201,
        };
        assert_eq!(a.status, want, "{} ({}): {}", a.key, a.slug, a.body);
    }
    assert_truthful(&app, &answers).await;
}

/// A COMMIT that fails stores nothing of its batch, and every write in it hears 503.
async fn a_failed_commit_stores_nothing_of_its_batch(app: TestApp) {
    app.faults.inject("/doomed/", Fault::CommitFails);
    let app = Arc::new(app);
    let answers = post_all(
        &app,
        "commit",
        slugs(30, |i| match i % 10 {
            0 => format!("/doomed/{i}/"),
            _ => format!("/calm/{i}/"),
        }),
    )
    .await;
    for a in answers.iter().filter(|a| a.slug.starts_with("/doomed/")) {
        assert_eq!(a.status, 503, "{}: {}", a.key, a.body);
    }
    let (created, failed) = assert_truthful(&app, &answers).await;
    assert_eq!(created + failed, 30);
    app.faults.clear("/doomed/");
    app.comment(
        "open",
        "/doomed/0/",
        json!({"body": "after the failed commit"}),
    )
    .await;
}

/// The transaction ends under a write (as when SQLite rolls it back by itself): the writer
/// sees it, runs no later write of the batch outside a transaction, answers the whole
/// batch 503, and carries on.
async fn a_transaction_ended_under_the_writer_stores_nothing_of_its_batch(app: TestApp) {
    app.faults.inject("/vanish/", Fault::JobEndsTransaction);
    let app = Arc::new(app);
    let answers = post_all(
        &app,
        "vanish",
        slugs(30, |i| match i % 10 {
            0 => format!("/vanish/{i}/"),
            _ => format!("/calm/{i}/"),
        }),
    )
    .await;
    for a in answers.iter().filter(|a| a.slug.starts_with("/vanish/")) {
        assert_eq!(a.status, 503, "{}: {}", a.key, a.body);
    }
    let (created, failed) = assert_truthful(&app, &answers).await;
    assert_eq!(created + failed, 30);
    app.faults.clear("/vanish/");
    app.comment("open", "/vanish/0/", json!({"body": "after"}))
        .await;
}

/// Every kind of fault at once, round after round.
async fn mixed_faults_under_load_never_lie(app: TestApp) {
    app.faults.inject("/panic/", Fault::JobPanics);
    app.faults.inject("/fail/", Fault::JobStatementFails);
    app.faults
        .inject("/ignore/", Fault::JobIgnoresFailedStatement);
    app.faults.inject("/doomed/", Fault::CommitFails);
    app.faults.inject("/vanish/", Fault::JobEndsTransaction);
    let app = Arc::new(app);
    let mut answers = Vec::new();
    for round in 0..4 {
        answers.extend(
            post_all(
                &app,
                &format!("mixed{round}"),
                slugs(50, |i| {
                    // A failed commit or a vanished transaction fails its whole batch,
                    // and a slow machine may batch a whole round: the last round has
                    // neither, so some comments are always stored.
                    let kind = match i % 25 {
                        0 if round % 2 == 0 => "doomed",
                        6 if round == 1 => "vanish",
                        1 | 2 => "panic",
                        3 | 4 => "fail",
                        5 => "ignore",
                        _ => "calm",
                    };
                    format!("/{kind}/{round}/{i}/")
                }),
            )
            .await,
        );
    }
    let (created, _) = assert_truthful(&app, &answers).await;
    assert!(created > 0);
    for p in ["/panic/", "/fail/", "/ignore/", "/doomed/", "/vanish/"] {
        app.faults.clear(p);
    }
    let after = post_all(&app, "after", slugs(10, |i| format!("/panic/after/{i}/"))).await;
    assert!(after.iter().all(|a| a.status == 201));
    assert_truthful(&app, &after).await;
}

/// If the writer thread dies, no write can succeed: the server stops with an error (the
/// process exits non-zero and its supervisor restarts it) and reports itself unhealthy.
async fn a_dead_writer_fails_health_and_stops_the_server(mut app: TestApp) {
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.faults.inject("/die/", Fault::WriterDies);
    let r = app
        .post_comment("open", "/die/", json!({"body": "fatal"}))
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let result = app.server.take().unwrap().await.unwrap();
    assert!(result.is_err(), "the server stops with an error");
    // Nothing answers healthy any more (the listener is closed, or healthz says 503).
    let health = app.client.get(app.url("/healthz")).send().await;
    assert!(health.map_or(true, |r| r.status() == 503));
    assert_eq!(app.db.count("comments"), 0);
}

/// The writer drops a changed thread's pages itself once the commit is known, so a
/// client that hangs up before its answer (its handler cancelled) leaves no stale page.
async fn a_write_whose_client_left_still_refreshes_its_page(app: TestApp) {
    use std::io::Write;
    let slug = "/left/";
    app.comment("open", slug, json!({"body": "first"})).await;
    assert_eq!(common::ids(&app.thread("open", slug, "").await).len(), 1);
    let body = json!({"body": "posted by a client that left"}).to_string();
    let mut s = std::net::TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
    write!(
        s,
        "POST /api/v1/comments?site=open&slug=%2Fleft%2F HTTP/1.1\r\nHost: t\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    drop(s);
    // The write may land or not (the server may drop it unrun); wait a little for it.
    let mut stored = app.db.count("comments");
    for _ in 0..200 {
        if stored == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        stored = app.db.count("comments");
    }
    let page = app.thread("open", slug, "").await;
    assert_eq!(
        common::ids(&page).len() as i64,
        stored,
        "the page shows what is stored: {page}"
    );
}

/// SQLite out of space (`max_page_count` on the writer's connection): what is refused is
/// not stored, what is answered 201 is, and the writer recovers once there is room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_out_of_space_never_lies_and_recovers() {
    let app = common::spawn(Backend::Sqlite).await.unwrap();
    app.comment("open", "/warm/", json!({"body": "first"}))
        .await;
    let pages = app
        .db
        .number("SELECT page_count AS n FROM pragma_page_count()");
    app.faults
        .run_on_writer(&format!("PRAGMA max_page_count = {}", pages + 4));
    let app = Arc::new(app);
    let mut answers = Vec::new();
    for round in 0..3 {
        let tag = format!("full{round}");
        let mut batch = post_padded(
            &app,
            &tag,
            slugs(20, |i| format!("/full/{round}/{i}/")),
            6000,
        )
        .await;
        answers.append(&mut batch);
    }
    let (created, failed) = assert_truthful(&app, &answers).await;
    assert!(failed > 0, "the database filled up ({created} stored)");
    app.faults
        .run_on_writer("PRAGMA max_page_count = 1073741823");
    let after = post_all(&app, "roomy", slugs(10, |i| format!("/roomy/{i}/"))).await;
    assert!(after.iter().all(|a| a.status == 201));
    assert_truthful(&app, &after).await;
}

/// PostgreSQL connections killed again and again under load (the writer's, the pool's and
/// the listener's): each write is answered 201 and stored, or 503 and not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_killed_under_load_never_lie() {
    let Some(app) = common::spawn(Backend::Postgres).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let app = Arc::new(app);
    let running = Arc::new(AtomicBool::new(true));
    let killer = {
        let (db, running) = (app.db.clone(), running.clone());
        tokio::spawn(async move {
            let mut kills = 0;
            while running.load(Ordering::Acquire) {
                let db = db.clone();
                tokio::task::spawn_blocking(move || {
                    db.admin(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{db}' AND pid <> pg_backend_pid()",
                    )
                })
                .await
                .unwrap();
                kills += 1;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            kills
        })
    };
    // Readers too, on pages that miss the cache (the listener's restarts turn it off).
    let reader = spawn_reader(app.clone(), running.clone(), |i| {
        format!(
            "/api/v1/comments?site=open&slug=%2Fkill%2F0%2F{}%2F&limit={}",
            i % 40,
            1 + i % 200
        )
    });
    let mut answers = Vec::new();
    for round in 0..5 {
        let tag = format!("kill{round}");
        answers.extend(post_all(&app, &tag, slugs(40, |i| format!("/kill/{round}/{i}/"))).await);
    }
    running.store(false, Ordering::Release);
    assert!(killer.await.unwrap() > 0);
    assert_reads_honest(&reader.await.unwrap());
    assert_stored_or_refused(&answers);
    assert_truthful(&app, &answers).await;
    app.comment("open", "/kill/after/", json!({"body": "after the kills"}))
        .await;
}

/// A PostgreSQL database that refuses connections: writes are answered 503 with
/// Retry-After, and succeed again once it is back, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_answers_503_then_recovers() {
    let Some(app) = common::spawn(Backend::Postgres).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    app.comment("open", "/before/", json!({"body": "before"}))
        .await;
    app.db.admin("ALTER DATABASE {db} ALLOW_CONNECTIONS false");
    app.db.admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{db}' AND pid <> pg_backend_pid()",
    );
    let app = Arc::new(app);
    let down = post_all(&app, "down", slugs(5, |i| format!("/down/{i}/"))).await;
    for a in &down {
        assert_eq!(a.status, 503, "{}: {}", a.key, a.body);
        assert_eq!(a.body["error"]["code"], "database_unavailable");
    }
    app.db.admin("ALTER DATABASE {db} ALLOW_CONNECTIONS true");
    assert_truthful(&app, &down).await;
    // The writer retries its connection every 250 ms: within a few tries it is back.
    let mut status = 0;
    for i in 0..100 {
        let r = app
            .post_comment(
                "open",
                &format!("/up/{i}/"),
                json!({"body": format!("up-{i}")}),
            )
            .await;
        status = r.status().as_u16();
        if status == 201 {
            break;
        }
        assert_eq!(status, 503);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 201, "writes succeed again");
}
