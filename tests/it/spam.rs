//! The spam checks, against the real server on SQLite and PostgreSQL: what they catch is
//! stored as spam, answered like a held comment, never shown or counted, and its reason is
//! in the audit log; people who take their time, and sites that turn a check off, pass.

use crate::common;

use std::time::Duration;

use common::TestApp;
use serde_json::{json, Value};

const CONFIG: &str = r#"
[[site]]
id = "open"
origins = ["*"]
spam = { blocked = ["Casino", "/v[i1]agra/"], max_links = 2 }

[[site]]
id = "lax"
origins = ["*"]
spam = { honeypot = false, form_token = false, max_links = 0, duplicates = "0s" }

[[site]]
id = "blog"
origins = ["https://blog.example"]

[limits]
comments_per_ip_per_minute = 0

[spam]
# Tokens count whole seconds at both ends, so a post 20 ms after the read may count 1 s
# when a second ends between them: with 2, a post made at once is always under it.
min_seconds = 2
duplicates = "3s"

# Email on (nothing listens there: mail stays queued), to see what spam would have mailed.
[smtp]
url = "smtp://127.0.0.1:9"
from = "comments@example.com"
"#;

/// How long a reader takes to write, for these tests: more than `min_seconds` (2 s).
const WRITING: Duration = Duration::from_millis(2100);

macro_rules! spam_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::common::spawn_with(crate::common::Backend::Sqlite, super::CONFIG).await.unwrap();
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = crate::common::spawn_with(crate::common::Backend::Postgres, super::CONFIG).await else {
                        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
                        return;
                    };
                    super::$name(app).await;
                }
            )*
        }
    };
}

spam_tests!(
    no_token_is_spam_answered_like_a_held_comment,
    the_token_works_after_the_minimum_and_for_its_thread_only,
    every_thread_answer_carries_a_fresh_token,
    the_honeypot_catches_what_fills_it,
    too_many_links_are_spam,
    blocked_words_and_patterns_are_spam_in_any_disguise,
    the_same_text_again_is_spam_within_the_window,
    a_site_that_turns_the_checks_off_takes_everything,
    moderators_skip_the_checks,
    spam_mails_nobody,
);

/// The form token a thread's answer carries, as the embed reads it.
async fn token(app: &TestApp, site: &str, slug: &str) -> String {
    let r = app
        .get(&format!(
            "/api/v1/comments?site={site}&slug={}",
            common::enc(slug)
        ))
        .await;
    assert_eq!(r.status(), 200);
    r.headers()
        .get("afterword-form")
        .expect("a form token")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Posts and checks the answer: 201 with an edit token, and the status the poster sees.
async fn posted(app: &TestApp, ip: &str, site: &str, slug: &str, body: Value) -> Value {
    let r = app.post_from(ip, site, slug, body).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["edit_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{v}"
    );
    v["comment"].clone()
}

fn stored_status(app: &TestApp, id: &Value) -> String {
    let n = |status: &str| {
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {id} AND status = '{status}'"
        ))
    };
    for s in ["approved", "pending", "spam", "deleted"] {
        if n(s) == 1 {
            return s.to_owned();
        }
    }
    panic!("comment {id} is not stored");
}

/// The reason the filter gave in the audit log for a comment.
fn filed_because(app: &TestApp, id: &Value, words: &str) -> bool {
    app.db.number(&format!(
        "SELECT COUNT(*) AS n FROM audit_log WHERE comment_id = {id} \
         AND moderator = 'spam filter' AND action = 'spam' AND detail LIKE '%{words}%'"
    )) == 1
}

/// Spam: the poster sees a held comment; stored as spam; not in the thread, not counted.
async fn assert_spam(app: &TestApp, site: &str, slug: &str, c: &Value, because: &str) {
    assert_eq!(c["status"], "pending", "answered like a held comment: {c}");
    assert!(!c["html"].as_str().unwrap_or("").is_empty(), "{c}");
    assert_eq!(stored_status(app, &c["id"]), "spam");
    assert!(
        filed_because(app, &c["id"], because),
        "audit reason `{because}` for {c}"
    );
    let thread = app.thread(site, slug, "").await;
    assert!(
        !common::ids(&thread).contains(&c["id"].as_i64().unwrap()),
        "{thread}"
    );
}

async fn spam_mails_nobody(app: TestApp) {
    let body = json!({"body": "Win big", "email": "victim@example.com", "notify_replies": true});
    let c = posted(&app, "203.0.113.70", "open", "/m/", body).await;
    assert_spam(&app, "open", "/m/", &c, "no valid form token").await;
    assert_eq!(app.db.count("subscribers"), 0);
    assert_eq!(app.db.count("outbox"), 0);
    // A person's comment asking for replies gets its confirmation mail.
    let t = token(&app, "open", "/m/").await;
    tokio::time::sleep(WRITING).await;
    let body = json!({"body": "Tell me", "email": "ada@example.com", "notify_replies": true,
                      "form_token": t});
    let ok = posted(&app, "203.0.113.71", "open", "/m/", body).await;
    assert_eq!(ok["status"], "approved");
    assert_eq!(app.db.count("subscribers"), 1);
    assert_eq!(app.db.count("outbox"), 1);
}

