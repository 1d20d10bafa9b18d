//! Replies from elsewhere (issue 24): a thread linked to a Mastodon status or a Bluesky
//! post gets their public replies as comments, moderated like the rest; edits and
//! deletions there follow here. The remote servers are stand-ins on loopback that answer
//! with the JSON shapes of Mastodon's and Bluesky's API documentation.

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{expect_error, Backend, TestApp};
use serde_json::{json, Value};

/// A stand-in HTTP server: answers each GET by its path (without the query) from a table
/// the test changes as it goes, and records every request line.
#[derive(Clone)]
pub struct Stand {
    pub port: u16,
    routes: Arc<Mutex<HashMap<String, (u16, String)>>>,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Stand {
    pub fn start() -> Stand {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stand = Stand {
            port,
            routes: Arc::default(),
            seen: Arc::default(),
        };
        let s = stand.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let s = s.clone();
                std::thread::spawn(move || s.answer(conn));
            }
        });
        stand
    }

    fn answer(&self, mut conn: std::net::TcpStream) {
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
        }
        let target = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
        self.seen.lock().unwrap().push(target.clone());
        let path = target.split('?').next().unwrap_or("/").to_owned();
        let (status, body) = self
            .routes
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or((404, r#"{"error":"Record not found"}"#.into()));
        let reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = conn.write_all(reply.as_bytes());
    }

    pub fn set(&self, path: &str, status: u16, body: &Value) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body.to_string()));
    }

    pub fn remove(&self, path: &str) {
        self.routes.lock().unwrap().remove(path);
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The test sites, polled every second, the stand-ins on loopback allowed.
fn config(appview: &str, allow_private: bool) -> String {
    format!(
        "{}\n[[site]]\nid = \"indie\"\norigins = [\"https://indie.example\"]\nmoderation = \"first-time\"\n\
         [outbound]\nallow_private_addresses = {allow_private}\ntimeout = \"2s\"\nconnect_timeout = \"1s\"\n\
         [federation]\npoll_interval = \"1s\"\nbluesky_appview = \"{appview}\"\n",
        common::SITES
    )
}

async fn spawn(backend: Backend, appview: &str, allow_private: bool) -> Option<TestApp> {
    common::spawn_with(backend, &config(appview, allow_private)).await
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(common::Backend::Sqlite).await;
                }
            )*
            use crate::common;
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if common::postgres_admin_url().is_none() {
                        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
                        return;
                    }
                    super::$name(common::Backend::Postgres).await;
                }
            )*
            use crate::common;
        }
    };
}

both!(
    the_blogs_own_accounts_link_the_posts_they_announce,
    remote_bans_refuse_or_hold_by_account_and_domain,
    webmention_replies_are_held_likes_counted_updates_and_deletes_followed,
    mastodon_replies_arrive_moderated_and_follow_edits_and_deletes,
    bluesky_replies_arrive_nested_with_their_links,
    a_dead_instance_is_retried_with_backoff_and_posting_goes_on,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_address_is_refused_unless_allowed() {
    let stand = Stand::start();
    stand.set(
        "/api/v1/statuses/100",
        200,
        &status("100", None, "me", "hi"),
    );
    let app = spawn(Backend::Sqlite, "http://127.0.0.1:9", false)
        .await
        .unwrap();
    let admin = app.admin().await;
    let t = thread_of(&app, &admin, "open", "/private/").await;
    link(&admin, t, &format!("{}/@me/100", stand.base())).await;
    let linked = until_linked(&admin, "open", t, |f| f["failures"].as_i64() >= Some(1)).await;
    let error = linked["last_error"].as_str().unwrap();
    assert!(error.contains("allow_private_addresses"), "{error}");
    assert!(
        stand.seen.lock().unwrap().is_empty(),
        "the stand-in was asked"
    );
}

/// A stand-in that serves HTML pages (webmention sources) by path.
#[derive(Clone)]
struct Pages(Stand);

impl Pages {
    fn set(&self, path: &str, status: u16, html: &str) {
        self.0
            .routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, html.to_owned()));
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0.base())
    }
}

async fn send(app: &TestApp, source: &str, target: &str) -> reqwest::Response {
    app.client
        .post(app.url("/webmention"))
        .form(&[("source", source), ("target", target)])
        .send()
        .await
        .unwrap()
}

const TARGET: &str = "https://indie.example/notes/1/";

fn reply_page(text: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>Re</title></head><body>
        <article class="h-entry">
          <a class="p-author h-card" href="https://carol.example/">Carol</a>
          <p>In reply to <a class="u-in-reply-to" href="{TARGET}">the note</a></p>
          <div class="e-content"><p>{text} <script>alert(1)</script></p></div>
          <time class="dt-published" datetime="2026-11-30T09:00:00Z">Nov 30</time>
        </article></body></html>"#
    )
}

