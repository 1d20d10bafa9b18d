//! `afterword privacy export|erase EMAIL`: the shipped binary run against the database of
//! a running server, on SQLite and PostgreSQL.

use crate::common;

use std::process::Command;

use common::TestApp;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_afterword");

on_both_backends!(
    export_shows_everything_stored_about_an_address,
    erase_anonymizes_and_drops_mail,
    erase_can_delete_the_comments_for_good,
    a_bad_address_is_refused_clearly,
);

fn run(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("AFTERWORD_CONFIG")
        .env("AFTERWORD_DATABASE_URL", app.db.url())
        .env("NO_COLOR", "1")
        .output()
        .expect("run afterword")
}

fn json_out(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Ada's two comments (one a reply to Bob), Bob's one, and a ban and a mail to Ada. Mail
/// about her to moderators (base64, found by its keyed hash) is in `no_trace`.
async fn seed(app: &TestApp) -> (Value, Value, Value) {
    let (bob, _) = app
        .comment(
            "open",
            "/p/",
            json!({"body": "Bob here", "author": "Bob", "email": "bob@example.com"}),
        )
        .await;
    let (ada, _) = app
        .comment(
            "open",
            "/p/",
            json!({"body": "First from Ada", "author": "Ada", "email": "Ada@Example.com",
                   "website": "https://ada.example", "notify_replies": true}),
        )
        .await;
    let (reply, _) = app
        .comment(
            "short",
            "/q/",
            json!({"body": "Ada again", "author": "Ada L.", "email": "ada@example.com"}),
        )
        .await;
    app.db.exec(
        "INSERT INTO bans (kind, value, site, action, reason, created_by, created_at) \
         VALUES ('email', 'ada@example.com', NULL, 'hold', 'test', 'admin', 1)",
    );
    app.db.exec(
        "INSERT INTO subscribers (site, email, lang, created_at, confirmed_at, unsubscribe_key) \
         VALUES ('open', 'ada@example.com', 'fr', 1, 2, 'k-ada'), \
                ('open', 'bob@example.com', 'en', 1, 2, 'k-bob')",
    );
    app.db.exec(
        "INSERT INTO outbox (created_at, kind, sender, recipient, message, next_attempt_at) \
         VALUES (1, 'reply', 'a@b.example', 'ADA@example.com', 'To: ada', 1), \
                (1, 'moderator-new-comment', 'a@b.example', 'mod@example.com', 'about bob', 1)",
    );
    (ada, reply, bob)
}

async fn export_shows_everything_stored_about_an_address(app: TestApp) {
    let (ada, reply, _) = seed(&app).await;
    let v = json_out(&run(&app, &["privacy", "export", "ADA@example.COM"]));
    assert_eq!(v["email"], "ada@example.com");
    let comments = v["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2, "{v}");
    assert_eq!(comments[0]["id"], ada["id"]);
    assert_eq!(comments[0]["body"], "First from Ada");
    assert_eq!(comments[0]["website"], "https://ada.example/");
    assert_eq!(comments[0]["notify_replies"], true);
    assert_eq!(comments[0]["site"], "open");
    assert!(comments[0]["ip_hash"].is_string(), "{v}");
    assert_eq!(comments[1]["id"], reply["id"]);
    assert_eq!(comments[1]["slug"], "/q/");
    assert_eq!(v["mail"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["bans"].as_array().unwrap().len(), 1, "{v}");
    let subs = v["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "{v}");
    assert_eq!(subs[0]["lang"], "fr");
    // Nobody else's: Bob's comment and mail are not in it.
    assert!(!v.to_string().contains("Bob here") && !v.to_string().contains("about bob"));
}

async fn erase_anonymizes_and_drops_mail(app: TestApp) {
    let (ada, _, bob) = seed(&app).await;
    // The running server has the thread cached.
    let before = app.thread("open", "/p/", "").await;
    assert!(before.to_string().contains("\"Ada\""));
    let out = json_out(&run(
        &app,
        &[
            "privacy",
            "erase",
            "ada@example.com",
            "--comments",
            "anonymize",
        ],
    ));
    assert_eq!(out["comments_anonymized"], 2, "{out}");
    assert_eq!(out["mail_dropped"], 1, "{out}");
    assert_eq!(out["bans_kept"], 1, "{out}");
    assert_eq!(out["subscriptions_dropped"], 1, "{out}");
    assert_eq!(app.db.count("subscribers"), 1, "Bob's subscription stays");
    // Nothing is left under the address; the text stays, without name or website.
    let v = json_out(&run(&app, &["privacy", "export", "ada@example.com"]));
    assert_eq!(v["comments"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["mail"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {} AND author IS NULL \
             AND email IS NULL AND website IS NULL AND ip IS NULL AND NOT notify_replies",
            ada["id"]
        )),
        1
    );
    assert_eq!(app.db.count("outbox"), 1, "Bob's mail stays");
    // The running server shows it at once: its cached page was dropped.
    let page =
        common::until_thread(&app, "open", "/p/", |t| !t.to_string().contains("\"Ada\"")).await;
    let shown = page["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ada["id"])
        .unwrap()
        .clone();
    assert_eq!(shown["author"], Value::Null);
    assert_eq!(shown["html"], "<p>First from Ada</p>\n");
    assert_ne!(shown["avatar"], ada["avatar"]);
    assert!(page.to_string().contains("Bob here"));
    let _ = bob;
}

async fn erase_can_delete_the_comments_for_good(app: TestApp) {
    let (ada, reply, bob) = seed(&app).await;
    // Bob answers Ada: her comment stays as an empty placeholder above his reply.
    let (answer, _) = app
        .comment(
            "open",
            "/p/",
            json!({"body": "Hi Ada", "parent_id": ada["id"]}),
        )
        .await;
    let out = json_out(&run(
        &app,
        &[
            "privacy",
            "erase",
            "ada@example.com",
            "--comments",
            "delete",
        ],
    ));
    assert_eq!(out["comments_deleted"], 2, "{out}");
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {}",
            reply["id"]
        )),
        0,
        "a comment without replies is gone"
    );
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {} AND status = 'deleted' \
             AND body = '' AND author IS NULL AND email IS NULL",
            ada["id"]
        )),
        1,
        "one with replies stays as an empty placeholder"
    );
    let page = app.thread("open", "/p/", "").await;
    let ids = common::ids(&page);
    assert!(
        ids.contains(&answer["id"].as_i64().unwrap()) && ids.contains(&bob["id"].as_i64().unwrap())
    );
    assert!(!page.to_string().contains("First from Ada"));
    assert_eq!(
        app.db.count("audit_log"),
        2,
        "each deletion is in the audit log"
    );
}