async fn no_token_is_spam_answered_like_a_held_comment(app: TestApp) {
    let r = app
        .post_from("203.0.113.1", "open", "/a/", json!({"body": "Hello"}))
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let (c, token) = (
        v["comment"].clone(),
        v["edit_token"].as_str().unwrap().to_owned(),
    );
    assert_spam(&app, "open", "/a/", &c, "no valid form token").await;
    // Its poster, asking after it as the embed does, still sees it waiting.
    let mine = app.mine("open", "/a/", &c, &token).await;
    assert_eq!(mine[0]["status"], "pending", "{mine}");
    // Once a moderator has looked at it (still spam), it is refused like any other.
    app.db.exec(&format!(
        "INSERT INTO audit_log (at, moderator, action, comment_id, detail) \
         VALUES (2, 'ann', 'spam', {}, 'spam → spam')",
        c["id"]
    ));
    let mine = app.mine("open", "/a/", &c, &token).await;
    assert_eq!(mine, json!([]), "{mine}");
    let thread = app.thread("open", "/a/", "").await;
    assert_eq!(thread["thread"]["comment_count"], 0, "{thread}");
    // A forged or foreign token is no better.
    let forged = posted(
        &app,
        "203.0.113.2",
        "open",
        "/a/",
        json!({"body": "Hi there", "form_token": "1.AAAA"}),
    )
    .await;
    assert_spam(&app, "open", "/a/", &forged, "no valid form token").await;
}

async fn the_token_works_after_the_minimum_and_for_its_thread_only(app: TestApp) {
    let t = token(&app, "open", "/b/").await;
    // At once: faster than a person writes.
    let quick = posted(
        &app,
        "203.0.113.3",
        "open",
        "/b/",
        json!({"body": "First!", "form_token": t}),
    )
    .await;
    assert_spam(&app, "open", "/b/", &quick, "after loading the thread").await;
    tokio::time::sleep(WRITING).await;
    let c = posted(
        &app,
        "203.0.113.4",
        "open",
        "/b/",
        json!({"body": "A considered reply", "form_token": t}),
    )
    .await;
    assert_eq!(c["status"], "approved", "{c}");
    assert_eq!(stored_status(&app, &c["id"]), "approved");
    // The same token on another thread of the site is not valid.
    let elsewhere = posted(
        &app,
        "203.0.113.5",
        "open",
        "/other/",
        json!({"body": "Cross-posted", "form_token": t}),
    )
    .await;
    assert_spam(&app, "open", "/other/", &elsewhere, "no valid form token").await;
}