fn like_page() -> String {
    format!(
        r#"<div class="h-entry"><span class="p-author h-card"><a class="p-name u-url" href="https://dan.example/">Dan</a></span>
           liked <a class="u-like-of" href="{TARGET}">this</a></div>"#
    )
}

async fn webmention_replies_are_held_likes_counted_updates_and_deletes_followed(backend: Backend) {
    let pages = Pages(Stand::start());
    let Some(app) = spawn(backend, "http://127.0.0.1:9", true).await else {
        return;
    };
    let admin = app.admin().await;
    pages.set("/reply", 200, &reply_page("Nice note"));
    pages.set("/like", 200, &like_page());
    pages.set("/unrelated", 200, "<p>No link here</p>");

    // Bad requests say what is wrong; nothing is queued.
    let r = send(&app, "", TARGET).await;
    expect_error(r, 400, "missing_source").await;
    let r = send(&app, "javascript:alert(1)", TARGET).await;
    expect_error(r, 400, "invalid_source").await;
    let r = send(&app, &pages.url("/reply"), "https://elsewhere.example/x").await;
    expect_error(r, 400, "target_not_on_site").await;
    let r = send(&app, TARGET, TARGET).await;
    expect_error(r, 400, "same_source_and_target").await;
    let r = app
        .client
        .post(app.url("/webmention"))
        .json(&json!({"source": pages.url("/reply"), "target": TARGET}))
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "unsupported_media_type").await;
    assert_eq!(app.db.count("webmentions"), 0);

    // A reply: 202 at once, then held (first-time), its source link shown to moderators.
    let r = send(&app, &pages.url("/reply"), TARGET).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "queued");
    let held = until_queue(&admin, |c| {
        c.iter().any(|x| x["origin"]["kind"] == "webmention")
    })
    .await;
    let reply = held
        .iter()
        .find(|x| x["origin"]["kind"] == "webmention")
        .unwrap()
        .clone();
    assert_eq!(reply["status"], "pending");
    assert_eq!(reply["site"], "indie");
    assert_eq!(reply["slug"], "/notes/1/");
    assert_eq!(reply["author"], "Carol");
    assert_eq!(reply["origin"]["url"], pages.url("/reply"));
    assert_eq!(reply["origin"]["label"], "127.0.0.1");
    assert_eq!(reply["origin"]["author_url"], "https://carol.example/");
    assert_eq!(reply["html"], "<p>Nice note</p>\n");
    assert_eq!(reply["created_at"], "2026-11-30T09:00:00Z");
    admin.act(reply["id"].as_i64().unwrap(), "approve").await;

    // A like is counted, not a comment; a page that does not link is refused.
    assert_eq!(send(&app, &pages.url("/like"), TARGET).await.status(), 202);
    assert_eq!(
        send(&app, &pages.url("/unrelated"), TARGET).await.status(),
        202
    );
    let page = common::until_thread(&app, "indie", "/notes/1/", |p| {
        p["thread"]["elsewhere"]["webmentions"]["like"] == 1
    })
    .await;
    assert_eq!(page["comments"].as_array().unwrap().len(), 1);
    assert_eq!(page["comments"][0]["origin"]["kind"], "webmention");
    until_db(
        &app,
        "SELECT COUNT(*) AS n FROM webmentions WHERE status = 'rejected'",
        1,
    )
    .await;

    // Re-sent after an edit: updated.
    pages.set("/reply", 200, &reply_page("Nice note, edited"));
    assert_eq!(send(&app, &pages.url("/reply"), TARGET).await.status(), 202);
    let page = common::until_thread(&app, "indie", "/notes/1/", |p| {
        p["comments"][0]["html"] == "<p>Nice note, edited</p>\n"
    })
    .await;
    assert!(page["comments"][0]["edited_at"].is_string());

    // Re-sent once gone (410), or no longer linking: removed.
    pages.set("/reply", 410, "<p>Gone</p>");
    pages.set("/like", 200, "<p>Changed my mind</p>");
    assert_eq!(send(&app, &pages.url("/reply"), TARGET).await.status(), 202);
    assert_eq!(send(&app, &pages.url("/like"), TARGET).await.status(), 202);
    let page = common::until_thread(&app, "indie", "/notes/1/", |p| {
        p["comments"].as_array().unwrap().is_empty() && p["thread"].get("elsewhere").is_none()
    })
    .await;
    assert_eq!(page["thread"]["comment_count"], 0);
}

