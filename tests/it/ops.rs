//! Running it as a service: the container's health check, JSON logs with request ids that
//! error answers carry too, `afterword doctor`, `/metrics`.

use std::process::Command;
use std::time::Duration;

use crate::cli::{command, Server};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_afterword");

#[test]
fn healthcheck_passes_while_the_server_answers_and_fails_once_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(command(dir.path()));
    let check = || {
        Command::new(BIN)
            .arg("healthcheck")
            .env_remove("AFTERWORD_CONFIG")
            .env("AFTERWORD_LISTEN", &server.addr)
            .output()
            .unwrap()
    };
    let ok = check();
    assert!(ok.status.success(), "{ok:?}");
    server.signal(libc::SIGTERM);
    let addr = server.addr.clone();
    server.wait();
    let gone = Command::new(BIN)
        .arg("healthcheck")
        .env_remove("AFTERWORD_CONFIG")
        .env("AFTERWORD_LISTEN", &addr)
        .output()
        .unwrap();
    assert!(!gone.status.success());
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(said.contains("does not answer"), "{said}");
    // A wildcard listen address is probed on loopback.
    assert_eq!(
        afterword::doctor::local_address("0.0.0.0:8080".parse().unwrap()),
        "127.0.0.1:8080".parse().unwrap()
    );
    assert_eq!(
        afterword::doctor::local_address("[::]:8080".parse().unwrap()),
        "[::1]:8080".parse().unwrap()
    );
}

/// The lines of a server's log until one satisfies `done` (bounded).
fn log_until(server: &Server, done: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(line) = server.stderr.recv_timeout(Duration::from_secs(10)) {
        let hit = done(&line);
        seen.push(line);
        if hit {
            return seen;
        }
    }
    panic!("no such log line in {seen:#?}");
}

#[test]
fn json_logs_carry_the_request_id_that_error_answers_show() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("AFTERWORD_LOG_FORMAT", "json");
    let server = Server::start(cmd);
    let answer = server.get("/api/v1/comments?site=nosuchsite&slug=/a/");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let header = answer
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap_or_else(|| panic!("no X-Request-Id in {answer}"))
        .trim()
        .to_owned();
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "unknown_site");
    assert_eq!(body["error"]["request_id"], header.as_str(), "{body}");
    // The log line for it: JSON, with the id, the status and the path.
    let lines = log_until(&server, |l| l.contains(&header));
    let line: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(line["span"]["request_id"], header.as_str(), "{line}");
    assert_eq!(line["fields"]["status"], 404, "{line}");
    assert_eq!(line["span"]["path"], "/api/v1/comments", "{line}");
    assert_eq!(line["level"], "INFO");
    // Every line is JSON, not only the request's.
    for l in &lines {
        assert!(serde_json::from_str::<Value>(l).is_ok(), "not JSON: {l}");
    }
    // A different request gets a different id; a 405 carries one too.
    let other = server.get("/embed.js?x");
    assert!(other.contains("x-request-id: "), "{other}");
    assert!(!other.contains(&header));
}

#[test]
fn a_bad_log_format_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .arg("serve")
        .env("AFTERWORD_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("AFTERWORD_LOG_FORMAT: `yaml` must be \"text\" or \"json\""),
        "{said}"
    );
}

// ---- afterword doctor: each check against a broken setup ------------------------------

/// Runs `afterword doctor --json` in `dir` with `config` (if any) and extra arguments;
/// returns the exit code and the report.
fn doctor(
    dir: &std::path::Path,
    config: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, Value) {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .arg("doctor")
        .arg("--json")
        .args(args)
        .env_remove("AFTERWORD_CONFIG")
        .env_remove("AFTERWORD_DATABASE_URL")
        .env_remove("AFTERWORD_PUBLIC_URL")
        .env_remove("AFTERWORD_LISTEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(text) = config {
        let path = dir.join("afterword.toml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--config").arg(&path);
    }
    let out = cmd.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), report)
}

