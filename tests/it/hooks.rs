//! Webhooks from the event stream: a real HTTP receiver on loopback checks every
//! Standard Webhooks signature with its own HMAC and counts what it accepted, so each
//! event is seen exactly once per endpoint, from one instance, from two instances on one
//! PostgreSQL, and across a restart; a dead endpoint is retried, shown on the admin page
//! and never delays another endpoint; the chat formats carry the bodies their services
//! expect.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{self, enc, TestApp};

on_both_backends!(
    every_event_is_signed_and_arrives_once_per_endpoint,
    a_dead_endpoint_is_retried_shown_and_delays_no_other,
    events_wait_across_a_restart_and_arrive_once,
    chat_formats_carry_what_each_service_expects,
    the_docs_receiver_example_verifies_real_deliveries,
    a_comment_deleted_by_its_author_leaves_no_text_in_events,
);

/// The secret of the tests' signed endpoints (32 bytes of key).
const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// One request the receiver took.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// The body's bytes as received.
    pub raw: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// A webhook receiver on loopback: answers `status` (0: never answers), records every
/// request, and checks signatures itself, with its own HMAC.
pub struct Receiver {
    pub port: u16,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Received>>>,
}

/// The signature a Standard Webhooks receiver expects, computed here independently of the
/// server's code.
fn expected_signature(secret: &str, id: &str, ts: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

async fn read_request(
    s: &mut tokio::net::TcpStream,
) -> Option<(String, HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((path, headers, body))
}

impl Receiver {
    pub async fn start(status: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(status));
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (st, g) = (Arc::clone(&status), Arc::clone(&got));
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let (st, g) = (Arc::clone(&st), Arc::clone(&g));
                tokio::spawn(async move {
                    let Some((path, headers, body)) = read_request(&mut s).await else {
                        return;
                    };
                    let answer = st.load(Ordering::SeqCst);
                    let raw = body;
                    let body: Value = serde_json::from_slice(&raw).expect("a JSON body");
                    g.lock().unwrap().push(Received {
                        path,
                        headers,
                        body,
                        raw,
                        status: answer,
                    });
                    if answer == 0 {
                        // Never answers: holds the connection until the client gives up.
                        tokio::time::sleep(Duration::from_secs(600)).await;
                        return;
                    }
                    let reply = format!(
                        "HTTP/1.1 {answer} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    );
                    let _ = s.write_all(reply.as_bytes()).await;
                });
            }
        });
        Receiver { port, status, got }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// What it accepted (answered 2xx).
    pub fn accepted(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// Checks the signature of every request and that each accepted message id came once;
    /// returns the accepted bodies by type.
    pub fn verify_once(&self, secret: &str) -> HashMap<String, usize> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut types: HashMap<String, usize> = HashMap::new();
        for r in self.all() {
            let id = r.header("webhook-id");
            let ts = r.header("webhook-timestamp");
            assert!(id.starts_with("msg_"), "{r:?}");
            let ts_n: i64 = ts.parse().expect("a timestamp");
            let now = afterword::view::now_micros() / 1_000_000;
            assert!((now - ts_n).abs() < 300, "a fresh timestamp: {ts}");
            let want = expected_signature(secret, id, ts, &r.raw);
            let sigs: Vec<&str> = r.header("webhook-signature").split(' ').collect();
            assert!(sigs.contains(&want.as_str()), "a bad signature on {r:?}");
            if (200..300).contains(&r.status) {
                *ids.entry(id.to_owned()).or_default() += 1;
                let kind = r.body["type"].as_str().unwrap_or("?").to_owned();
                *types.entry(kind).or_default() += 1;
            }
        }
        for (id, n) in &ids {
            assert_eq!(*n, 1, "message {id} was accepted {n} times");
        }
        types
    }
}

async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The tests' sites, with `hooks` (TOML of `[[site.webhook]]` tables) on the site
/// `hooked`, whose comments wait for a moderator.
fn config(hooks: &str, timeout: &str) -> String {
    format!(
        "{}\n[outbound]\nallow_private_addresses = true\ntimeout = \"{timeout}\"\nconnect_timeout = \"1s\"\n\n\
         [[site]]\nid = \"hooked\"\norigins = [\"https://hooked.example\"]\nmoderation = \"all\"\n{hooks}",
        common::SITES
    )
}