async fn until_queue(
    admin: &common::admin::Admin<'_>,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..200 {
        let v = admin.get("/api/v1/admin/comments?status=pending").await;
        last = v["comments"].as_array().unwrap().clone();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the queue did not get there: {last:#?}");
}

async fn until_db(app: &TestApp, sql: &str, want: i64) {
    for _ in 0..200 {
        if app.db.number(sql) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{sql} never gave {want}: {}", app.db.number(sql));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webmention_source_on_a_private_address_is_refused_unless_allowed() {
    let pages = Pages(Stand::start());
    pages.set("/reply", 200, &reply_page("hi"));
    let app = spawn(Backend::Sqlite, "http://127.0.0.1:9", false)
        .await
        .unwrap();
    assert_eq!(send(&app, &pages.url("/reply"), TARGET).await.status(), 202);
    until_db(
        &app,
        "SELECT COUNT(*) AS n FROM webmentions WHERE status = 'rejected' \
         AND last_error LIKE '%allow_private_addresses%'",
        1,
    )
    .await;
    assert!(pages.0.seen.lock().unwrap().is_empty());
    assert_eq!(app.db.count("comments"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmentions_are_limited_per_source_domain() {
    let app = spawn(Backend::Sqlite, "http://127.0.0.1:9", false)
        .await
        .unwrap();
    for i in 0..20 {
        let r = send(&app, &format!("https://flood.invalid/{i}"), TARGET).await;
        assert_eq!(r.status(), 202);
    }
    let r = send(&app, "https://flood.invalid/21", TARGET).await;
    let e = expect_error(r, 429, "rate_limited").await;
    assert!(e["error"]["message"].is_string());
    // Another domain is not held up.
    let r = send(&app, "https://other.invalid/1", TARGET).await;
    assert_eq!(r.status(), 202);
}

async fn remote_bans_refuse_or_hold_by_account_and_domain(backend: Backend) {
    let m = Stand::start();
    let Some(app) = spawn(backend, "http://127.0.0.1:9", true).await else {
        return;
    };
    let admin = app.admin().await;
    let t = thread_of(&app, &admin, "open", "/banned/").await;
    let ban = |body: Value| {
        let admin = &admin;
        async move { admin.post_raw("/api/v1/admin/remote-bans", body).await }
    };
    let r = ban(json!({"kind": "domain", "value": "Bad.Example", "reason": "spam"})).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ban"]["value"], "bad.example");
    let r = ban(json!({"kind": "account", "value": "mastodon:eve@good.example", "action": "hold"}))
        .await;
    assert_eq!(r.status(), 201);
    let r = ban(json!({"kind": "domain", "value": "bad.example"})).await;
    expect_error(r, 409, "already_banned").await;
    let r = ban(json!({"kind": "account", "value": "eve"})).await;
    expect_error(r, 422, "invalid_account").await;
    let r = ban(json!({"kind": "domain", "value": "not a domain"})).await;
    expect_error(r, 422, "invalid_domain").await;
    let r = ban(json!({"kind": "instance", "value": "x.example"})).await;
    expect_error(r, 422, "invalid_kind").await;
    let r = ban(json!({"kind": "domain", "comment_id": 999999})).await;
    expect_error(r, 404, "comment_not_found").await;

    m.set(
        "/api/v1/statuses/100",
        200,
        &status("100", None, "me", "<p>Post</p>"),
    );
    m.set(
        "/api/v1/statuses/100/context",
        200,
        &json!({"ancestors": [], "descendants": [
            status("201", Some("100"), "spam@sub.bad.example", "<p>Buy now</p>"),
            status("202", Some("100"), "eve@good.example", "<p>Hmm</p>"),
            status("203", Some("100"), "ann@good.example", "<p>Hello</p>"),
        ]}),
    );
    link(&admin, t, &format!("{}/@me/100", m.base())).await;
    let listed = until_comments(&admin, t, |c| c.len() >= 3).await;
    assert_eq!(listed.len(), 3, "{listed:#?}");
    assert!(
        by_origin(&listed, "/201").is_none(),
        "a banned domain's reply was stored"
    );
    assert_eq!(by_origin(&listed, "/202").unwrap()["status"], "pending");
    let ann = by_origin(&listed, "/203").unwrap();
    assert_eq!(ann["status"], "approved");
    let native = listed.iter().find(|c| c["origin"].is_null()).unwrap();

    // From a comment: its account, or its instance.
    let r = ban(json!({"kind": "account", "comment_id": ann["id"]})).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ban"]["value"], "mastodon:ann@good.example");
    let r = ban(json!({"kind": "account", "comment_id": native["id"]})).await;
    expect_error(r, 422, "not_from_elsewhere").await;
    let list = admin.get("/api/v1/admin/remote-bans").await;
    assert_eq!(list["bans"].as_array().unwrap().len(), 3);
    let html = admin
        .request(reqwest::Method::GET, "/admin/bans")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<strong>domain</strong> <code>bad.example</code>"),
        "{html}"
    );
    assert!(
        html.contains("data-url=\"/api/v1/admin/remote-bans\""),
        "{html}"
    );
    let id = v["ban"]["id"].as_i64().unwrap();
    let r = admin
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/remote-bans/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = admin
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/remote-bans/{id}"),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "ban_not_found").await;
}

async fn the_blogs_own_accounts_link_the_posts_they_announce(backend: Backend) {
    let m = Stand::start();
    let appview = Stand::start();
    m.set(
        "/api/v1/accounts/lookup",
        200,
        &json!({"id": "7", "username": "me", "acct": "me", "display_name": "Me", "url": "https://home.example/@me"}),
    );
    let mut two = status("501", None, "me", "<p>Second post, see the card</p>");
    two["card"] = json!({"url": "https://auto.example/posts/two/", "title": "Two", "type": "link"});
    m.set(
        "/api/v1/accounts/7/statuses",
        200,
        &json!([
            status(
                "502",
                None,
                "me",
                "<p>Elsewhere: <a href=\"https://other.example/x/\">x</a></p>"
            ),
            two,
            status(
                "500",
                None,
                "me",
                "<p>New: <a href=\"https://auto.example/posts/one/\">one</a></p>"
            ),
        ]),
    );
    // The first announcement is then polled for its replies like any linked post.
    m.set(
        "/api/v1/statuses/500",
        200,
        &status("500", None, "me", "<p>New</p>"),
    );
    m.set(
        "/api/v1/statuses/500/context",
        200,
        &json!({"ancestors": [], "descendants": [
            status("510", Some("500"), "ann@remote.example", "<p>Congrats</p>"),
        ]}),
    );
    let mut three = fresh(post(
        "at://did:plc:me/app.bsky.feed.post/3kthree",
        "did:plc:me",
        "me.example.com",
        "Third post",
        json!([]),
    ));
    three["record"]["embed"] = json!({"$type": "app.bsky.embed.external",
        "external": {"uri": "https://auto.example/posts/three/", "title": "Three", "description": ""}});
    let reposted = post(
        "at://did:plc:x/app.bsky.feed.post/3kfour",
        "did:plc:x",
        "x.example.com",
        "https://auto.example/posts/four/",
        json!([{"index": {"byteStart": 0, "byteEnd": 32},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://auto.example/posts/four/"}]}]),
    );
    appview.set(
        "/xrpc/app.bsky.feed.getAuthorFeed",
        200,
        &json!({"feed": [
            {"post": three},
            {"post": reposted, "reason": {"$type": "app.bsky.feed.defs#reasonRepost"}},
        ]}),
    );
    let text = format!(
        "{}[[site]]\nid = \"auto\"\norigins = [\"https://auto.example\"]\n\
         fediverse_accounts = [\"{}/@me\", \"https://bsky.app/profile/me.example.com\"]\n",
        config(&appview.base(), true),
        m.base()
    );
    let Some(app) = common::spawn_with(backend, &text).await else {
        return;
    };
    let admin = app.admin().await;
    let mut threads = Vec::new();
    for _ in 0..200 {
        let v = admin.get("/api/v1/admin/threads?site=auto").await;
        threads = v["threads"].as_array().unwrap().clone();
        if threads.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let link_of = |slug: &str| {
        threads
            .iter()
            .find(|t| t["slug"] == slug)
            .map(|t| t["fediverse"]["url"].clone())
    };
    assert_eq!(threads.len(), 3, "{threads:#?}");
    assert_eq!(
        link_of("/posts/one/"),
        Some(json!("https://home.example/@x/500"))
    );
    assert_eq!(
        link_of("/posts/two/"),
        Some(json!("https://home.example/@x/501"))
    );
    assert_eq!(
        link_of("/posts/three/"),
        Some(json!(
            "https://bsky.app/profile/me.example.com/post/3kthree"
        ))
    );
    assert_eq!(link_of("/posts/four/"), None);
    let page = common::until_thread(&app, "auto", "/posts/one/", |p| {
        p["comments"].as_array().unwrap().len() == 1
    })
    .await;
    assert_eq!(
        page["comments"][0]["origin"]["handle"],
        "@ann@remote.example"
    );
    let audit = admin.get("/api/v1/admin/audit").await;
    assert!(audit.to_string().contains("fediverse_accounts"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_are_mailed_about_a_held_reply_from_elsewhere() {
    let smtp = crate::email::Smtp::up(crate::email::Mode::Accept);
    let m = Stand::start();
    let text = format!(
        "{}\n[outbound]\nallow_private_addresses = true\n[federation]\npoll_interval = \"1s\"\n",
        crate::email::config(Some(&smtp))
    );
    let app = common::spawn_with(Backend::Sqlite, &text).await.unwrap();
    let admin = app.admin().await;
    app.comment("held", "/mailed/", json!({"body": "from here"}))
        .await;
    let before = smtp.wait_for(1).await.len();
    let v = admin.get("/api/v1/admin/threads?site=held").await;
    let t = v["threads"][0]["id"].as_i64().unwrap();
    m.set(
        "/api/v1/statuses/100",
        200,
        &status("100", None, "me", "<p>Post</p>"),
    );
    m.set(
        "/api/v1/statuses/100/context",
        200,
        &json!({"ancestors": [], "descendants": [
            status("101", Some("100"), "ann@remote.example", "<p>A remote thought</p>"),
        ]}),
    );
    link(&admin, t, &format!("{}/@me/100", m.base())).await;
    let got = smtp.wait_for(before + 1).await;
    let mail = &got[before];
    assert_eq!(mail.to, vec!["mod@example.com"]);
    let text = crate::email::part(&mail.data, "text/plain");
    assert!(text.contains("A remote thought"), "{text}");
    assert!(text.contains("ann (display)"), "{text}");
}

/// A Mastodon account as the API shows it.
fn account(acct: &str) -> Value {
    let username = acct.split('@').next().unwrap();
    json!({
        "id": format!("9{}", acct.len()),
        "username": username,
        "acct": acct,
        "display_name": format!("{} (display)", username),
        "url": format!("https://{}/@{username}", acct.split('@').nth(1).unwrap_or("home.example")),
        "avatar": "https://files.example/avatar.png",
    })
}

/// A public status as `GET /api/v1/statuses/:id` shows it.
fn status(id: &str, in_reply_to: Option<&str>, acct: &str, html: &str) -> Value {
    // An announcement is fresh (polls thin out as it ages); replies keep a fixed date.
    let created = if in_reply_to.is_none() {
        now_rfc3339()
    } else {
        "2026-12-01T10:00:00.000Z".to_owned()
    };
    json!({
        "id": id,
        "uri": format!("https://home.example/users/x/statuses/{id}"),
        "url": format!("https://home.example/@x/{id}"),
        "created_at": created,
        "edited_at": null,
        "in_reply_to_id": in_reply_to,
        "in_reply_to_account_id": null,
        "visibility": "public",
        "sensitive": false,
        "spoiler_text": "",
        "content": html,
        "account": account(acct),
        "favourites_count": 3,
        "reblogs_count": 2,
        "replies_count": 0,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
    })
}

async fn thread_of(app: &TestApp, admin: &common::admin::Admin<'_>, site: &str, slug: &str) -> i64 {
    // A thread exists once it has a comment.
    app.comment(site, slug, json!({"body": "first, from here"}))
        .await;
    let v = admin
        .get(&format!("/api/v1/admin/threads?site={site}"))
        .await;
    v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == slug)
        .expect("thread listed")["id"]
        .as_i64()
        .unwrap()
}

async fn link(admin: &common::admin::Admin<'_>, thread: i64, url: &str) -> Value {
    let r = admin
        .patch(
            &format!("/api/v1/admin/threads/{thread}"),
            json!({ "fediverse_url": url }),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

/// Waits (up to 20 s) until the thread's link in the admin list satisfies `done`.
async fn until_linked(
    admin: &common::admin::Admin<'_>,
    site: &str,
    thread: i64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let v = admin
            .get(&format!("/api/v1/admin/threads?site={site}"))
            .await;
        last = v["threads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == thread)
            .unwrap()["fediverse"]
            .clone();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the link did not get there: {last}");
}

/// Waits (up to 20 s) until the moderators' list of the thread's comments satisfies `done`.
async fn until_comments(
    admin: &common::admin::Admin<'_>,
    thread: i64,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..200 {
        let v = admin
            .get(&format!("/api/v1/admin/comments?thread={thread}"))
            .await;
        last = v["comments"].as_array().unwrap().clone();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the comments did not get there: {last:#?}");
}

fn by_origin<'a>(comments: &'a [Value], url_end: &str) -> Option<&'a Value> {
    comments.iter().find(|c| {
        c["origin"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(url_end))
    })
}

async fn mastodon_replies_arrive_moderated_and_follow_edits_and_deletes(backend: Backend) {
    let m = Stand::start();
    let Some(app) = spawn(backend, "http://127.0.0.1:9", true).await else {
        return;
    };
    let admin = app.admin().await;
    let t = thread_of(&app, &admin, "firsttime", "/announced/").await;

    // Bad links are refused with the field named; an unknown thread is a 404.
    for bad in [
        "https://mastodon.example/about",
        "ftp://x.example/@a/1",
        "nonsense",
    ] {
        let r = admin
            .patch(
                &format!("/api/v1/admin/threads/{t}"),
                json!({ "fediverse_url": bad }),
            )
            .await;
        let e = expect_error(r, 422, "invalid_fediverse_url").await;
        assert_eq!(e["error"]["field"], "fediverse_url");
    }
    let r = admin
        .patch(
            "/api/v1/admin/threads/999999",
            json!({ "fediverse_url": format!("{}/@me/100", m.base()) }),
        )
        .await;
    expect_error(r, 404, "thread_not_found").await;

    m.set(
        "/api/v1/statuses/100",
        200,
        &status("100", None, "me", "<p>New post!</p>"),
    );
    m.set(
        "/api/v1/statuses/101",
        200,
        &status(
            "101",
            Some("100"),
            "ann@remote.example",
            "<p>Great <b>post</b></p>",
        ),
    );
    m.set(
        "/api/v1/statuses/102",
        200,
        &status(
            "102",
            Some("101"),
            "bob",
            "<p>Agreed <script>alert(1)</script></p>",
        ),
    );
    m.set(
        "/api/v1/statuses/100/context",
        200,
        &json!({"ancestors": [], "descendants": [
            status("101", Some("100"), "ann@remote.example", "<p>Great <b>post</b></p>"),
            status("102", Some("101"), "bob", "<p>Agreed <script>alert(1)</script></p>"),
        ]}),
    );
    let v = link(&admin, t, &format!("{}/@me/100", m.base())).await;
    assert_eq!(v["thread"]["fediverse"]["kind"], "mastodon");
    // Title and address were not sent: they stay as they were.
    assert_eq!(v["thread"]["slug"], "/announced/");

    // First poll at once; first-time moderation holds both new accounts' replies.
    let listed = until_comments(&admin, t, |c| c.len() == 3).await;
    let ann = by_origin(&listed, "/101").expect("ann's reply").clone();
    let bob = by_origin(&listed, "/102").expect("bob's reply").clone();
    assert_eq!(ann["status"], "pending");
    assert_eq!(bob["status"], "pending");
    assert_eq!(ann["author"], "ann (display)");
    assert_eq!(ann["origin"]["kind"], "mastodon");
    assert_eq!(ann["origin"]["label"], "remote.example");
    assert_eq!(ann["origin"]["handle"], "@ann@remote.example");
    assert_eq!(ann["origin"]["author_url"], "https://remote.example/@ann");
    assert_eq!(ann["origin"]["reply_url"], "https://home.example/@x/101");
    assert_eq!(ann["html"], "<p>Great <strong>post</strong></p>\n");
    assert!(!bob["html"].as_str().unwrap().contains("script"), "{bob}");
    assert_eq!(bob["parent_id"], ann["id"]);
    assert_eq!(bob["origin"]["handle"], "@bob@127.0.0.1");
    assert_eq!(ann["created_at"], "2026-12-01T10:00:00Z");
    // The admin page's queue says where they come from.
    let html = admin
        .request(reqwest::Method::GET, &format!("/admin/comments?thread={t}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("from Mastodon</span> @ann@remote.example"),
        "{html}"
    );
    // The Threads tab shows the link, its counts, and the field to change it.
    let html = admin
        .request(reqwest::Method::GET, "/admin/threads?site=firsttime")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let announced = format!("{}/@me/100", m.base());
    assert!(
        html.contains(&format!(
            "announced on <a href=\"{announced}\">Mastodon</a> (3 likes, 2 reposts"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("name=\"fediverse_url\" type=\"url\" placeholder=\"https://mastodon.social/@you/123…\" value=\"{announced}\"")),
        "{html}"
    );
    let page = app.thread("firsttime", "/announced/", "").await;
    assert_eq!(page["comments"].as_array().unwrap().len(), 0);
    assert_eq!(page["thread"]["elsewhere"]["announcement"]["likes"], 3);
    assert_eq!(page["thread"]["elsewhere"]["announcement"]["reposts"], 2);
    assert_eq!(
        page["thread"]["elsewhere"]["announcement"]["url"],
        format!("{}/@me/100", m.base())
    );

    // Approved, the reply shows with its origin; no remote avatar is handed to readers.
    admin.act(ann["id"].as_i64().unwrap(), "approve").await;
    let page = app.thread("firsttime", "/announced/", "").await;
    let shown = &page["comments"][0];
    assert_eq!(shown["id"], ann["id"]);
    assert_eq!(shown["origin"]["label"], "remote.example");
    assert!(!page.to_string().contains("files.example"), "{page}");

    // Ann edits hers and writes again (known now: published at once); Bob deletes his.
    let mut edited = status(
        "101",
        Some("100"),
        "ann@remote.example",
        "<p>Great post, edited</p>",
    );
    edited["edited_at"] = json!("2026-12-02T08:00:00Z");
    m.set("/api/v1/statuses/101", 200, &edited);
    m.remove("/api/v1/statuses/102");
    m.set(
        "/api/v1/statuses/100/context",
        200,
        &json!({"ancestors": [], "descendants": [
            edited,
            status("103", Some("100"), "ann@remote.example", "<p>One more thing</p>"),
        ]}),
    );
    let page = common::until_thread(&app, "firsttime", "/announced/", |p| {
        p["comments"].as_array().unwrap().len() == 2
            && p["comments"][0]["html"] == "<p>Great post, edited</p>\n"
    })
    .await;
    assert_eq!(page["comments"][0]["edited_at"], "2026-12-02T08:00:00Z");
    assert_eq!(page["comments"][1]["html"], "<p>One more thing</p>\n");
    assert_eq!(page["thread"]["comment_count"], 2);
    let listed = until_comments(&admin, t, |c| {
        by_origin(c, "/102").is_none()
            && c.iter()
                .any(|x| x["id"] == bob["id"] && x["status"] == "deleted")
    })
    .await;
    assert_eq!(listed.len(), 4);

    // Deleted for good by a moderator: it does not come back at the next polls.
    let more = by_origin(&listed, "/103").unwrap()["id"].as_i64().unwrap();
    admin.act(more, "purge").await;
    let before = until_linked(&admin, "firsttime", t, |_| true).await["polled_at"].clone();
    until_linked(&admin, "firsttime", t, |f| f["polled_at"] != before).await;
    let now = until_linked(&admin, "firsttime", t, |_| true).await["polled_at"].clone();
    until_linked(&admin, "firsttime", t, |f| f["polled_at"] != now).await;
    let page = app.thread("firsttime", "/announced/", "").await;
    assert_eq!(page["comments"].as_array().unwrap().len(), 1, "{page}");

    // Unlinked: no more polls, the replies stay.
    let r = admin
        .patch(
            &format!("/api/v1/admin/threads/{t}"),
            json!({ "fediverse_url": null }),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert!(v["thread"]["fediverse"].is_null(), "{v}");
    let page = app.thread("firsttime", "/announced/", "").await;
    assert!(page["thread"].get("elsewhere").is_none(), "{page}");
    assert_eq!(page["comments"].as_array().unwrap().len(), 1);
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A post as the AppView's `#postView` shows it.
fn post(uri: &str, did: &str, handle: &str, text: &str, facets: Value) -> Value {
    json!({
        "uri": uri,
        "cid": "bafyreib2rxk3rh6kzwq",
        "author": {"did": did, "handle": handle, "displayName": format!("{handle} (display)"),
                   "avatar": "https://cdn.bsky.example/avatar.jpg"},
        "record": {"$type": "app.bsky.feed.post", "text": text, "facets": facets,
                   "createdAt": "2026-12-01T11:00:00.000Z", "langs": ["en"]},
        "replyCount": 0, "repostCount": 4, "likeCount": 7, "quoteCount": 0,
        "indexedAt": "2026-12-01T11:00:01.000Z", "labels": []
    })
}

/// Posted just now.
fn fresh(mut post: Value) -> Value {
    post["record"]["createdAt"] = json!(now_rfc3339());
    post
}

fn node(post: Value, replies: Vec<Value>) -> Value {
    json!({"$type": "app.bsky.feed.defs#threadViewPost", "post": post, "replies": replies})
}

async fn bluesky_replies_arrive_nested_with_their_links(backend: Backend) {
    let appview = Stand::start();
    let Some(app) = spawn(backend, &appview.base(), true).await else {
        return;
    };
    let admin = app.admin().await;
    let t = thread_of(&app, &admin, "open", "/sky/").await;
    let root = "at://did:plc:me/app.bsky.feed.post/3kroot";
    let r1 = "at://did:plc:ann/app.bsky.feed.post/3kann";
    let r2 = "at://did:plc:bob/app.bsky.feed.post/3kbob";
    appview.set(
        "/xrpc/com.atproto.identity.resolveHandle",
        200,
        &json!({"did": "did:plc:me"}),
    );
    let text = "Read example.org now";
    let reply1 = post(
        r1,
        "did:plc:ann",
        "ann.example.com",
        text,
        json!([{"index": {"byteStart": 5, "byteEnd": 16},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/"}]}]),
    );
    let reply2 = post(
        r2,
        "did:plc:bob",
        "bob.bsky.social",
        "Thanks!\nSure.",
        json!([]),
    );
    appview.set(
        "/xrpc/app.bsky.feed.getPostThread",
        200,
        &json!({"thread": node(
            fresh(post(root, "did:plc:me", "me.example.com", "New post", json!([]))),
            vec![
                node(reply1.clone(), vec![node(reply2.clone(), vec![])]),
                json!({"$type": "app.bsky.feed.defs#notFoundPost", "uri": "at://did:plc:x/app.bsky.feed.post/gone", "notFound": true}),
            ],
        )}),
    );
    link(
        &admin,
        t,
        "https://bsky.app/profile/me.example.com/post/3kroot",
    )
    .await;
    let page = common::until_thread(&app, "open", "/sky/", |p| {
        p["comments"].as_array().unwrap().len() == 3
    })
    .await;
    let c = page["comments"].as_array().unwrap();
    let ann = c
        .iter()
        .find(|x| x["origin"]["handle"] == "@ann.example.com")
        .unwrap();
    let bob = c
        .iter()
        .find(|x| x["origin"]["handle"] == "@bob.bsky.social")
        .unwrap();
    assert_eq!(bob["parent_id"], ann["id"]);
    assert_eq!(ann["author"], "ann.example.com (display)");
    assert_eq!(ann["origin"]["kind"], "bluesky");
    assert_eq!(ann["origin"]["label"], "Bluesky");
    assert_eq!(
        ann["origin"]["url"],
        "https://bsky.app/profile/ann.example.com/post/3kann"
    );
    assert_eq!(ann["origin"]["reply_url"], ann["origin"]["url"]);
    assert_eq!(
        ann["origin"]["author_url"],
        "https://bsky.app/profile/did:plc:ann"
    );
    let html = ann["html"].as_str().unwrap();
    assert!(
        html.contains("<a href=\"https://example.org/\" rel=\"nofollow ugc noopener noreferrer\">example.org</a>"),
        "{html}"
    );
    assert_eq!(bob["html"], "<p>Thanks!<br>\nSure.</p>\n");
    assert_eq!(page["thread"]["elsewhere"]["announcement"]["likes"], 7);
    assert_eq!(page["thread"]["elsewhere"]["announcement"]["reposts"], 4);
    assert!(!page.to_string().contains("cdn.bsky.example"));
    // Asked by DID once the handle was resolved.
    let seen = appview.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|s| s.contains("getPostThread") && s.contains("did%3Aplc%3Ame")),
        "{seen:?}"
    );

    // Bob deletes his reply: gone from the thread view and from getPosts.
    appview.set(
        "/xrpc/app.bsky.feed.getPostThread",
        200,
        &json!({"thread": node(
            fresh(post(root, "did:plc:me", "me.example.com", "New post", json!([]))),
            vec![node(reply1.clone(), vec![])],
        )}),
    );
    appview.set("/xrpc/app.bsky.feed.getPosts", 200, &json!({"posts": []}));
    let page = common::until_thread(&app, "open", "/sky/", |p| {
        p["comments"].as_array().unwrap().len() == 2
    })
    .await;
    assert!(!page.to_string().contains("bob.bsky.social"), "{page}");
}

async fn a_dead_instance_is_retried_with_backoff_and_posting_goes_on(backend: Backend) {
    // A port nobody listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let Some(app) = spawn(backend, "http://127.0.0.1:9", true).await else {
        return;
    };
    let admin = app.admin().await;
    let t = thread_of(&app, &admin, "open", "/dead/").await;
    link(&admin, t, &format!("http://127.0.0.1:{dead}/@me/1")).await;
    let first = until_linked(&admin, "open", t, |f| f["failures"] == 1).await;
    assert!(first["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(first["polled_at"].is_null(), "{first}");
    let second = until_linked(&admin, "open", t, |f| f["failures"] == 2).await;
    // Each failure waits longer: 2 s, then 4 s (give or take a tenth).
    let at = |v: &Value| {
        time::OffsetDateTime::parse(
            v["next_poll_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert!(
        at(&second) - at(&first) >= time::Duration::milliseconds(3000),
        "{first} {second}"
    );
    // Meanwhile comments are taken as ever.
    let r = app
        .post_comment("open", "/dead/", json!({"body": "still here"}))
        .await;
    assert_eq!(r.status(), 201);
}

/// `down.sql` of the federation migration leaves the schema exactly as it found it.
#[test]
fn federation_migration_down_is_exact_sqlite() {
    crate::email::sqlite_downs_are_exact(&["000017"]);
}

#[test]
fn federation_migration_down_is_exact_postgres() {
    crate::email::postgres_downs_are_exact(&["000017"]);
}