/// The findings of one check, as `(status, message, fix)`.
fn findings(report: &Value, check: &str) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == check)
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (s("status"), s("message"), s("fix"))
        })
        .collect()
}

/// The one finding of `check` with `status`, whose message holds `says`; returns its fix.
#[track_caller]
fn finds(report: &Value, check: &str, status: &str, says: &str) -> String {
    let all = findings(report, check);
    all.iter()
        .find(|(st, m, _)| st == status && m.contains(says))
        .map(|(.., fix)| fix.clone())
        .unwrap_or_else(|| panic!("no {status} `{says}` for {check} in {report:#}"))
}

#[test]
fn doctor_says_all_is_well_for_the_zero_config_setup() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = doctor(dir.path(), None, &[], &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    finds(&report, "database", "ok", "does not exist yet");
    // It looked and created nothing.
    assert!(!dir.path().join("afterword.db").exists());
    // Text for people, with the same verdict.
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["doctor"])
        .env_remove("AFTERWORD_CONFIG")
        .env_remove("AFTERWORD_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("All is well.\n"));
}

#[test]
fn doctor_names_unknown_keys_and_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = doctor(dir.path(), Some("listn = \"127.0.0.1:1\"\n"), &[], &[]);
    assert_eq!(code, 1, "{report:#}");
    let fix = finds(&report, "config", "fail", "`listn`");
    assert!(fix.contains("docs/configuration.md"), "{fix}");
    // The rest cannot be checked without a configuration, and says so.
    assert_eq!(findings(&report, "database")[0].0, "skipped");
    let (code, report) = doctor(
        dir.path(),
        Some("[[site]]\nid = \"blog\"\norigins = [\"https://blog.example\"]\nmoderation = \"some\"\n"),
        &[],
        &[],
    );
    assert_eq!(code, 1);
    finds(&report, "config", "fail", "site[0].moderation");
    let (code, report) = doctor(
        dir.path(),
        None,
        &[],
        &[("AFTERWORD_LISTEN", "localhost:80")],
    );
    assert_eq!(code, 1);
    finds(&report, "config", "fail", "AFTERWORD_LISTEN");
}

fn migrate(dir: &std::path::Path, url: &str) {
    let out = Command::new(BIN)
        .current_dir(dir)
        .arg("migrate")
        .env_remove("AFTERWORD_CONFIG")
        .env("AFTERWORD_DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn doctor_finds_sqlite_files_the_server_cannot_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("afterword.db");
    migrate(dir.path(), "sqlite://afterword.db");
    let (code, report) = doctor(dir.path(), None, &[], &[]);
    assert_eq!(code, 0, "{report:#}");
    finds(&report, "database", "ok", "WAL mode");
    finds(&report, "migrations", "ok", "all applied");

    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let (code, report) = doctor(dir.path(), None, &[], &[]);
    assert_eq!(code, 1);
    let fix = finds(&report, "database", "fail", "is read-only");
    assert!(fix.starts_with("chmod u+w"), "{fix}");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();

    // As root, a command run as root beside a database another user owns: its -shm file
    // is root's and the server's user cannot write it.
    if unsafe { libc::geteuid() } == 0 {
        std::fs::write(dir.path().join("afterword.db-shm"), b"").unwrap();
        std::os::unix::fs::chown(&db, Some(4242), Some(4242)).unwrap();
        let (code, report) = doctor(dir.path(), None, &[], &[]);
        assert_eq!(code, 1);
        let fix = finds(
            &report,
            "database",
            "fail",
            "afterword.db-shm belongs to uid 0, but the database to uid 4242",
        );
        assert!(fix.contains("chown 4242"), "{fix}");
        // The folder is root's too (mode 700): SQLite cannot make its files there.
        finds(
            &report,
            "database",
            "fail",
            "SQLite must create its -wal and -shm files there",
        );
    }

    // A database folder that is a file.
    let (code, report) = doctor(
        dir.path(),
        None,
        &[],
        &[("AFTERWORD_DATABASE_URL", "sqlite://afterword.db/inner.db")],
    );
    assert_eq!(code, 1, "{report:#}");
    finds(&report, "database", "fail", "is not a folder");
}

#[test]
fn doctor_finds_pending_migrations_and_a_damaged_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/upgrade/first-release.db"
        ),
        &db,
    )
    .unwrap();
    let env = [("AFTERWORD_DATABASE_URL", "sqlite://old.db")];
    let (code, report) = doctor(dir.path(), None, &[], &env);
    assert_eq!(code, 2, "{report:#}");
    let fix = finds(
        &report,
        "migrations",
        "warn",
        "2026-11-27-000002_admin_accounts",
    );
    assert!(fix.contains("back up"), "{fix}");
    finds(&report, "migrations", "warn", "add comments.root_id");
    // The first release had made its key: it is still good.
    finds(&report, "server key", "ok", "present");

    migrate(dir.path(), "sqlite://old.db");
    let mut c =
        <diesel::SqliteConnection as diesel::Connection>::establish(&db.to_string_lossy()).unwrap();
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE server_secrets SET value = 'not hex' WHERE name = 'server_key'"),
        &mut c,
    )
    .unwrap();
    let (code, report) = doctor(dir.path(), None, &[], &env);
    assert_eq!(code, 1, "{report:#}");
    let fix = finds(&report, "server key", "fail", "damaged");
    assert!(fix.contains("restore"), "{fix}");
}

