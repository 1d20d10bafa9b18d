//! The shipped binary: zero-config start, config errors, clean stop on SIGTERM, crash safety.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_afterword");

pub(crate) fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("AFTERWORD_CONFIG")
        .env_remove("AFTERWORD_DATABASE_URL")
        .env_remove("AFTERWORD_PUBLIC_URL")
        .env("AFTERWORD_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    c
}

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
    pub(crate) stderr: mpsc::Receiver<String>,
}

/// Talks HTTP/1.1 to a server by address.
struct Client {
    addr: String,
}

impl Server {
    /// Starts `afterword serve` and waits (bounded) for its "listening" line.
    pub(crate) fn start(mut cmd: Command) -> Server {
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
                    // The text log's `addr=…`, or the JSON log's field.
                    let addr = line
                        .split("addr=")
                        .nth(1)
                        .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
                        .or_else(|| {
                            let v: serde_json::Value = serde_json::from_str(&line).ok()?;
                            Some(v["fields"]["addr"].as_str()?.to_owned())
                        });
                    if let Some(addr) = addr {
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

    pub(crate) fn get(&self, path: &str) -> String {
        Client {
            addr: self.addr.clone(),
        }
        .get(path)
    }

    pub(crate) fn signal(&self, sig: i32) {
        let r = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(r, 0);
    }

    /// Waits (bounded) for the process to exit.
    pub(crate) fn wait(mut self) -> (std::process::ExitStatus, Vec<String>) {
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

/// Form tokens by server and slug, with when they were handed out: the zero-config site
/// runs the spam checks, so a comment needs its thread's token, at least 3 s old, as the
/// embed sends it. One per thread, reused by every comment posted there.
static TOKENS: std::sync::Mutex<Vec<(String, String, String, std::time::Instant)>> =
    std::sync::Mutex::new(Vec::new());
const TOKEN_MIN_AGE: Duration = Duration::from_millis(3100);

fn form_token(client: &Client, slug: &str) -> String {
    let known = TOKENS
        .lock()
        .unwrap()
        .iter()
        .find(|(a, s, ..)| *a == client.addr && s == slug)
        .map(|(_, _, t, at)| (t.clone(), *at));
    let (token, at) = known.unwrap_or_else(|| {
        let answer = client.get(&format!("/api/v1/comments?site=default&slug={slug}"));
        let token = answer
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("afterword-form")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no form token in {answer}"));
        let at = std::time::Instant::now();
        TOKENS
            .lock()
            .unwrap()
            .push((client.addr.clone(), slug.to_owned(), token.clone(), at));
        (token, at)
    });
    if let Some(wait) = TOKEN_MIN_AGE.checked_sub(at.elapsed()) {
        std::thread::sleep(wait);
    }
    token
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

    /// The form token of the thread at `slug`, as the embed gets it (see `form_token`).
    fn form_token(&self, slug: &str) -> String {
        form_token(self, slug)
    }

    fn post(&self, slug: &str, body: &str) -> String {
        let token = self.form_token(slug);
        let json = format!("{{\"body\":\"{body}\",\"form_token\":\"{token}\"}}");
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
    let token = Server::client(server.addr.clone()).form_token("/stop/");
    let json = format!("{{\"body\":\"sent while stopping\",\"form_token\":\"{token}\"}}");
    let json = json.as_str();
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
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{migrations} migration(s) applied")
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
        &["admin", "--help"],
        &["admin", "create", "--help"],
    ] {
        let out = run(args);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
    let out = run(&["frobnicate"]);
    assert!(!out.status.success());
}

/// `afterword admin …` against the database a running server uses: the password from
/// standard input, sessions ended by `passwd` and `delete` at once.
#[test]
fn admin_accounts_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = "sqlite://admin.db";
    let admin = |args: &[&str], stdin: &str| {
        let mut child = command(dir.path())
            .env("AFTERWORD_DATABASE_URL", db)
            .arg("admin")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = admin(
        &["create", "Ann", "--name", "Ann Author"],
        "first password\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("created moderator ann"), "{out}");
    // Nothing about the password, anywhere.
    assert!(!out.contains("first password") && !err.contains("first password"));
    let (ok, _, err) = admin(&["create", "ann"], "another password\n");
    assert!(!ok && err.contains("already an account named ann"), "{err}");
    let (ok, _, err) = admin(&["create", "bob"], "short\n");
    assert!(!ok && err.contains("at least 8 characters"), "{err}");
    let (ok, _, err) = admin(&["create", "bob"], &format!("{}\n", "x".repeat(1025)));
    assert!(!ok && err.contains("at most 1024 bytes"), "{err}");
    let (ok, _, err) = admin(&["create", "not a name"], "a fine password\n");
    assert!(!ok && err.contains("username"), "{err}");
    let (ok, out, _) = admin(&["list"], "");
    assert!(ok);
    assert_eq!(out.trim(), "ann\tAnn Author");

    let mut cmd = command(dir.path());
    cmd.env("AFTERWORD_DATABASE_URL", db);
    let server = Server::start(cmd);
    let login = |password: &str| {
        let body = format!("{{\"username\":\"ann\",\"password\":\"{password}\"}}");
        Server::client(server.addr.clone()).request(&format!(
            "POST /api/v1/admin/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    };
    let whoami = |cookie: &str| {
        Server::client(server.addr.clone()).request(&format!(
            "GET /api/v1/admin/session HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        ))
    };
    let answer = login("first password");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(whoami(&cookie).starts_with("HTTP/1.1 200"));

    // A new password ends the session on the running server.
    let (ok, out, err) = admin(&["passwd", "ann"], "second password\n");
    assert!(ok, "{err}");
    assert!(out.contains("sessions have ended"), "{out}");
    assert!(whoami(&cookie).starts_with("HTTP/1.1 401"));
    assert!(login("first password").starts_with("HTTP/1.1 401"));
    let answer = login("second password");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (ok, _, err) = admin(&["passwd", "nobody"], "second password\n");
    assert!(!ok && err.contains("no account named nobody"), "{err}");

    // Deleting the account ends its sessions too.
    let (ok, out, _) = admin(&["delete", "ann"], "");
    assert!(ok && out.contains("deleted moderator ann"));
    assert!(whoami(&cookie).starts_with("HTTP/1.1 401"));
    let (ok, out, _) = admin(&["list"], "");
    assert!(ok && out.trim().is_empty());
    let (ok, _, _) = admin(&["delete", "ann"], "");
    assert!(!ok);
}

/// On a terminal the password is asked twice and not echoed (`script` gives it a pty).
#[test]
fn admin_create_asks_twice_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) to give the command a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |user: &str, first: &'static str, second: &'static str| {
        let line = format!("{BIN} admin create {user}");
        let mut child = Command::new("script")
            .current_dir(dir.path())
            .env_remove("AFTERWORD_CONFIG")
            .env("AFTERWORD_DATABASE_URL", "sqlite://tty.db")
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // What the terminal shows, as it arrives.
        let (shown_tx, shown_rx) = mpsc::channel::<Vec<u8>>();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || shown_tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        // Typed at the prompts, as a person would: each answer only once its prompt is on
        // the screen (typing earlier is echoed, since the terminal still echoes until the
        // prompt is written: a fixed delay raced a busy machine), then a moment more, for
        // rpassword to turn echo off after writing the prompt.
        let mut shown = Vec::new();
        for (prompts_seen, answer) in [(1, first), (2, second)] {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while String::from_utf8_lossy(&shown).matches("Password").count() < prompts_seen {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match shown_rx.recv_timeout(left) {
                    Ok(chunk) => shown.extend(chunk),
                    Err(_) => break,
                }
            }
            std::thread::sleep(Duration::from_millis(500));
            let _ = stdin.write_all(format!("{answer}\n").as_bytes());
        }
        drop(stdin);
        let status = child.wait().unwrap();
        reader.join().unwrap();
        shown.extend(shown_rx.try_iter().flatten());
        (
            status.success(),
            String::from_utf8_lossy(&shown).into_owned(),
        )
    };
    let (ok, out) = run("ann", "typed password", "typed password");
    assert!(ok, "{out}");
    assert!(
        out.contains("Password: ") && out.contains("Password again: "),
        "{out}"
    );
    assert!(out.contains("created moderator ann"), "{out}");
    assert!(
        !out.contains("typed password"),
        "the password was echoed: {out}"
    );
    let (ok, out) = run("bob", "typed password", "another password");
    assert!(!ok, "{out}");
    assert!(out.contains("the two passwords differ"), "{out}");
}

/// `afterword backup` while comments keep arriving: the copy holds every comment
/// acknowledged before the backup started, and a server started on it serves them.
#[test]
fn a_backup_taken_under_load_restores_every_acknowledged_comment() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    // No rate limit: this test is the only client, and a busy one.
    std::fs::write(
        dir.path().join("afterword.toml"),
        "database_url = \"sqlite://live.db\"\n[limits]\ncomments_per_ip_per_minute = 0\n",
    )
    .unwrap();
    let mut cmd = command(dir.path());
    cmd.env("AFTERWORD_CONFIG", "afterword.toml");
    let server = Server::start(cmd);
    let acked: Arc<Mutex<Vec<i64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, acked, stop) = (server.addr.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let client = Server::client(addr);
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let answer = client.post(&format!("/load-{w}/"), &format!("comment {w}-{n}"));
                    n += 1;
                    if let Some(rest) = answer
                        .starts_with("HTTP/1.1 201")
                        .then(|| answer.split("\"id\":").nth(1))
                        .flatten()
                    {
                        let id: i64 = rest.split(',').next().unwrap().parse().unwrap();
                        acked.lock().unwrap().push(id);
                    }
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 100 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let before: Vec<i64> = acked.lock().unwrap().clone();
    let out = command(dir.path())
        .env("AFTERWORD_DATABASE_URL", "sqlite://live.db")
        .args(["backup", "copy.db"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("backed up to copy.db"));
    // Writes went on during the backup.
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    assert!(acked.lock().unwrap().len() > before.len());
    assert!(!dir.path().join("copy.partial").exists());

    // An existing file is never overwritten.
    let again = command(dir.path())
        .env("AFTERWORD_DATABASE_URL", "sqlite://live.db")
        .args(["backup", "copy.db"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // The copy is whole and holds every comment acknowledged before the backup started.
    let copy = dir.path().join("copy.db");
    let check = std::process::Command::new("sqlite3")
        .arg(&copy)
        .arg("PRAGMA integrity_check;")
        .output();
    if let Ok(out) = check {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    }
    // Restore: the copy in place of the database, and a server on it.
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, restored_dir.path().join("afterword.db")).unwrap();
    let restored = Server::start(command(restored_dir.path()));
    let mut served: Vec<i64> = Vec::new();
    for w in 0..4 {
        let mut after = String::new();
        loop {
            let page = restored.get(&format!(
                "/api/v1/comments?site=default&slug=/load-{w}/&limit=200{after}"
            ));
            assert!(page.starts_with("HTTP/1.1 200"), "{page}");
            let body = page.split("\r\n\r\n").nth(1).unwrap();
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            served.extend(
                v["comments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["id"].as_i64().unwrap()),
            );
            match v["next"].as_str() {
                Some(next) => after = format!("&after={next}"),
                None => break,
            }
        }
    }
    let missing: Vec<&i64> = before.iter().filter(|id| !served.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not in the backup: {missing:?}"
    );

    // PostgreSQL: the command says to use pg_dump.
    let pg = command(dir.path())
        .env(
            "AFTERWORD_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .args(["backup", "pg.db"])
        .output()
        .unwrap();
    assert!(!pg.status.success());
    assert!(String::from_utf8_lossy(&pg.stderr).contains("pg_dump"));
}

/// Slowloris: clients that send their request head or body a byte at a time are cut off
/// (408) while everyone else is served as usual.
#[test]
fn slow_clients_are_cut_off_and_others_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(command(dir.path()));
    let slow_heads: Vec<_> = (0..20)
        .map(|_| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    .unwrap();
                let started = std::time::Instant::now();
                let mut answer = Vec::new();
                // One header byte every 200 ms, for at most 20 s.
                while started.elapsed() < Duration::from_secs(20) {
                    if s.write_all(b"X").is_err() {
                        break;
                    }
                    let mut buf = [0u8; 256];
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => answer.extend_from_slice(&buf[..n]),
                        Err(_) => {}
                    }
                }
                (
                    started.elapsed(),
                    String::from_utf8_lossy(&answer).into_owned(),
                )
            })
        })
        .collect();
    // Meanwhile, a normal reader is served.
    std::thread::sleep(Duration::from_millis(500));
    let health = server.get("/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    for t in slow_heads {
        let (took, answer) = t.join().unwrap();
        assert!(
            took < Duration::from_secs(15),
            "a slow head held on for {took:?}"
        );
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }

    // A body that stops halfway: 408 once the body timeout has passed, nothing stored.
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(
        b"POST /api/v1/comments?site=default&slug=/slow/ HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"body\":",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    let thread = server.get("/api/v1/comments?site=default&slug=/slow/");
    assert!(thread.contains("\"comments\":[]"), "{thread}");
}
