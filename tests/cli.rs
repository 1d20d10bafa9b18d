//! The shipped binary: zero-config start, config errors, clean stop on SIGTERM, crash safety.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_afterword");

fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("AFTERWORD_CONFIG")
        .env_remove("AFTERWORD_DATABASE_URL")
        .env_remove("AFTERWORD_PUBLIC_URL")
        .env("AFTERWORD_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    c
}

struct Server {
    child: Child,
    addr: String,
    stderr: mpsc::Receiver<String>,
}

/// Talks HTTP/1.1 to a server by address.
struct Client {
    addr: String,
}

impl Server {
    /// Starts `afterword serve` and waits (bounded) for its "listening" line.
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .arg("serve")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(rest) = line.split("addr=").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap().to_owned();
                        return Server {
                            child,
                            addr,
                            stderr: rx,
                        };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("server did not start; it said: {seen:#?}");
                }
            }
        }
    }

    fn client(addr: String) -> Client {
        Client { addr }
    }

    fn post(&self, slug: &str, body: &str) -> String {
        Client {
            addr: self.addr.clone(),
        }
        .post(slug, body)
    }

    fn get(&self, path: &str) -> String {
        Client {
            addr: self.addr.clone(),
        }
        .get(path)
    }

    fn signal(&self, sig: i32) {
        let r = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(r, 0);
    }

    /// Waits (bounded) for the process to exit.
    fn wait(mut self) -> (std::process::ExitStatus, Vec<String>) {
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait().unwrap() {
                let lines = self.stderr.try_iter().collect();
                return (status, lines);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("server did not exit");
    }
}

impl Client {
    fn request(&self, raw: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn post(&self, slug: &str, body: &str) -> String {
        let json = format!("{{\"body\":\"{body}\"}}");
        self.request(&format!(
            "POST /api/v1/comments?site=default&slug={slug} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        ))
    }

    fn get(&self, path: &str) -> String {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn zero_config_serves_site_default_from_afterword_db() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(command(dir.path()));
    assert!(dir.path().join("afterword.db").exists());
    let health = server.get("/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let created = server.post("/hello/", "first!");
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let thread = server.get("/api/v1/comments?site=default&slug=/hello/");
    assert!(thread.contains("<p>first!</p>"), "{thread}");
    server.signal(libc::SIGTERM);
    let (status, _) = server.wait();
    assert!(status.success(), "{status}");
}

#[test]
fn config_errors_name_the_key_and_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("listn = \"127.0.0.1:1\"\n", "listn"),
        (
            "[[site]]\nid = \"blog\"\nmoderation = \"sometimes\"\n",
            "site[0].moderation",
        ),
        (
            "[[site]]\nid = \"blog\"\nedit_window = \"a while\"\n",
            "site[0].edit_window",
        ),
        ("database_url = \"mysql://x\"\n", "database_url"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = command(dir.path())
            .args(["serve", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    let out = command(dir.path())
        .args(["serve", "--config", "missing.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
    let out = command(dir.path())
        .env("AFTERWORD_LISTEN", "nowhere")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AFTERWORD_LISTEN"));
    assert!(
        !dir.path().join("afterword.db").exists(),
        "nothing is created when the config is wrong"
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(command(dir.path()));
    // Start a request and hold back the end of its body.
    let json = "{\"body\":\"sent while stopping\"}";
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST /api/v1/comments?site=default&slug=/stop/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        json.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&json.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    // New connections are no longer taken...
    assert!(TcpStream::connect(&server.addr)
        .map(|mut c| {
            let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut buf = [0u8; 16];
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            c.read(&mut buf).unwrap_or(0) == 0
        })
        .unwrap_or(true));
    // ...but the one in flight completes.
    s.write_all(&json.as_bytes()[10..]).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");
    let (status, _) = server.wait();
    assert!(status.success(), "{status}");

    // The comment is stored.
    let server = Server::start(command(dir.path()));
    assert!(server
        .get("/api/v1/comments?site=default&slug=/stop/")
        .contains("sent while stopping"));
}

#[test]
fn a_killed_process_loses_no_acknowledged_comment() {
    for sync in ["normal", "full"] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("afterword.toml");
        std::fs::write(
            &config,
            format!("sqlite_synchronous = \"{sync}\"\n[limits]\ncomments_per_ip_per_minute = 0\n"),
        )
        .unwrap();
        let start = || {
            let mut cmd = command(dir.path());
            cmd.env("AFTERWORD_CONFIG", &config);
            Server::start(cmd)
        };
        let server = start();
        // Concurrent writers, so that commits are batched.
        let addr = server.addr.clone();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let probe = Server::client(addr);
                    for i in 0..25 {
                        let r = probe.post("/crash/", &format!("comment {w}-{i}"));
                        assert!(r.starts_with("HTTP/1.1 201"), "{r}");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        server.signal(libc::SIGKILL);
        let _ = server.wait();
        let server = start();
        let counts = server.get("/api/v1/counts?site=default&slug=/crash/");
        assert!(
            counts.contains("{\"counts\":{\"/crash/\":100}}"),
            "{sync}: {counts}"
        );
        let thread = server.get("/api/v1/comments?site=default&slug=/crash/&limit=200");
        for w in 0..4 {
            for i in 0..25 {
                assert!(
                    thread.contains(&format!("<p>comment {w}-{i}</p>")),
                    "{sync}: comment {w}-{i} lost"
                );
            }
        }
    }
}

#[test]
fn migrate_applies_once_and_help_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        command(dir.path())
            .env("AFTERWORD_DATABASE_URL", "sqlite://data/m.db")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every migration folder, however many features have added one.
    let all = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{all} migration(s) applied")
    );
    assert!(dir.path().join("data/m.db").exists());
    let out = run(&["migrate"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0 migration(s) applied"
    );
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
    ] {
        let out = run(args);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
    let out = run(&["frobnicate"]);
    assert!(!out.status.success());
}