#[test]
fn doctor_checks_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = doctor(
        dir.path(),
        None,
        &[],
        &[(
            "AFTERWORD_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/afterword",
        )],
    );
    assert_eq!(code, 1);
    let fix = finds(&report, "database", "fail", "cannot connect to PostgreSQL");
    assert!(fix.contains("running"), "{fix}");
    let Some(db) = crate::common::TestDb::new(crate::common::Backend::Postgres) else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let env = [("AFTERWORD_DATABASE_URL", db.url())];
    let (code, report) = doctor(dir.path(), None, &[], &env);
    assert_eq!(code, 0, "{report:#}");
    finds(&report, "migrations", "ok", "none applied yet");
    migrate(dir.path(), db.url());
    let (code, report) = doctor(dir.path(), None, &[], &env);
    assert_eq!(code, 0, "{report:#}");
    finds(&report, "database", "ok", "PostgreSQL answers");
    finds(&report, "migrations", "ok", "all applied");
    db.exec("DELETE FROM __diesel_schema_migrations WHERE version LIKE '%000010'");
    db.exec("CREATE INDEX comments_email_idx ON comments (email)");
    let (code, report) = doctor(dir.path(), None, &[], &env);
    assert_eq!(code, 2, "{report:#}");
    finds(
        &report,
        "migrations",
        "warn",
        "1 pending: 2026-11-27-000010_drop_unused_email_index",
    );
}

#[test]
fn doctor_checks_each_sites_origins() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[[site]]\nid = \"blog\"\norigins = [\"https://blog.example\"]\n\
        [[site]]\nid = \"mute\"\norigins = []\n[[site]]\nid = \"open\"\norigins = [\"*\"]\n";
    let (code, report) = doctor(dir.path(), Some(config), &[], &[]);
    assert_eq!(code, 1, "{report:#}");
    finds(&report, "site blog", "ok", "https://blog.example");
    let fix = finds(&report, "site mute", "fail", "browsers cannot post");
    assert!(fix.contains("origins = ["), "{fix}");
    finds(&report, "site open", "warn", "any web page can post");
}

