//! PostgreSQL restarted under load: every write answers 201 (stored once) or 503 with
//! Retry-After (nothing stored), every read 200 or 503, and the service recovers without a
//! restart of its own.
//!
//! It restarts a cluster of its own (`initdb` into a temp folder, on a free port), so the
//! other tests' server is never touched and nothing waits for it: it runs wherever the
//! PostgreSQL tests run and the server's programs are installed (`pg_config --bindir`), as
//! the `postgres` user when the tests run as root.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::writes::{
    assert_reads_honest, assert_stored_or_refused, assert_truthful, post_all, slugs, spawn_reader,
};
use common::{TestDb, SITES};
use serde_json::json;

/// A PostgreSQL cluster made for one test, stopped and deleted when dropped.
struct OwnCluster {
    bin: PathBuf,
    /// Run its programs as `postgres` (we are root, and the server refuses to run as root).
    as_postgres: bool,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnCluster {
    /// Where the server's programs are: `pg_config --bindir`, else Debian's folder.
    fn bindir() -> Option<PathBuf> {
        let from_pg_config = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        let debian = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).max());
        from_pg_config
            .into_iter()
            .chain(debian)
            .find(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
    }

    /// `program args…` from the cluster's folder, as `postgres` if need be.
    fn run(&self, program: &str, args: &[&str]) -> std::process::ExitStatus {
        let program = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    fn start() -> Option<OwnCluster> {
        let bin = Self::bindir()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:", &dir.path().to_string_lossy()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "cannot give {} to the postgres user",
                dir.path().display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = OwnCluster {
            bin,
            as_postgres,
            dir,
            port,
        };
        let data = cluster.data();
        let status = cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        assert!(status.success(), "initdb failed");
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            cluster.dir.path().display()
        );
        let log = cluster
            .dir
            .path()
            .join("log")
            .to_string_lossy()
            .into_owned();
        let status = cluster.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
        assert!(status.success(), "pg_ctl start failed: {}", cluster.log());
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn admin_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// `pg_ctl restart`: a fast shutdown (connections cut), then a start.
    fn restart(&self) {
        let status = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "fast", "-w", "restart"],
        );
        assert!(status.success(), "pg_ctl restart failed: {}", self.log());
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_never_lies_and_recovers() {
    if common::postgres_admin_url().is_none() {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    }
    let Some(cluster) = OwnCluster::start() else {
        let required = std::env::var("AFTERWORD_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "PostgreSQL's initdb and pg_ctl are not found (pg_config --bindir)"
        );
        eprintln!("skipped: PostgreSQL's initdb and pg_ctl are not found (pg_config --bindir)");
        return;
    };
    let cluster = Arc::new(cluster);
    let db = Arc::new(TestDb::postgres_on(cluster.admin_url()));
    let app = Arc::new(common::spawn_on(db, SITES).await);
    app.comment("open", "/before/", json!({"body": "before the restart"}))
        .await;
    let running = Arc::new(AtomicBool::new(true));
    let reader = spawn_reader(app.clone(), running.clone(), |i| {
        format!(
            "/api/v1/comments?site=open&slug=%2Fbefore%2F&limit={}",
            1 + i % 200
        )
    });
    let restarting = cluster.clone();
    let restart = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(300));
        restarting.restart();
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