async fn a_bad_address_is_refused_clearly(app: TestApp) {
    let out = run(&app, &["privacy", "export", "not an address"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("email"), "{err}");
    let out = run(&app, &["privacy", "erase", "a@b.example"]);
    assert!(!out.status.success(), "--comments must be chosen");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--comments"));
}

// ---- Erase erases: the whole database and the server's log, searched afterwards -------

mod no_trace {
    use super::BIN;
    use crate::common::{Backend, TestDb};
    use crate::email::{Mode, Smtp};
    use base64::Engine;
    use diesel::prelude::*;
    use serde_json::json;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    const ADA: &str = "Ada.Lovelace@Example.org";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn erase_leaves_no_trace_sqlite() {
        erase_leaves_no_trace(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn erase_leaves_no_trace_postgres() {
        erase_leaves_no_trace(Backend::Postgres).await;
    }

    /// `afterword serve` with its log (stderr) kept.
    struct Served {
        child: Child,
        base: String,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Drop for Served {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn serve(config: &std::path::Path) -> Served {
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn afterword serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("addr=").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server says where it listens");
        Served {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    /// Every base64 part of a stored message, decoded, after the message itself.
    fn decoded(message: &str) -> String {
        let mut out = message.to_owned();
        for part in message.split("Content-Transfer-Encoding: base64").skip(1) {
            let Some(start) = part.find("\r\n\r\n") else {
                continue;
            };
            let body = &part[start + 4..];
            let body = &body[..body.find("\r\n--").unwrap_or(body.len())];
            let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean)
                .expect("a base64 part");
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
        out
    }

    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }

    /// Everything the database holds, as text: the SQLite file (and its WAL) byte for byte;
    /// on PostgreSQL every row of every table. Outbox messages are added decoded.
    fn everything(db: &TestDb) -> String {
        let (mut all, messages) = match db {
            TestDb::Sqlite { path, .. } => {
                let mut all = String::new();
                for p in [path.clone(), path.with_extension("db-wal")] {
                    if let Ok(bytes) = std::fs::read(&p) {
                        all.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                let mut c = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
                let m: Vec<Text> = diesel::sql_query("SELECT message AS t FROM outbox")
                    .load(&mut c)
                    .unwrap();
                (all, m)
            }
            TestDb::Postgres { url, .. } => {
                let mut c = PgConnection::establish(url).unwrap();
                let tables: Vec<Text> = diesel::sql_query(
                    "SELECT table_name::text AS t FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .load(&mut c)
                .unwrap();
                assert!(tables.len() > 10, "every table");
                let mut all = String::new();
                for table in tables {
                    let rows: Vec<Text> =
                        diesel::sql_query(format!("SELECT x::text AS t FROM \"{}\" x", table.t))
                            .load(&mut c)
                            .unwrap();
                    for r in rows {
                        all.push_str(&r.t);
                        all.push('\n');
                    }
                }
                let m: Vec<Text> = diesel::sql_query("SELECT message AS t FROM outbox")
                    .load(&mut c)
                    .unwrap();
                (all, m)
            }
        };
        for m in messages {
            all.push_str(&decoded(&m.t));
        }
        all
    }

    fn mentions(text: &str, needle: &str) -> usize {
        text.to_ascii_lowercase()
            .matches(&needle.to_ascii_lowercase())
            .count()
    }

    async fn erase_leaves_no_trace(backend: Backend) {
        let Some(db) = TestDb::new(backend) else {
            eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
            return;
        };
        let smtp = Smtp::up(Mode::Accept);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("afterword.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndatabase_url = \"{}\"\n\
                 public_url = \"https://comments.example\"\n\
                 [[site]]\nid = \"open\"\norigins = [\"*\"]\nmoderation = \"first-time\"\n\
                 moderators = [\"mod@example.com\"]\n\
                 [limits]\ncomments_per_ip_per_minute = 0\n\
                 [smtp]\nurl = \"smtp://127.0.0.1:{}\"\nfrom = \"Afterword <comments@example.com>\"\n\
                 {}",
                db.url(),
                smtp.port,
                crate::common::spam_checks_off("")
            ),
        )
        .unwrap();
        let server = serve(&config);
        let client = reqwest::Client::new();
        let post = |body: serde_json::Value| {
            client
                .post(format!(
                    "{}/api/v1/comments?site=open&slug=/p/",
                    server.base
                ))
                .json(&body)
                .send()
        };
        // Ada comments and asks for replies: her confirmation mail and the moderator's mail
        // about her comment go out; Bob's comment makes another moderator mail.
        let r = post(
            json!({"body": "Hello from Ada", "author": "Ada", "email": ADA,
                            "notify_replies": true}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201);
        let ada: serde_json::Value = r.json().await.unwrap();
        let r = post(json!({"body": "Bob here", "author": "Bob", "email": "bob@example.com"}))
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let got = smtp.wait_for(3).await;
        assert!(
            got.iter()
                .any(|m| m.to == vec![ADA.to_ascii_lowercase()] || m.to == vec![ADA.to_owned()]),
            "Ada's confirmation went out"
        );
        // The worker has recorded the answers ("mail sent" is logged after that).
        for _ in 0..100 {
            if mentions(&server.log.lock().unwrap().join("\n"), "mail sent") >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        db.exec(&format!(
            "INSERT INTO bans (kind, value, site, action, reason, created_by, created_at) \
             VALUES ('email', '{}', NULL, 'hold', 'test', 'admin', 1)",
            ADA.to_ascii_lowercase()
        ));
        // An audit entry written before addresses were hashed there.
        db.exec(&format!(
            "INSERT INTO audit_log (at, moderator, action, detail) \
             VALUES (1, 'admin', 'mail_drop', 'reply-confirm #1 to {ADA}')"
        ));
        assert!(mentions(&everything(&db), ADA) > 0, "the address is stored");
        // The export finds the mail about her too, without the moderator's address.
        let out = Command::new(BIN)
            .args(["privacy", "export", ADA, "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let export = super::json_out(&out);
        let mail = export["mail"].as_array().unwrap();
        assert_eq!(mail.len(), 2, "{export}");
        assert!(
            mail.iter()
                .any(|m| m["kind"] == "moderator-new-comment" && m["recipient"] == "(a moderator)"),
            "{export}"
        );
        assert_eq!(mentions(&export.to_string(), "mod@example.com"), 0);

        let out = Command::new(BIN)
            .args([
                "privacy",
                "erase",
                ADA,
                "--comments",
                "anonymize",
                "--config",
            ])
            .arg(&config)
            .output()
            .unwrap();
        let done = super::json_out(&out);
        assert_eq!(done["comments_anonymized"], 1, "{done}");
        assert_eq!(
            done["mail_dropped"], 2,
            "her confirmation and the mail about her: {done}"
        );
        assert_eq!(done["bans_kept"], 1, "{done}");

        let stored = everything(&db);
        assert_eq!(
            mentions(&stored, ADA),
            0,
            "the address is gone from the database"
        );
        assert!(
            mentions(&stored, "Hello from Ada") > 0,
            "her text stays, anonymous"
        );
        let avatar = ada["comment"]["avatar"].as_str().unwrap();
        assert_eq!(mentions(&stored, avatar), 0, "her avatar seed is gone");
        assert!(mentions(&stored, "bob@example.com") > 0, "Bob's data stays");
        let log = server.log.lock().unwrap().join("\n");
        assert!(mentions(&log, "mail sent") >= 3, "{log}");
        assert_eq!(mentions(&log, ADA), 0, "the log never named her: {log}");

        // The ban still holds her comments, though it no longer names her.
        let r = post(json!({"body": "Ada again", "email": ADA}))
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let again: serde_json::Value = r.json().await.unwrap();
        assert_eq!(again["comment"]["status"], "pending", "{again}");
    }
}