/// A web server for blog pages: each path answers its page; others 404.
fn blog(pages: Vec<(&'static str, String)>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = std::io::Read::read(&mut stream, &mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..n])
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
            let answer = match pages.iter().find(|(p, _)| *p == path) {
                Some((_, html)) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                    html.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
            };
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    format!("http://{addr}")
}

#[test]
fn doctor_fetches_a_blog_page_and_checks_its_embed() {
    let dir = tempfile::tempdir().unwrap();
    let post = |site: &str, container: bool| {
        format!(
            "<!doctype html><title>Post</title><article>Text</article>{}\
             <script src=\"https://comments.example/embed.js\" data-site=\"{site}\" async></script>",
            if container { "<div id=\"afterword\"></div>" } else { "" }
        )
    };
    let base = blog(vec![
        ("/good/", post("blog", true)),
        ("/typo/", post("blgo", true)),
        (
            "/bare/",
            "<!doctype html><p>No comments here</p>".to_owned(),
        ),
        ("/nodiv/", post("blog", false)),
    ]);
    let config = format!(
        "public_url = \"https://comments.example\"\n\
         [[site]]\nid = \"blog\"\norigins = [\"{base}\"]\n\
         [[site]]\nid = \"other\"\norigins = [\"https://other.example\"]\n"
    );
    let url = |p: &str| format!("{base}{p}");
    let (code, report) = doctor(dir.path(), Some(&config), &["--fetch", &url("/good/")], &[]);
    assert_eq!(code, 0, "{report:#}");
    finds(
        &report,
        &format!("page {}", url("/good/")),
        "ok",
        "embed.js for site blog",
    );

    let (code, report) = doctor(
        dir.path(),
        Some(&config),
        &[
            "--fetch",
            &url("/typo/"),
            "--fetch",
            &url("/bare/"),
            "--fetch",
            &url("/gone/"),
            "--fetch",
            &url("/nodiv/"),
        ],
        &[],
    );
    assert_eq!(code, 1, "{report:#}");
    finds(
        &report,
        &format!("page {}", url("/typo/")),
        "fail",
        "data-site=\"blgo\", which no [[site]] declares",
    );
    finds(
        &report,
        &format!("page {}", url("/bare/")),
        "fail",
        "has no Afterword script",
    );
    finds(&report, &format!("page {}", url("/gone/")), "fail", "404");
    finds(
        &report,
        &format!("page {}", url("/nodiv/")),
        "warn",
        "no element with id=\"afterword\"",
    );

    // The page's origin is not the site's: the browser's CORS check would refuse it.
    let elsewhere = config.replace(
        &format!("origins = [\"{base}\"]"),
        "origins = [\"https://blog.example\"]",
    );
    let (code, report) = doctor(
        dir.path(),
        Some(&elsewhere),
        &["--fetch", &url("/good/")],
        &[],
    );
    assert_eq!(code, 1, "{report:#}");
    let fix = finds(
        &report,
        &format!("page {}", url("/good/")),
        "fail",
        "is not among site blog's origins",
    );
    assert!(fix.contains(&format!("add \"{base}\"")), "{fix}");
    // A script from elsewhere than public_url.
    let moved = config.replace("https://comments.example\"", "https://c2.example\"");
    let (code, report) = doctor(dir.path(), Some(&moved), &["--fetch", &url("/good/")], &[]);
    assert_eq!(code, 2, "{report:#}");
    finds(
        &report,
        &format!("page {}", url("/good/")),
        "warn",
        "but public_url is https://c2.example",
    );
}

#[test]
fn doctor_checks_trusted_proxies_against_a_sample_request() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = doctor(dir.path(), None, &["--proxy-from", "172.17.0.1"], &[]);
    assert_eq!(code, 1, "{report:#}");
    let fix = finds(
        &report,
        "reverse proxy",
        "fail",
        "counts as coming from 172.17.0.1 itself",
    );
    assert_eq!(fix, "add \"172.17.0.1/32\" to [limits] trusted_proxies");
    let trusted = "[limits]\ntrusted_proxies = [\"127.0.0.1/32\", \"172.16.0.0/12\"]\n";
    let (code, report) = doctor(
        dir.path(),
        Some(trusted),
        &["--proxy-from", "172.17.0.1"],
        &[],
    );
    assert_eq!(code, 0, "{report:#}");
    finds(
        &report,
        "reverse proxy",
        "ok",
        "counts as coming from 203.0.113.7",
    );
    // The proxy speaks RFC 7239 but the config expects X-Forwarded-For.
    let (code, report) = doctor(
        dir.path(),
        Some(trusted),
        &[
            "--proxy-from",
            "172.17.0.1",
            "--forwarded",
            "for=198.51.100.4",
        ],
        &[],
    );
    assert_eq!(code, 1, "{report:#}");
    let fix = finds(&report, "reverse proxy", "fail", "itself");
    assert!(fix.contains("proxy_header"), "{fix}");
    let (code, report) = doctor(
        dir.path(),
        Some("[limits]\ntrusted_proxies = [\"0.0.0.0/0\"]\n"),
        &[],
        &[],
    );
    assert_eq!(code, 2, "{report:#}");
    finds(&report, "reverse proxy", "warn", "trusts every address");
}

