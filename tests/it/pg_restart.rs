//! PostgreSQL restarted under load with `pg_ctlcluster … restart`: every write answers 201
//! (stored once) or 503 with Retry-After (nothing stored), every read 200 or 503, and the
//! service recovers without a restart of its own.
//!
//! It restarts the whole cluster, so it runs only with `AFTERWORD_TEST_PG_RESTART=1` (CI
//! sets it), as root on a machine whose cluster nothing else uses, and alone: it waits until
//! no other test has a database on the server, and makes the others wait while it runs.

use crate::common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::writes::{
    assert_reads_honest, assert_stored_or_refused, assert_truthful, post_all, slugs, spawn_reader,
};
use common::Backend;
use serde_json::json;

/// The `VERSION CLUSTER` of the local cluster on port 5432, from `pg_lsclusters`.
fn local_cluster() -> (String, String) {
    let out = Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .expect("pg_lsclusters");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("5432"))
        .expect("a cluster on port 5432");
    let mut f = line.split_whitespace();
    (f.next().unwrap().to_owned(), f.next().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_never_lies_and_recovers() {
    if std::env::var("AFTERWORD_TEST_PG_RESTART").ok().as_deref() != Some("1") {
        eprintln!("skipped: AFTERWORD_TEST_PG_RESTART is not 1 (this test restarts PostgreSQL)");
        return;
    }
    // Every other test's database is dropped first; theirs wait for the restart to end.
    let _alone = common::exclusive_postgres();
    let app = Arc::new(
        common::spawn(Backend::Postgres)
            .await
            .expect("AFTERWORD_TEST_POSTGRES_URL is needed with AFTERWORD_TEST_PG_RESTART"),
    );
    app.comment("open", "/before/", json!({"body": "before the restart"}))
        .await;
    let running = Arc::new(AtomicBool::new(true));
    let reader = spawn_reader(app.clone(), running.clone(), |i| {
        format!(
            "/api/v1/comments?site=open&slug=%2Fbefore%2F&limit={}",
            1 + i % 200
        )
    });
    let restart = tokio::task::spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(300));
        let (version, cluster) = local_cluster();
        let status = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, &cluster, "restart"])
            .status()
            .expect("pg_ctlcluster");
        assert!(status.success(), "pg_ctlcluster restart failed");
    });
    // Rounds of concurrent posts until the restart is over, and one more after it.
    let mut answers = Vec::new();
    let mut round = 0;
    let mut after = 0;
    while after < 2 {
        if restart.is_finished() {
            after += 1;
        }
        answers.extend(
            post_all(
                &app,
                &format!("restart{round}"),
                slugs(16, |i| format!("/restart/{round}/{i}/")),
            )
            .await,
        );
        round += 1;
        assert!(round < 2000, "the restart never finished");
    }
    restart.await.unwrap();
    running.store(false, Ordering::Release);
    let reads = reader.await.unwrap();
    assert_reads_honest(&reads);
    assert_stored_or_refused(&answers);
    let refused = answers.iter().filter(|a| a.status == 503).count();
    eprintln!(
        "{} writes during the restart: {} stored, {refused} refused with 503; {} reads",
        answers.len(),
        answers.len() - refused,
        reads.len()
    );
    // PostgreSQL is back: the database must show exactly what was acknowledged.
    let mut up = false;
    for i in 0..200 {
        let r = app
            .post_comment("open", &format!("/up/{i}/"), json!({"body": "after"}))
            .await;
        if r.status() == 201 {
            up = true;
            break;
        }
        assert_eq!(r.status(), 503);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "writes succeed again without restarting Afterword");
    assert_truthful(&app, &answers).await;
    let page = app.thread("open", "/before/", "").await;
    assert_eq!(page["thread"]["comment_count"], 1);
}