fn hook(url: &str, extra: &str) -> String {
    format!("\n[[site.webhook]]\nurl = \"{url}\"\nretry_after = \"200ms\"\n{extra}\n")
}

/// Stops `app` and starts another on its database with `config`.
async fn respawn(mut app: TestApp, config: &str) -> TestApp {
    let db = Arc::clone(&app.db);
    let server = app.server.take().unwrap();
    drop(app);
    let _ = server.await;
    common::spawn_on(db, config).await
}

async fn post(app: &TestApp, slug: &str, body: &str) -> (Value, String) {
    app.comment(
        "hooked",
        slug,
        json!({"body": body, "author": "Ann", "email": "ann@example.com"}),
    )
    .await
}

async fn every_event_is_signed_and_arrives_once_per_endpoint(app: TestApp) {
    let all = Receiver::start(200).await;
    let created_only = Receiver::start(200).await;
    let config = config(
        &format!(
            "{}{}",
            hook(&all.url("/all"), &format!("secret = \"{SECRET}\"")),
            hook(
                &created_only.url("/created"),
                &format!("secret = \"{SECRET}\"\nevents = [\"comment.created\"]")
            )
        ),
        "5s",
    );
    let app = respawn(app, &config).await;
    let admin = app.admin().await;
    let (c, token) = post(&app, "/p/", "first **words**").await;
    let id = c["id"].as_i64().unwrap();
    admin.act(id, "approve").await;
    let r = app
        .edit(
            app.url(&format!("/api/v1/comments/{id}")),
            &token,
            &json!({"body": "changed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.url(&format!(
            "/api/v1/reactions?site=hooked&slug={}",
            enc("/p/")
        )))
        .json(&json!({"kind": "👍", "visitor": "v1", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    admin.act(id, "spam").await;
    admin.act(id, "delete").await;
    until(
        "six events at the first endpoint",
        Duration::from_secs(20),
        || all.accepted().len() >= 6,
    )
    .await;
    until("one at the second", Duration::from_secs(10), || {
        !created_only.accepted().is_empty()
    })
    .await;
    // Anything sent twice would come within this.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let types = all.verify_once(SECRET);
    for kind in [
        "comment.created",
        "comment.approved",
        "comment.edited",
        "reaction.added",
        "comment.spam",
        "comment.deleted",
    ] {
        assert_eq!(types.get(kind), Some(&1), "{kind}: {types:?}");
    }
    assert_eq!(all.accepted().len(), 6);
    let created = created_only.verify_once(SECRET);
    assert_eq!(created, HashMap::from([("comment.created".to_owned(), 1)]));
    // The same event has the same id at both endpoints.
    let first = &all.accepted()[0];
    assert_eq!(
        first.header("webhook-id"),
        created_only.accepted()[0].header("webhook-id")
    );
    // What a created event says: the comment, never its author's address.
    let body = &first.body;
    assert_eq!(body["type"], "comment.created");
    assert_eq!(body["data"]["site"], "hooked");
    assert_eq!(body["data"]["thread"]["slug"], "/p/");
    assert_eq!(body["data"]["comment"]["id"], id);
    assert_eq!(body["data"]["comment"]["status"], "pending");
    assert_eq!(body["data"]["comment"]["author"], "Ann");
    assert_eq!(body["data"]["comment"]["excerpt"], "first **words**");
    assert_eq!(
        body["data"]["comment"]["link"],
        "https://hooked.example/p/#afterword-comment-".to_owned() + &id.to_string()
    );
    assert!(!body.to_string().contains("ann@example.com"));
    assert_eq!(body["data"]["actions"][0]["action"], "approve");
    let deleted = all
        .accepted()
        .into_iter()
        .find(|r| r.body["type"] == "comment.deleted")
        .unwrap();
    assert_eq!(deleted.body["data"]["comment"]["excerpt"], "");
    // The admin page lists them, delivered.
    let list = admin.get("/api/v1/admin/hooks?status=delivered").await;
    assert_eq!(list["deliveries"].as_array().unwrap().len(), 7);
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 2);
    assert!(list["deliveries"][0]["last_answer"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 200"));
}

async fn a_dead_endpoint_is_retried_shown_and_delays_no_other(app: TestApp) {
    let good = Receiver::start(200).await;
    let failing = Receiver::start(500).await;
    let hanging = Receiver::start(0).await;
    let config = config(
        &format!(
            "{}{}{}",
            hook(&hanging.url("/hang"), &format!("secret = \"{SECRET}\"")),
            hook(&failing.url("/fail"), &format!("secret = \"{SECRET}\"")),
            hook(&good.url("/good"), &format!("secret = \"{SECRET}\"")),
        ),
        "10s",
    );
    let app = respawn(app, &config).await;
    let admin = app.admin().await;
    let started = Instant::now();
    for i in 0..3 {
        post(&app, "/dead/", &format!("comment {i}")).await;
    }
    // The good endpoint has all three long before the hanging one's first attempt could
    // time out (10 s).
    until("three at the good endpoint", Duration::from_secs(8), || {
        good.accepted().len() == 3
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(good.verify_once(SECRET).get("comment.created"), Some(&3));
    // The failing one is tried again and again (200 ms, doubling).
    until(
        "retries at the failing endpoint",
        Duration::from_secs(10),
        || failing.all().len() >= 6,
    )
    .await;
    failing.verify_once(SECRET);
    let fail_url = failing.url("/fail");
    let list = admin.get("/api/v1/admin/hooks?status=queued").await;
    let waiting: Vec<&Value> = list["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["endpoint"] == fail_url.as_str())
        .collect();
    assert_eq!(waiting.len(), 3, "{list}");
    assert!(waiting.iter().all(|d| d["attempts"].as_i64().unwrap() >= 1));
    assert!(waiting.iter().any(|d| d["last_answer"]
        .as_str()
        .unwrap_or("")
        .starts_with("HTTP 500")));
    // The hanging one is being sent (its claim holds), and nothing of it was accepted.
    assert!(hanging.accepted().is_empty());
    let page = admin
        .request(reqwest::Method::GET, "/admin/hooks")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("HTTP 500"), "{html}");
    assert!(html.contains(&fail_url));
    // The overview on the queue tab counts what waits.
    let overview = admin
        .request(reqwest::Method::GET, "/admin")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tile = overview
        .split("data-hooks>")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .unwrap_or_else(|| panic!("no webhook tile in {overview}"));
    let tile_waiting: i64 = tile
        .split("<p>")
        .nth(1)
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{tile}"));
    assert!(tile_waiting >= 3, "{tile}");
    assert!(tile.contains("the oldest for"), "{tile}");
    // The receiver comes back: a retry from the admin page goes out at once.
    failing.answer(200);
    let id = waiting[0]["id"].as_i64().unwrap();
    let r = admin
        .post_raw(&format!("/api/v1/admin/hooks/{id}/retry"), json!({}))
        .await;
    assert!(
        matches!(r.status().as_u16(), 200 | 409),
        "retry: {}",
        r.status()
    );
    until(
        "the failing endpoint's three accepted",
        Duration::from_secs(30),
        || failing.accepted().len() == 3,
    )
    .await;
    assert_eq!(failing.verify_once(SECRET).get("comment.created"), Some(&3));
    // The receiver has it a moment before the sender marks it delivered and lets go of
    // its claim (until then a drop is refused: it is being sent).
    until(
        "the retried one marked delivered",
        Duration::from_secs(10),
        || {
            app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE id = {id} AND claimed_by IS NULL"
        )) == 1
        },
    )
    .await;
    // Delivered ones are not sent again; a dropped one is gone.
    let r = admin
        .post_raw(&format!("/api/v1/admin/hooks/{id}/retry"), json!({}))
        .await;
    common::expect_error(r, 409, "delivery_not_retryable").await;
    let r = admin
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/hooks/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = admin
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/hooks/{id}"),
        )
        .send()
        .await
        .unwrap();
    common::expect_error(r, 404, "delivery_not_found").await;
    // A test event, signed like the rest.
    let r = admin
        .post_raw(
            "/api/v1/admin/hooks/test",
            json!({"site": "hooked", "url": good.url("/good")}),
        )
        .await;
    assert_eq!(r.status(), 202);
    until("the test event", Duration::from_secs(10), || {
        good.accepted()
            .iter()
            .any(|r| r.body["type"] == "webhook.test")
    })
    .await;
    good.verify_once(SECRET);
    let r = admin
        .post_raw(
            "/api/v1/admin/hooks/test",
            json!({"site": "hooked", "url": "http://127.0.0.1:1/nope"}),
        )
        .await;
    common::expect_error(r, 404, "webhook_not_found").await;
    let r = admin
        .post_raw("/api/v1/admin/hooks?status=lost", json!({}))
        .await;
    assert_eq!(r.status(), 405);
    let r = admin
        .request(reqwest::Method::GET, "/api/v1/admin/hooks?status=lost")
        .send()
        .await
        .unwrap();
    common::expect_error(r, 422, "invalid_status").await;
}

async fn events_wait_across_a_restart_and_arrive_once(app: TestApp) {
    let receiver = Receiver::start(503).await;
    let config = config(
        &hook(&receiver.url("/r"), &format!("secret = \"{SECRET}\"")),
        "5s",
    );
    let app = respawn(app, &config).await;
    for i in 0..3 {
        post(&app, "/restart/", &format!("before {i}")).await;
    }
    until(
        "attempts before the restart",
        Duration::from_secs(10),
        || receiver.all().len() >= 3,
    )
    .await;
    assert!(receiver.accepted().is_empty());
    // Stopped with deliveries waiting; one more event recorded by the next instance.
    let app = respawn(
        app,
        &config.replace("retry_after = \"200ms\"", "retry_after = \"100ms\""),
    )
    .await;
    receiver.answer(200);
    post(&app, "/restart/", "after").await;
    until(
        "four accepted after the restart",
        Duration::from_secs(20),
        || receiver.accepted().len() >= 4,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.verify_once(SECRET).get("comment.created"),
        Some(&4)
    );
    assert_eq!(receiver.accepted().len(), 4);
}

async fn chat_formats_carry_what_each_service_expects(app: TestApp) {
    let r = Receiver::start(200).await;
    let hooks: String = ["slack", "discord", "matrix"]
        .iter()
        .map(|f| hook(&r.url(&format!("/{f}")), &format!("format = \"{f}\"")))
        .chain([hook(&r.url("/ntfy/news"), "format = \"ntfy\"")])
        .collect();
    let app = respawn(app, &config(&hooks, "5s")).await;
    let (c, _) = post(&app, "/chat/", "Hello <b>there</b> @everyone").await;
    let id = c["id"].as_i64().unwrap();
    until("four chat messages", Duration::from_secs(10), || {
        r.accepted().len() == 4
    })
    .await;
    let by_path: HashMap<String, Value> = r
        .accepted()
        .into_iter()
        .map(|m| {
            assert!(
                !m.headers.contains_key("webhook-signature"),
                "no secret, no signature"
            );
            assert_eq!(m.header("content-type"), "application/json");
            (m.path, m.body)
        })
        .collect();
    // Slack: text, and Block Kit with the excerpt escaped and link buttons.
    let slack = &by_path["/slack"];
    assert!(slack["text"]
        .as_str()
        .unwrap()
        .contains("waiting for moderation"));
    assert_eq!(slack["blocks"][0]["type"], "section");
    assert!(slack["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("&lt;b&gt;there"));
    let buttons = slack["blocks"][2]["elements"].as_array().unwrap();
    assert_eq!(buttons[0]["type"], "button");
    assert_eq!(buttons[0]["text"]["text"], "Approve");
    assert_eq!(buttons[1]["text"]["text"], "Spam");
    let approve = buttons[0]["url"].as_str().unwrap().to_owned();
    assert!(approve.contains("/admin/mail/action?t="), "{approve}");
    // Discord: one embed; mentions ping no one.
    let discord = &by_path["/discord"];
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
    let embed = &discord["embeds"][0];
    assert_eq!(embed["author"]["name"], "Ann");
    assert_eq!(embed["description"], "Hello <b>there</b> @everyone");
    assert_eq!(
        embed["url"],
        format!("https://hooked.example/chat/#afterword-comment-{id}")
    );
    assert!(embed["fields"][0]["value"]
        .as_str()
        .unwrap()
        .contains("[Approve]("));
    // Matrix (hookshot): plain text and escaped HTML.
    let matrix = &by_path["/matrix"];
    assert!(matrix["text"]
        .as_str()
        .unwrap()
        .contains("Ann: Hello <b>there</b>"));
    let html = matrix["html"].as_str().unwrap();
    assert!(html.contains("&lt;b&gt;there&lt;/b&gt;") && !html.contains("<b>there"));
    assert!(html.contains("<a href=\""));
    // ntfy: posted to the server's root, the topic inside, view actions.
    let ntfy = &by_path["/ntfy/"];
    assert_eq!(ntfy["topic"], "news");
    assert!(ntfy["title"].as_str().unwrap().contains("“/chat/”"));
    assert_eq!(ntfy["actions"][0]["action"], "view");
    assert_eq!(ntfy["actions"][0]["label"], "Approve");
    // The approve button opens a page that asks first, and acts once confirmed.
    let path = &approve[approve.find("/admin/mail/action").unwrap()..];
    let page = app.get(path).await;
    assert_eq!(page.status(), 200);
    let token = path.split("t=").nth(1).unwrap();
    let done = app
        .client
        .post(app.url("/admin/mail/action"))
        .form(&[("t", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let thread = app.thread("hooked", "/chat/", "").await;
    assert_eq!(common::ids(&thread), vec![id]);
}

/// A child process that is stopped when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The receiver example of docs/webhooks.md, run as it is with Python: it checks every
/// signature and prints what it accepted.
async fn the_docs_receiver_example_verifies_real_deliveries(app: TestApp) {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/webhooks.md"),
    )
    .unwrap();
    let start = doc.find("```python\n").expect("a Python example") + "```python\n".len();
    let code = &doc[start..start + doc[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("receiver.py");
    std::fs::write(&script, code).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let printed_to = dir.path().join("out.txt");
    let child = match std::process::Command::new("python3")
        .arg(&script)
        .env("WEBHOOK_SECRET", SECRET)
        .env("PORT", port.to_string())
        .stdout(std::fs::File::create(&printed_to).unwrap())
        .spawn()
    {
        Ok(c) => KillOnDrop(c),
        Err(e) => {
            eprintln!("skipped: the receiver example needs python3: {e}");
            return;
        }
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let app = respawn(
        app,
        &config(&hook(&url, &format!("secret = \"{SECRET}\"")), "5s"),
    )
    .await;
    let admin = app.admin().await;
    post(&app, "/docs/", "checked by the example").await;
    let start = Instant::now();
    let mut list;
    loop {
        list = admin.get("/api/v1/admin/hooks?status=delivered").await;
        if !list["deliveries"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never delivered: {}",
            admin.get("/api/v1/admin/hooks").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(list["deliveries"][0]["last_answer"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 204"));
    // A forged delivery is refused with 401.
    let forged = reqwest::Client::new()
        .post(&url)
        .header("webhook-id", "msg_1")
        .header(
            "webhook-timestamp",
            afterword::view::now_micros() / 1_000_000,
        )
        .header("webhook-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    drop(child);
    let printed = std::fs::read_to_string(&printed_to).unwrap();
    assert!(printed.contains("comment.created"), "{printed}");
}

/// Two instances on one PostgreSQL: each event is dispatched by one of them and each
/// delivery sent by one of them, also while retries go on at a receiver that fails first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_deliver_each_event_once() {
    let Some(db) = common::TestDb::new(common::Backend::Postgres) else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = Arc::new(db);
    let steady = Receiver::start(200).await;
    let flaky = Receiver::start(500).await;
    let config = config(
        &format!(
            "{}{}",
            hook(&steady.url("/steady"), &format!("secret = \"{SECRET}\"")),
            hook(&flaky.url("/flaky"), &format!("secret = \"{SECRET}\"")),
        ),
        "5s",
    );
    let a = common::spawn_on(Arc::clone(&db), &config).await;
    let b = common::spawn_on(db, &config).await;
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        post(app, "/two/", &format!("comment {i}")).await;
    }
    until(
        "twenty at the steady endpoint",
        Duration::from_secs(20),
        || steady.accepted().len() >= 20,
    )
    .await;
    until("retries at the flaky one", Duration::from_secs(10), || {
        flaky.all().len() >= 30
    })
    .await;
    flaky.answer(200);
    until(
        "twenty at the flaky endpoint",
        Duration::from_secs(30),
        || flaky.accepted().len() >= 20,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for r in [&steady, &flaky] {
        assert_eq!(r.verify_once(SECRET).get("comment.created"), Some(&20));
        assert_eq!(r.accepted().len(), 20);
    }
    // Every delivery is recorded as delivered, once.
    let delivered =
        a.db.number("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'delivered'");
    assert_eq!(delivered, 40);
    assert_eq!(
        a.db.number("SELECT COUNT(*) AS n FROM events WHERE dispatched_at IS NULL"),
        0
    );
}

/// An author's delete takes the text out of the event stream too: the events and
/// deliveries that quoted it go, and the deletion's own event quotes nothing.
async fn a_comment_deleted_by_its_author_leaves_no_text_in_events(app: TestApp) {
    let r = Receiver::start(200).await;
    let app = respawn(
        app,
        &config(&hook(&r.url("/r"), &format!("secret = \"{SECRET}\"")), "5s"),
    )
    .await;
    let (c, token) = post(&app, "/gone/", "a secret recipe").await;
    until("the created event", Duration::from_secs(10), || {
        r.accepted().len() == 1
    })
    .await;
    let id = c["id"].as_i64().unwrap();
    let gone = app
        .remove(app.url(&format!("/api/v1/comments/{id}")), &token)
        .await;
    assert_eq!(gone.status(), 204);
    until("the deleted event", Duration::from_secs(10), || {
        r.accepted().len() == 2
    })
    .await;
    let deleted = &r.accepted()[1].body;
    assert_eq!(deleted["type"], "comment.deleted");
    assert_eq!(deleted["data"]["comment"]["excerpt"], "");
    assert!(!deleted.to_string().contains("secret recipe"));
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM events WHERE comment_id = {id} AND kind = 'comment.created'"
        )),
        0
    );
    assert_eq!(
        app.db.number(
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE body LIKE '%secret recipe%'"
        ),
        0
    );
}

/// A worker gives back what it claimed after every batch (`release_deliveries`): through
/// the index of claimed rows, not a scan of every delivery kept (which made the writer
/// read the whole table back per batch under a steady stream of comments).
#[test]
fn giving_back_claims_reads_only_the_claimed_rows_sqlite() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let db = common::TestDb::new(common::Backend::Sqlite).unwrap();
    let common::TestDb::Sqlite { path, .. } = &db else {
        unreachable!()
    };
    let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    diesel_migrations::MigrationHarness::run_pending_migrations(
        &mut c,
        afterword::db::SQLITE_MIGRATIONS,
    )
    .unwrap();
    let plan: Vec<Plan> = diesel::sql_query(
        "EXPLAIN QUERY PLAN UPDATE webhook_deliveries SET claimed_by = NULL, \
         lease_until = NULL WHERE claimed_by = ? AND status = ?",
    )
    .bind::<diesel::sql_types::Text, _>("afterword-hook-x")
    .bind::<diesel::sql_types::Text, _>("queued")
    .load(&mut c)
    .unwrap();
    let plan: Vec<&str> = plan.iter().map(|p| p.detail.as_str()).collect();
    assert_eq!(
        plan,
        ["SEARCH webhook_deliveries USING INDEX webhook_deliveries_claimed_idx (claimed_by=?)"]
    );
}

#[test]
fn claimed_index_migration_down_is_exact_sqlite() {
    crate::email::sqlite_downs_are_exact(&["000020"]);
}

#[test]
fn claimed_index_migration_down_is_exact_postgres() {
    crate::email::postgres_downs_are_exact(&["000020"]);
}
