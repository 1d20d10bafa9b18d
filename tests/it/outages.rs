//! A database that stops answering rather than failing: the network to PostgreSQL frozen
//! (a proxy that stops forwarding but keeps its sockets open), a SQLite file locked by
//! another process, a statement PostgreSQL cancels. Writes are answered within the
//! configured bound, truthfully; `/healthz` says `degraded` meanwhile; everything resumes
//! by itself.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::writes::{assert_stored_or_refused, assert_truthful, post_all, slugs, Answer};
use common::{Backend, TestApp, TestDb};
use serde_json::{json, Value};

/// The bound the tests configure (the default is 10 s), and what an answer may take
/// beyond it on a loaded machine (the commit grace, the HTTP round trip; 6.5 s seen with
/// four builds beside the suite on two cores).
const WRITE_TIMEOUT: Duration = Duration::from_secs(4);
const SLACK: Duration = Duration::from_millis(4000);

fn config() -> String {
    format!(
        "{}\n[database]\nwrite_timeout = \"4s\"\nconnect_timeout = \"2s\"\nnetwork_timeout = \"4s\"\n",
        common::SITES
    )
}

/// `/healthz`: its status and body.
async fn health(app: &TestApp) -> (u16, Value) {
    let r = app
        .client
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Polls `/healthz` until it answers `status`, for at most `within`.
async fn until_health(app: &TestApp, status: u16, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let (s, body) = health(app).await;
        if s == status {
            return body;
        }
        assert!(
            start.elapsed() < within,
            "/healthz still answers {s} after {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Posts until one is stored, for at most 30 s; returns how long it took.
async fn until_writes_work(app: &TestApp, tag: &str) -> Duration {
    let start = Instant::now();
    for i in 0.. {
        let r = app
            .post_comment(
                "open",
                &format!("/{tag}/{i}/"),
                json!({"body": format!("{tag}-{i} .")}),
            )
            .await;
        if r.status() == 201 {
            return start.elapsed();
        }
        assert_eq!(r.status(), 503, "while recovering");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "writes never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!()
}

/// Every answer came within the bound; every 201 is stored and every 503 is not; a write
/// whose COMMIT was on the wire when the network froze may say `write_outcome_unknown`.
async fn assert_bounded_and_truthful(app: &TestApp, answers: Vec<Answer>) -> (usize, usize) {
    let mut known = Vec::new();
    for a in answers {
        assert!(
            a.elapsed <= WRITE_TIMEOUT + SLACK,
            "{} took {:?} ({} {})",
            a.key,
            a.elapsed,
            a.status,
            a.body
        );
        if a.status == 500 && a.body["error"]["code"] == "write_outcome_unknown" {
            let stored = app.db.number(&format!(
                "SELECT COUNT(*) AS n FROM comments WHERE body LIKE '{} .%'",
                a.key
            ));
            assert!(stored <= 1, "{}: stored at most once", a.key);
            continue;
        }
        known.push(a);
    }
    assert_stored_or_refused(&known);
    assert_truthful(app, &known).await
}

/// Each was refused with 503 and `Retry-After`, within the bound.
fn assert_refused_in_time(answers: &[Answer]) {
    for a in answers {
        assert_eq!(a.status, 503, "{}: {}", a.key, a.body);
        assert_eq!(a.body["error"]["code"], "database_unavailable");
        assert_eq!(a.retry_after.as_deref(), Some("1"));
        assert!(
            a.elapsed <= WRITE_TIMEOUT + SLACK,
            "{} took {:?}",
            a.key,
            a.elapsed
        );
    }
}

/// Posts round after round until `running` turns false.
fn spawn_load(app: Arc<TestApp>, running: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<Answer>> {
    tokio::spawn(async move {
        let mut answers = Vec::new();
        let mut round = 0;
        while running.load(Ordering::Acquire) {
            answers.extend(
                post_all(
                    &app,
                    &format!("load{round}"),
                    slugs(8, |i| format!("/load/{round}/{i}/")),
                )
                .await,
            );
            round += 1;
            // Refusals come fast: a pause keeps the check afterwards short.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        answers
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_frozen_network_answers_within_the_bound_and_recovers() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = Arc::new(db);
    let target = url::Url::parse(db.url()).unwrap();
    let addr = format!(
        "{}:{}",
        target.host_str().unwrap(),
        target.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(addr.parse().unwrap()).await;
    let app = Arc::new(common::spawn_via(db.clone(), &proxy.url_for(db.url()), &config()).await);
    app.comment("open", "/before/", json!({"body": "before the freeze"}))
        .await;
    assert_eq!(health(&app).await, (200, json!({"status": "ok"})));
    // Read before the freeze until memory answers (the cache is on once the listener
    // listens): this page is kept, and served stale during the freeze.
    let before_page = "/api/v1/comments?site=open&slug=%2Fbefore%2F";
    let started = Instant::now();
    let fresh_etag = loop {
        let fresh = app.get(before_page).await;
        assert_eq!(fresh.status(), 200);
        if fresh.headers()["x-afterword-cache"] == "hit" {
            break fresh.headers()["etag"].to_str().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never cached");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let running = Arc::new(AtomicBool::new(true));
    let load = spawn_load(app.clone(), running.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.freeze();
    let frozen_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Posted after the freeze: none can be stored, each hears 503 within the bound.
    let during = post_all(&app, "frozen", slugs(10, |i| format!("/frozen/{i}/"))).await;
    assert_refused_in_time(&during);
    let degraded = until_health(&app, 503, Duration::from_secs(8)).await;
    // Reads the cache cannot answer (its listener is frozen too, so it is off) are
    // answered 503 within the bound as well, never left hanging.
    for path in [
        "/api/v1/comments?site=open&slug=%2Fbefore%2F",
        "/api/v1/comments?site=open&slug=%2Fnever%2F",
        "/api/v1/counts?site=open&slug=%2Fbefore%2F",
    ] {
        let started = Instant::now();
        let r = app.get(path).await;
        let took = started.elapsed();
        assert!(took <= WRITE_TIMEOUT + SLACK, "{path} took {took:?}");
        assert!(
            r.status() == 200 || (r.status() == 503 && r.headers().contains_key("retry-after")),
            "{path}: {}",
            r.status()
        );
    }
    // The page read before the freeze is answered from memory, marked stale, at once.
    let r = app.get(before_page).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-afterword-cache"], "stale");
    assert_eq!(r.headers()["etag"].to_str().unwrap(), fresh_etag);
    let page: Value = r.json().await.unwrap();
    assert!(
        page["comments"][0]["html"]
            .as_str()
            .is_some_and(|h| h.contains("before the freeze")),
        "{page}"
    );
    assert_eq!(degraded["status"], "degraded", "{degraded}");
    assert!(
        degraded["reason"].as_str().is_some_and(|r| r.len() > 10),
        "{degraded}"
    );
    assert_eq!(degraded["error"]["code"], "database_unavailable");
    // Longer than the bound, so that writes stuck on the wire are given up.
    let frozen_for = Duration::from_secs(9).saturating_sub(frozen_at.elapsed());
    tokio::time::sleep(frozen_for).await;
    proxy.thaw();

    let back = until_writes_work(&app, "thawed").await;
    eprintln!("writes came back {back:?} after the thaw");
    until_health(&app, 200, Duration::from_secs(15)).await;
    running.store(false, Ordering::Release);
    let mut answers = load.await.unwrap();
    let refused = answers.iter().filter(|a| a.status != 201).count();
    eprintln!("{} writes under load, {refused} not stored", answers.len());
    answers.extend(during);
    let (created, failed) = assert_bounded_and_truthful(&app, answers).await;
    assert!(
        created > 0 && failed >= 10,
        "{created} stored, {failed} refused"
    );
}

/// SQLite's file locked by another process for longer than the bound: writes hear 503
/// within it, `/healthz` says degraded, and writes resume once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_file_answers_within_the_bound_and_recovers() {
    let db = Arc::new(TestDb::new(Backend::Sqlite).unwrap());
    let app = Arc::new(common::spawn_on(db.clone(), &config()).await);
    app.comment("open", "/before/", json!({"body": "before the lock"}))
        .await;
    let TestDb::Sqlite { path, .. } = &*db else {
        unreachable!()
    };
    let path = path.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let locker = std::thread::spawn(move || {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        c.batch_execute("PRAGMA busy_timeout = 5000; BEGIN EXCLUSIVE")
            .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(7));
        c.batch_execute("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();
    let during = post_all(&app, "locked", slugs(10, |i| format!("/locked/{i}/"))).await;
    assert_refused_in_time(&during);
    let degraded = until_health(&app, 503, Duration::from_secs(5)).await;
    assert_eq!(degraded["status"], "degraded", "{degraded}");
    tokio::task::spawn_blocking(move || locker.join().unwrap())
        .await
        .unwrap();
    until_writes_work(&app, "unlocked").await;
    until_health(&app, 200, Duration::from_secs(10)).await;
    let (created, failed) = assert_bounded_and_truthful(&app, during).await;
    assert_eq!((created, failed), (0, 10));
}

/// A statement PostgreSQL cancels (here: `statement_timeout`, waiting on a lock another
/// session holds) is a transient failure: 503 with Retry-After, not 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cancelled_statement_is_503() {
    let config = format!(
        "{}\n[database]\nstatement_timeout = \"1s\"\n",
        common::SITES
    );
    let Some(app) = common::spawn_with(Backend::Postgres, &config).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    app.comment("open", "/warm/", json!({"body": "warm"})).await;
    let url = app.db.url().to_owned();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let locker = std::thread::spawn(move || {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::PgConnection::establish(&url).unwrap();
        c.batch_execute("BEGIN; LOCK TABLE threads IN EXCLUSIVE MODE")
            .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(3));
        c.batch_execute("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();
    let r = app
        .post_comment("open", "/blocked/", json!({"body": "blocked .x"}))
        .await;
    assert_eq!(
        r.headers().get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    common::expect_error(r, 503, "database_unavailable").await;
    tokio::task::spawn_blocking(move || locker.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM comments WHERE body LIKE 'blocked .%'"),
        0
    );
    app.comment("open", "/blocked/", json!({"body": "after"}))
        .await;
}