#[test]
fn doctor_connects_to_smtp_and_sends_only_when_asked() {
    use crate::email::{Mode, Smtp};
    let dir = tempfile::tempdir().unwrap();
    let config = |port: u16| {
        format!(
            "public_url = \"https://comments.example\"\n\
             [smtp]\nurl = \"smtp://127.0.0.1:{port}\"\nfrom = \"Afterword <comments@example.org>\"\ntimeout = \"3s\"\n"
        )
    };
    let down = Smtp::down();
    let (code, report) = doctor(
        dir.path(),
        Some(&config(down.port)),
        &["--send-to", "me@example.org"],
        &[],
    );
    assert_eq!(code, 1, "{report:#}");
    let fix = finds(&report, "smtp", "fail", &format!("127.0.0.1:{}", down.port));
    assert!(fix.contains("reachable"), "{fix}");
    finds(&report, "smtp send", "skipped", "must answer first");

    let up = Smtp::up(Mode::Accept);
    let (code, report) = doctor(dir.path(), Some(&config(up.port)), &[], &[]);
    assert_eq!(code, 0, "{report:#}");
    finds(&report, "smtp", "ok", "connected");
    assert!(
        up.received().is_empty(),
        "nothing is sent without --send-to"
    );
    let (code, report) = doctor(
        dir.path(),
        Some(&config(up.port)),
        &["--send-to", "me@example.org"],
        &[],
    );
    assert_eq!(code, 0, "{report:#}");
    finds(&report, "smtp send", "ok", "accepted");
    let got = up.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["me@example.org"]);

    // A server that refuses every recipient: the send says why.
    let refusing = Smtp::up(Mode::Permanent);
    let (code, report) = doctor(
        dir.path(),
        Some(&config(refusing.port)),
        &["--send-to", "me@example.org"],
        &[],
    );
    assert_eq!(code, 1, "{report:#}");
    finds(&report, "smtp send", "fail", "No such mailbox");
}

// ---- /metrics ---------------------------------------------------------------------

/// Scrapes `/metrics` and parses it as Prometheus does.
fn scrape(url: &str, token: Option<&str>) -> prometheus_parse::Scrape {
    let mut req = reqwest::blocking::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample `name` whose labels include `labels`.
fn value(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    use prometheus_parse::Value;
    s.samples
        .iter()
        .find(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b.last().map(|h| h.count).unwrap_or_default(),
            Value::Summary(_) => f64::NAN,
        })
}

fn status_of(url: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = reqwest::blocking::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().unwrap().status().as_u16()
}

#[test]
fn metrics_are_off_unless_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(command(dir.path()));
    assert_eq!(
        status_of(&format!("http://{}/metrics", server.addr), &[]),
        404
    );
}

