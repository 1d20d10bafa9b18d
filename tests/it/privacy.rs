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

/// Ada's two comments (one a reply to Bob), Bob's one, and a ban and a mail naming Ada.
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
                (1, 'moderator-new-comment', 'a@b.example', 'mod@example.com', \
                 'From ada@example.com: First from Ada', 1), \
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
    assert_eq!(v["mail"].as_array().unwrap().len(), 2, "{v}");
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
    assert_eq!(out["mail_dropped"], 2, "{out}");
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