async fn every_thread_answer_carries_a_fresh_token(app: TestApp) {
    // A miss, then a hit from the page cache: each answer has its token, and a browser on
    // the site's origin may read it.
    // (On PostgreSQL the cache works once its change listener is up: ask until it answers.)
    let first = token(&app, "blog", "/c/").await;
    let mut r;
    let mut tries = 0;
    loop {
        r = app
            .client
            .get(app.url("/api/v1/comments?site=blog&slug=%2Fc%2F"))
            .header("origin", "https://blog.example")
            .send()
            .await
            .unwrap();
        tries += 1;
        if r.headers()["x-afterword-cache"] == "hit" || tries == 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(r.headers()["x-afterword-cache"], "hit");
    let expose = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(expose.to_lowercase().contains("afterword-form"), "{expose}");
    let second = r.headers()["afterword-form"].to_str().unwrap().to_owned();
    assert!(!first.is_empty() && !second.is_empty());
    // A 304 carries one too.
    let etag = r.headers()["etag"].clone();
    let r = app
        .client
        .get(app.url("/api/v1/comments?site=blog&slug=%2Fc%2F"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.headers().contains_key("afterword-form"));
}

async fn the_honeypot_catches_what_fills_it(app: TestApp) {
    let t = token(&app, "open", "/d/").await;
    tokio::time::sleep(WRITING).await;
    let c = posted(
        &app,
        "203.0.113.6",
        "open",
        "/d/",
        json!({"body": "Nice post", "form_token": t, "homepage": "http://spam.example"}),
    )
    .await;
    assert_spam(&app, "open", "/d/", &c, "hidden form field").await;
    // Left empty, as people leave it: fine.
    let ok = posted(
        &app,
        "203.0.113.7",
        "open",
        "/d/",
        json!({"body": "Nice post indeed", "form_token": t, "homepage": ""}),
    )
    .await;
    assert_eq!(ok["status"], "approved");
}

async fn too_many_links_are_spam(app: TestApp) {
    let t = token(&app, "open", "/e/").await;
    tokio::time::sleep(WRITING).await;
    let body = "Buy at https://a.example, www.b.example and <http://c.example>";
    let c = posted(
        &app,
        "203.0.113.8",
        "open",
        "/e/",
        json!({"body": body, "form_token": t}),
    )
    .await;
    assert_spam(&app, "open", "/e/", &c, "3 links").await;
    let two = "See [the docs](https://docs.example) and https://www.example.org";
    let ok = posted(
        &app,
        "203.0.113.9",
        "open",
        "/e/",
        json!({"body": two, "form_token": t}),
    )
    .await;
    assert_eq!(ok["status"], "approved");
}

async fn blocked_words_and_patterns_are_spam_in_any_disguise(app: TestApp) {
    let t = token(&app, "open", "/f/").await;
    tokio::time::sleep(WRITING).await;
    let cases = [
        (json!({"body": "Best ＣＡＳＩＮＯ bonus"}), "Casino"),
        (json!({"body": "cheap v1agra here"}), "agra"),
        (
            json!({"body": "Hello", "author": "casino\u{200B} king"}),
            "Casino",
        ),
        (
            json!({"body": "Hi", "website": "https://CASINO.example"}),
            "Casino",
        ),
    ];
    for (i, (mut body, reason)) in cases.into_iter().enumerate() {
        body["form_token"] = json!(t);
        let c = posted(&app, &format!("198.51.100.{i}"), "open", "/f/", body).await;
        assert_spam(&app, "open", "/f/", &c, reason).await;
    }
    // A word inside another word is not the word.
    let ok = posted(
        &app,
        "198.51.100.99",
        "open",
        "/f/",
        json!({"body": "On occasion, casinos are discussed.", "form_token": t}),
    )
    .await;
    assert_eq!(ok["status"], "approved", "{ok}");
}

async fn the_same_text_again_is_spam_within_the_window(app: TestApp) {
    let (t, t2) = (
        token(&app, "open", "/g/").await,
        token(&app, "open", "/g2/").await,
    );
    tokio::time::sleep(WRITING).await;
    let body = |t: &str| json!({"body": "Great article, thanks!", "form_token": t});
    let first = posted(&app, "192.0.2.1", "open", "/g/", body(&t)).await;
    assert_eq!(first["status"], "approved");
    // Another client, same thread.
    let again = posted(&app, "192.0.2.2", "open", "/g/", body(&t)).await;
    assert_spam(&app, "open", "/g/", &again, "same text").await;
    // The same client, another thread.
    let elsewhere = posted(&app, "192.0.2.1", "open", "/g2/", body(&t2)).await;
    assert_spam(&app, "open", "/g2/", &elsewhere, "same text").await;
    // Other words are fine; and after the window (3 s) so is the same text.
    let other = posted(
        &app,
        "192.0.2.3",
        "open",
        "/g/",
        json!({"body": "Thanks!", "form_token": t}),
    )
    .await;
    assert_eq!(other["status"], "approved");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let later = posted(&app, "192.0.2.4", "open", "/g/", body(&t)).await;
    assert_eq!(later["status"], "approved", "{later}");
    let thread = app.thread("open", "/g/", "").await;
    assert_eq!(thread["thread"]["comment_count"], 3, "{thread}");
}

async fn a_site_that_turns_the_checks_off_takes_everything(app: TestApp) {
    // With no token to check, none is handed out.
    let r = app.get("/api/v1/comments?site=lax&slug=%2Fh%2F").await;
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("afterword-form"));
    for i in 0..2 {
        let c = posted(
            &app,
            "192.0.2.50",
            "lax",
            "/h/",
            json!({"body": "http://a http://b http://c same", "homepage": "x"}),
        )
        .await;
        assert_eq!(c["status"], "approved", "copy {i}: {c}");
    }
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM audit_log WHERE moderator = 'spam filter'"),
        0
    );
}

async fn moderators_skip_the_checks(app: TestApp) {
    let t = token(&app, "open", "/i/").await;
    tokio::time::sleep(WRITING).await;
    let c = posted(
        &app,
        "192.0.2.60",
        "open",
        "/i/",
        json!({"body": "A question", "form_token": t}),
    )
    .await;
    let admin = app.admin().await;
    let r = admin
        .post(
            &format!("/api/v1/admin/comments/{}/reply", c["id"]),
            json!({"body": "An answer with http://a http://b http://c about casino rules"}),
        )
        .await;
    let id = &r["comment"]["id"];
    assert_eq!(stored_status(&app, id), "approved", "{r}");
}