#[test]
fn metrics_count_requests_cache_writes_spam_and_mail_for_loopback_clients() {
    let dir = tempfile::tempdir().unwrap();
    // Moderators are mailed about every comment through a mail server that is down:
    // the mail waits in the outbox.
    let smtp = crate::email::Smtp::down();
    std::fs::write(
        dir.path().join("afterword.toml"),
        format!(
            "[[site]]\nid = \"blog\"\norigins = [\"*\"]\nmoderators = [\"mod@example.org\"]\n\
             notify_moderators = \"all\"\nspam = {{ form_token = false }}\n\
             [[site]]\nid = \"guarded\"\norigins = [\"*\"]\n\
             [smtp]\nurl = \"smtp://127.0.0.1:{}\"\nfrom = \"a@example.org\"\ntimeout = \"1s\"\n\
             [metrics]\nenabled = true\n",
            smtp.port
        ),
    )
    .unwrap();
    let mut cmd = command(dir.path());
    cmd.env("AFTERWORD_CONFIG", dir.path().join("afterword.toml"));
    let server = Server::start(cmd);
    let base = format!("http://{}", server.addr);
    let client = reqwest::blocking::Client::new();
    let post = |site: &str, body: &str| {
        client
            .post(format!("{base}/api/v1/comments?site={site}&slug=/m/"))
            .json(&serde_json::json!({"body": body, "author": "Ann"}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post("blog", "one"), 201);
    assert_eq!(post("blog", "two"), 201);
    // No form token on a site that wants one: filed as spam (answered like held).
    assert_eq!(post("guarded", "three"), 201);
    for _ in 0..3 {
        assert_eq!(
            status_of(&format!("{base}/api/v1/comments?site=blog&slug=/m/"), &[]),
            200
        );
    }
    assert_eq!(status_of(&format!("{base}/api/v1/comments/77"), &[]), 405);

    let s = scrape(&format!("{base}/metrics"), None);
    let get = |name: &str, labels: &[(&str, &str)]| {
        value(&s, name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in {:#?}", s.samples))
    };
    let route = [
        ("route", "/api/v1/comments"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(get("afterword_http_requests_total", &route), 3.0);
    assert_eq!(
        get(
            "afterword_http_requests_total",
            &[("route", "/api/v1/comments/:id"), ("status", "405")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "afterword_http_request_duration_seconds_count",
            &[("route", "/api/v1/comments"), ("method", "POST")]
        ),
        3.0
    );
    // The first read builds the page, the next ones are answered from memory.
    assert!(get("afterword_cache_misses_total", &[]) >= 1.0);
    assert!(get("afterword_cache_hits_total", &[]) >= 1.0);
    assert!(get("afterword_cache_bytes", &[]) > 0.0);
    assert_eq!(get("afterword_writer_queue_depth", &[]), 0.0);
    assert!(get("afterword_writer_batch_size_count", &[]) >= 3.0);
    assert_eq!(
        get("afterword_spam_verdicts_total", &[("rule", "form_token")]),
        1.0
    );
    // Two moderator mails wait; the oldest is seconds old.
    assert_eq!(
        get("afterword_outbox_messages", &[("status", "queued")]),
        2.0
    );
    assert!(
        get(
            "afterword_outbox_oldest_age_seconds",
            &[("status", "queued")]
        ) >= 0.0
    );
    assert_eq!(
        get("afterword_outbox_messages", &[("status", "failed")]),
        0.0
    );

    // Every series the sample Grafana dashboard asks for is served.
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/grafana-dashboard.json"
    ))
    .unwrap();
    let names = regex::Regex::new(r"afterword_[a-z_]+").unwrap();
    for name in names.find_iter(&dashboard).map(|m| m.as_str()) {
        assert!(
            text.contains(&format!("\n{name}")),
            "the dashboard wants {name}"
        );
    }

    // Through a proxy on this machine the request comes from loopback too: refused.
    assert_eq!(
        status_of(
            &format!("{base}/metrics"),
            &[("x-forwarded-for", "203.0.113.7")]
        ),
        403
    );
}

#[test]
fn metrics_want_the_token_or_their_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let token = "s3cret-metrics-token-0123456789";
    std::fs::write(
        dir.path().join("t.toml"),
        format!("[metrics]\nenabled = true\ntoken = \"{token}\"\n"),
    )
    .unwrap();
    let mut cmd = command(dir.path());
    cmd.env("AFTERWORD_CONFIG", dir.path().join("t.toml"));
    let server = Server::start(cmd);
    let url = format!("http://{}/metrics", server.addr);
    assert_eq!(status_of(&url, &[]), 401);
    assert_eq!(
        status_of(&url, &[("authorization", "Bearer wrong-token-0123456789")]),
        401
    );
    let s = scrape(&url, Some(token));
    assert!(value(&s, "afterword_writer_queue_depth", &[]).is_some());
    drop(server);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("l.toml"),
        format!("[metrics]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let mut cmd = command(dir.path());
    cmd.env("AFTERWORD_CONFIG", dir.path().join("l.toml"));
    let server = Server::start(cmd);
    assert_eq!(
        status_of(&format!("http://{}/metrics", server.addr), &[]),
        404
    );
    let s = scrape(&format!("http://127.0.0.1:{port}/metrics"), None);
    assert!(value(&s, "afterword_outbox_messages", &[("status", "queued")]).is_some());
}

/// A write whose commit fails is answered 503 and counted as a database error. In this
/// process other tests' servers count too: only the growth is compared.
async fn database_errors_are_counted(backend: crate::common::Backend) {
    let Some(app) = crate::common::spawn_with(
        backend,
        "[[site]]\nid = \"open\"\norigins = [\"*\"]\n[metrics]\nenabled = true\n",
    )
    .await
    else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let url = app.url("/metrics");
    let errors = move || {
        let url = url.clone();
        async move {
            let s = tokio::task::spawn_blocking(move || scrape(&url, None))
                .await
                .unwrap();
            value(
                &s,
                "afterword_database_errors_total",
                &[("kind", "unavailable")],
            )
            .unwrap_or(0.0)
        }
    };
    let before = errors().await;
    app.faults
        .inject("/doomed/", afterword::db::faults::Fault::CommitFails);
    let r = app
        .post_comment(
            "open",
            "/doomed/",
            serde_json::json!({"body": "lost", "author": "Al"}),
        )
        .await;
    assert_eq!(r.status(), 503);
    assert!(errors().await >= before + 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_database_errors_are_counted() {
    database_errors_are_counted(crate::common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_errors_are_counted() {
    database_errors_are_counted(crate::common::Backend::Postgres).await;
}

// ---- the admin page's overview ---------------------------------------------------------

/// The queue tab opens with comments per day, the queue, mail health and the settings'
/// warnings, all read from this server's database and config.
async fn the_queue_tab_opens_with_an_overview(app: crate::common::TestApp) {
    use serde_json::json;
    app.comment("open", "/o/", json!({"body": "one", "author": "A"}))
        .await;
    app.comment("open", "/o/", json!({"body": "two", "author": "B"}))
        .await;
    app.comment("moderated", "/o/", json!({"body": "held", "author": "C"}))
        .await;
    let admin = app.admin().await;
    let page = admin
        .request(reqwest::Method::GET, "/admin")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let overview = page
        .split("data-overview>")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .unwrap_or_else(|| panic!("no overview in {page}"));
    // Today's bar holds the three comments (held ones count, spam would not).
    let today = time::OffsetDateTime::now_utc().date().to_string();
    assert!(
        overview.contains(&format!("data-day=\"{today}\" data-count=\"3\"")),
        "{overview}"
    );
    assert_eq!(overview.matches("<rect").count(), 30);
    assert!(overview.contains("<span data-total>3</span>"), "{overview}");
    assert!(
        overview.contains("<p class=\"big\" data-pending>1</p>"),
        "{overview}"
    );
    assert!(overview.contains("Email is off"), "{overview}");
    assert!(
        overview.contains("None configured (<code>[[site.webhook]]</code>)"),
        "{overview}"
    );
    // The test sites accept comments from anywhere: the doctor's warning, with its fix.
    assert!(
        overview.contains("<strong>site open</strong>: origins = [&#34;*&#34;]")
            || overview.contains("<strong>site open</strong>: origins = [&quot;*&quot;]"),
        "{overview}"
    );
    assert!(overview.contains("Fix: list your blog"), "{overview}");
    // Other tabs do not carry it.
    let comments = admin
        .request(reqwest::Method::GET, "/admin/comments")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!comments.contains("data-overview"));
}

on_both_backends!(the_queue_tab_opens_with_an_overview);
