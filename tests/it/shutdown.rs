//! The real binary stopped with SIGTERM or Ctrl-C in the middle of a burst of posts and
//! mails: it exits 0 within the grace period, every comment answered 201 is stored, and
//! every mail is either sent once (and marked so) or back in the queue, unclaimed.

use crate::cli::{command, Server};
use crate::common::{self, Backend, TestDb};
use crate::email::{config, message_ids, Mode, Smtp};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one post was answered: its key and status (0: no answer).
type Answers = Arc<Mutex<Vec<(String, u16)>>>;

fn stop_under_load(backend: Backend, signal: i32) {
    let Some(db) = TestDb::new(backend) else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    // Slow enough that a mail is being sent when the signal comes.
    let smtp = Smtp::up(Mode::Slow(Duration::from_millis(150)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afterword.toml");
    let mail = config(Some(&smtp));
    std::fs::write(
        &file,
        format!(
            "database_url = \"{}\"\n{mail}{}",
            db.url(),
            common::spam_checks_off(&mail)
        ),
    )
    .unwrap();
    let start = || {
        let mut cmd = command(dir.path());
        cmd.env("AFTERWORD_CONFIG", &file);
        Server::start(cmd)
    };
    let server = start();
    let answers: Answers = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(AtomicUsize::new(0));
    let posters: Vec<_> = (0..8)
        .map(|w| {
            let (addr, answers, running, answered) = (
                server.addr.clone(),
                answers.clone(),
                running.clone(),
                answered.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(40))
                    .build()
                    .unwrap();
                let mut i = 0;
                while running.load(Ordering::Acquire) {
                    let key = format!("stop-{w}-{i}");
                    i += 1;
                    let r = client
                        .post(format!(
                            "http://{addr}/api/v1/comments?site=held&slug=/stop/{w}/"
                        ))
                        .json(&serde_json::json!({ "body": format!("{key} .") }))
                        .send();
                    let status = r.map_or(0, |r| r.status().as_u16());
                    answers.lock().unwrap().push((key, status));
                    answered.fetch_add(1, Ordering::AcqRel);
                    if status == 0 {
                        // The server no longer takes connections.
                        return;
                    }
                }
            })
        })
        .collect();
    // Stopped while comments are posted and a mail is being sent.
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.load(Ordering::Acquire) < 40
        || db.number("SELECT COUNT(*) AS n FROM outbox WHERE claimed_by IS NOT NULL") == 0
    {
        assert!(Instant::now() < deadline, "no mail was ever being sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopped_at = Instant::now();
    server.signal(signal);
    let (status, log) = server.wait();
    let took = stopped_at.elapsed();
    running.store(false, Ordering::Release);
    for p in posters {
        p.join().unwrap();
    }
    assert!(status.success(), "{status}: {log:#?}");
    assert!(took < Duration::from_secs(30), "stopped in {took:?}");
    eprintln!("stopped in {took:?}");

    // Every 201 is stored, once; every other answer stored nothing, or (no answer) at
    // most once.
    let answers = answers.lock().unwrap().clone();
    let mut created = 0;
    for (key, status) in &answers {
        let stored = db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE body LIKE '{key} .%'"
        ));
        match status {
            201 => {
                assert_eq!(stored, 1, "{key} was answered 201");
                created += 1;
            }
            0 => assert!(stored <= 1, "{key}"),
            s => assert_eq!(stored, 0, "{key} was answered {s}"),
        }
    }
    assert!(created >= 40, "{created} of {} stored", answers.len());

    // Every mail that reached the SMTP server is marked sent, none arrived twice, and no
    // message is left claimed.
    let sent = db.number("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'");
    let claimed = db.number("SELECT COUNT(*) AS n FROM outbox WHERE claimed_by IS NOT NULL");
    let received = message_ids(&smtp);
    assert_eq!(received.len() as i64, sent, "received = marked sent");
    assert_eq!(claimed, 0, "no claim left behind");
    let queued = db.number("SELECT COUNT(*) AS n FROM outbox WHERE status = 'queued'");
    eprintln!("{created} comments; at the stop {sent} mails sent, {queued} queued");

    // The next start hands over the events the stop left pending (their mail is queued
    // then, see `crate::events`) and sends the rest, each once.
    smtp.set_mode(Mode::Accept);
    let server = start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.number("SELECT COUNT(*) AS n FROM events WHERE dispatched_at IS NULL") > 0 {
        assert!(
            Instant::now() < deadline,
            "the events were never handed over"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let total = db.count("outbox");
    // One moderator mail per stored comment: none lost at the stop, none queued twice.
    assert_eq!(total, db.count("comments"));
    while db.number("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'") < total {
        assert!(Instant::now() < deadline, "the rest was never sent");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(message_ids(&smtp).len() as i64, total);
    server.signal(libc::SIGTERM);
    assert!(server.wait().0.success());
}

#[test]
fn sigterm_under_load_loses_nothing_sqlite() {
    stop_under_load(Backend::Sqlite, libc::SIGTERM);
}

#[test]
fn sigterm_under_load_loses_nothing_postgres() {
    stop_under_load(Backend::Postgres, libc::SIGTERM);
}

#[test]
fn ctrl_c_under_load_loses_nothing_sqlite() {
    stop_under_load(Backend::Sqlite, libc::SIGINT);
}

/// Once stopped, an instance holds no connection to PostgreSQL: not its writer's, nor its
/// pool's, nor its listener's (checked in this process, where no exit closes them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_closes_its_connections_postgres() {
    let Some(mut app) = common::spawn(Backend::Postgres).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    app.comment("open", "/bye/", serde_json::json!({"body": "bye"}))
        .await;
    let open = "SELECT COUNT(*) AS n FROM pg_stat_activity \
                WHERE datname = current_database() AND pid <> pg_backend_pid()";
    assert!(app.db.number(open) >= 3, "writer, pool and listener");
    let db = Arc::clone(&app.db);
    let server = app.server.take().unwrap();
    drop(app);
    server.await.unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while db.number(open) > 0 {
        assert!(Instant::now() < deadline, "connections left open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGTERM while PostgreSQL cannot be reached (a frozen network, through a proxy that
/// keeps the sockets open): the process exits within its bounds (the request in flight's
/// write timeout, then the wind-down's), without waiting for threads stuck on the database
/// to give up on their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_postgres_is_frozen_exits_within_the_bound() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let target = url::Url::parse(db.url()).unwrap();
    let addr = format!(
        "{}:{}",
        target.host_str().unwrap(),
        target.port().unwrap_or(5432)
    );
    let proxy = crate::common::proxy::Proxy::start(addr.parse().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afterword.toml");
    std::fs::write(
        &file,
        format!(
            "database_url = \"{}\"\n{}",
            proxy.url_for(db.url()),
            common::spam_checks_off("")
        ),
    )
    .unwrap();
    let mut cmd = command(dir.path());
    cmd.env("AFTERWORD_CONFIG", &file);
    let server = tokio::task::spawn_blocking(move || Server::start(cmd))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let posted = client
        .post(format!(
            "http://{}/api/v1/comments?site=default&slug=/frozen-stop/",
            server.addr
        ))
        .json(&serde_json::json!({"body": "before the freeze"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    proxy.freeze();
    // Something is waiting on the frozen database when the signal comes.
    let stuck = client
        .post(format!(
            "http://{}/api/v1/comments?site=default&slug=/frozen-stop/",
            server.addr
        ))
        .json(&serde_json::json!({"body": "during the freeze"}))
        .timeout(Duration::from_secs(1))
        .send();
    let _ = stuck.await;
    let stopped_at = Instant::now();
    server.signal(libc::SIGTERM);
    let (status, log) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    let took = stopped_at.elapsed();
    eprintln!("stopped in {took:?}: {status}");
    // The request in flight is answered 503 within the write timeout (10 s), then the
    // wind-down has its 10 s; before the fix the exit waited on the stuck threads (over
    // 40 s here).
    assert!(
        took < Duration::from_secs(25),
        "stopped in {took:?}: {log:#?}"
    );
    proxy.thaw();
}
