//! What the embed needs from the server: the scripts, compressed answers, the site's
//! settings in every thread read, the author's own pending comments, and the demo page.

use crate::common;

use std::io::Read;

use common::{enc, expect_error, Backend, TestApp};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

on_both_backends!(
    thread_pages_and_counts_are_compressed_once_and_revalidated,
    thread_reads_carry_the_sites_settings,
    authors_see_their_own_pending_comments,
    own_comments_requests_are_checked,
);

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(b, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

/// Something with headers: a response, or the headers kept from one.
trait Headers {
    fn header_map(&self) -> &HeaderMap;
}

impl Headers for reqwest::Response {
    fn header_map(&self) -> &HeaderMap {
        self.headers()
    }
}

impl Headers for HeaderMap {
    fn header_map(&self) -> &HeaderMap {
        self
    }
}

fn header(r: &impl Headers, name: &str) -> Option<String> {
    r.header_map()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_owned())
}

/// GETs `path` with an `Accept-Encoding`, returning the response and its decoded body.
async fn fetch(app: &TestApp, path: &str, accept: &str) -> (HeaderMap, Vec<u8>, Vec<u8>) {
    let r = app
        .client
        .get(app.url(path))
        .header("Accept-Encoding", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let enc = header(&r, "content-encoding");
    let head = r.headers().clone();
    let raw = r.bytes().await.unwrap().to_vec();
    let decoded = match enc.as_deref() {
        Some("gzip") => gunzip(&raw),
        Some("br") => unbrotli(&raw),
        None => raw.clone(),
        Some(other) => panic!("unexpected encoding {other}"),
    };
    (head, raw, decoded)
}

/// Whether `path` comes to be answered from memory within a second. On PostgreSQL the
/// instance hears its own writes' notifications a few milliseconds late, which may drop
/// the page once more after the first read.
async fn kept_in_memory(app: &TestApp, path: &str) -> bool {
    for _ in 0..50 {
        let r = app.get(path).await;
        if header(&r, "x-afterword-cache").as_deref() == Some("hit") {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

async fn thread_pages_and_counts_are_compressed_once_and_revalidated(app: TestApp) {
    for i in 0..30 {
        app.comment(
            "open",
            "/zip/",
            json!({"body": format!("Comment number {i}, long enough to compress well."), "author": "Ada"}),
        )
        .await;
    }
    let path = format!("/api/v1/comments?site=open&slug={}", enc("/zip/"));
    let (plain, plain_raw, _) = fetch(&app, &path, "identity").await;
    assert_eq!(header(&plain, "content-encoding"), None);
    assert_eq!(header(&plain, "x-afterword-cache").as_deref(), Some("miss"));
    let vary = header(&plain, "vary").unwrap_or_default().to_lowercase();
    assert!(vary.contains("accept-encoding"), "{vary}");

    // Served from memory from now on.
    assert!(kept_in_memory(&app, &path).await, "the page is cached");

    let (gz, gz_raw, gz_body) = fetch(&app, &path, "gzip").await;
    assert_eq!(header(&gz, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(gz_body, plain_raw, "gzip decodes to the same JSON");
    assert!(gz_raw.len() * 3 < plain_raw.len());

    let (br, br_raw, br_body) = fetch(&app, &path, "gzip, deflate, br").await;
    assert_eq!(header(&br, "content-encoding").as_deref(), Some("br"));
    assert_eq!(br_body, plain_raw);
    assert!(br_raw.len() <= gz_raw.len());

    // Each representation has its own tag, and any of them revalidates.
    let tags: Vec<String> = [&plain, &gz, &br]
        .iter()
        .map(|r| header(*r, "etag").expect("etag"))
        .collect();
    assert_eq!(
        tags.iter().collect::<std::collections::BTreeSet<_>>().len(),
        3,
        "{tags:?}"
    );
    for tag in &tags {
        let r = app
            .client
            .get(app.url(&path))
            .header("Accept-Encoding", "br")
            .header("If-None-Match", tag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{tag}");
    }

    // The same cached page, compressed once: the second brotli answer is byte-identical.
    let (_, br_again, _) = fetch(&app, &path, "br").await;
    assert_eq!(br_again, br_raw);

    // A change makes a new page, and the old tags no longer match.
    app.comment("open", "/zip/", json!({"body": "one more"}))
        .await;
    let r = app
        .client
        .get(app.url(&path))
        .header("Accept-Encoding", "br")
        .header("If-None-Match", &tags[2])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_slice(&unbrotli(&r.bytes().await.unwrap())).unwrap();
    assert_eq!(v["thread"]["comment_count"], 31);

    // Counts: large answers are compressed too, GET and POST alike.
    let slugs: Vec<String> = (0..200).map(|i| format!("/post-{i}/")).collect();
    let q: String = slugs.iter().map(|s| format!("&slug={}", enc(s))).collect();
    let (c, _, body) = fetch(&app, &format!("/api/v1/counts?site=open{q}"), "gzip").await;
    assert_eq!(header(&c, "content-encoding").as_deref(), Some("gzip"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["counts"].as_object().unwrap().len(), 200);
    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .header("Accept-Encoding", "br")
        .json(&json!({"site": "open", "slugs": slugs}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("br"));
    let v: Value = serde_json::from_slice(&unbrotli(&r.bytes().await.unwrap())).unwrap();
    assert_eq!(v["counts"]["/post-7/"], 0);
    // A small answer is not worth compressing.
    let r = app
        .client
        .get(app.url("/api/v1/counts?site=open&slug=%2Fzip%2F"))
        .header("Accept-Encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "content-encoding"), None);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["counts"]["/zip/"], 31);
}

async fn thread_reads_carry_the_sites_settings(app: TestApp) {
    let v = app.thread("short", "/nothing-yet/", "").await;
    assert_eq!(
        v["site"],
        json!({"moderation": "none", "edit_window": 1, "max_length": 20,
               "reactions": ["👍", "❤️", "😂", "🎉", "😮", "😢"], "notifications": false})
    );
    app.comment("moderated", "/m/", json!({"body": "hi"})).await;
    let v = app.thread("moderated", "/m/", "").await;
    assert_eq!(v["site"]["moderation"], "all");
    assert_eq!(v["site"]["edit_window"], 900);
    assert_eq!(v["site"]["max_length"], 10000);
}

async fn post_mine(app: &TestApp, site: &str, slug: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!(
            "/api/v1/comments/mine?site={site}&slug={}",
            enc(slug)
        )))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn authors_see_their_own_pending_comments(app: TestApp) {
    let (a, ta) = app
        .comment(
            "moderated",
            "/p/",
            json!({"body": "first", "author": "Ann"}),
        )
        .await;
    let (b, tb) = app
        .comment("moderated", "/p/", json!({"body": "second"}))
        .await;
    let (other, to) = app
        .comment("moderated", "/elsewhere/", json!({"body": "other thread"}))
        .await;
    assert_eq!(a["status"], "pending");
    // The public thread shows none of them.
    let page = app.thread("moderated", "/p/", "").await;
    assert_eq!(common::ids(&page), Vec::<i64>::new());

    let (ia, ib, io) = (
        a["id"].as_i64().unwrap(),
        b["id"].as_i64().unwrap(),
        other["id"].as_i64().unwrap(),
    );
    let ask = json!({"comments": [
        {"id": ib, "edit_token": tb},
        {"id": ia, "edit_token": ta},
        {"id": io, "edit_token": to},           // another thread
        {"id": ia, "edit_token": tb},           // a token of another comment
        {"id": 999999, "edit_token": ta},       // no such comment
    ]});
    let r = post_mine(&app, "moderated", "/p/", ask.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    let v: Value = r.json().await.unwrap();
    let got = &v["comments"];
    assert_eq!(got.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(got[0]["id"], ia);
    assert_eq!(got[0]["status"], "pending");
    assert_eq!(got[0]["author"], "Ann");
    assert!(got[0]["html"].as_str().unwrap().contains("first"));
    assert_eq!(got[1]["id"], ib);
    for c in got.as_array().unwrap() {
        for private in ["email", "ip", "edit_token", "user_agent"] {
            assert!(c.get(private).is_none(), "{private} in {c}");
        }
    }

    // A moderator approves one and refuses the other (by SQL until the admin API exists).
    app.db.exec(&format!(
        "UPDATE comments SET status = 'approved' WHERE id = {ia}"
    ));
    app.db.exec(&format!(
        "UPDATE comments SET status = 'spam' WHERE id = {ib}"
    ));
    let v: Value = post_mine(&app, "moderated", "/p/", ask)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["comments"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["comments"][0]["id"], ia);
    assert_eq!(v["comments"][0]["status"], "approved");

    // An unknown thread and an empty list are fine, and answer nothing.
    let v: Value = post_mine(
        &app,
        "moderated",
        "/never/",
        json!({"comments": [{"id": ia, "edit_token": ta}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v, json!({"comments": []}));
    let v: Value = post_mine(&app, "moderated", "/p/", json!({"comments": []}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"comments": []}));
}

async fn own_comments_requests_are_checked(app: TestApp) {
    let many: Vec<Value> = (1..=101)
        .map(|i| json!({"id": i, "edit_token": "x"}))
        .collect();
    let r = post_mine(&app, "open", "/a/", json!({"comments": many})).await;
    let v = expect_error(r, 422, "too_many_comments").await;
    assert_eq!(v["error"]["field"], "comments");
    let r = post_mine(
        &app,
        "open",
        "/a/",
        json!({"comments": [{"id": 0, "edit_token": "x"}]}),
    )
    .await;
    expect_error(r, 422, "invalid_id").await;
    let r = post_mine(
        &app,
        "open",
        "/a/",
        json!({"comments": [{"id": 1, "edit_token": ""}]}),
    )
    .await;
    expect_error(r, 422, "invalid_token").await;
    let r = post_mine(&app, "open", "/a/", json!({"comments": [{"id": 1}]})).await;
    expect_error(r, 422, "invalid_field").await;
    let r = app
        .client
        .post(app.url("/api/v1/comments/mine?site=open&slug=%2Fa%2F"))
        .header("Content-Type", "application/json")
        .body("{\"comments\": [")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "malformed_json").await;
    let r = post_mine(&app, "nosuchsite", "/a/", json!({"comments": []})).await;
    expect_error(r, 404, "unknown_site").await;
    let r = app
        .client
        .post(app.url("/api/v1/comments/mine?site=blog&slug=%2Fa%2F"))
        .header("Origin", "https://evil.example")
        .json(&json!({"comments": []}))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "origin_not_allowed").await;
    let r = app
        .get("/api/v1/comments/mine?site=open&slug=%2Fa%2F")
        .await;
    expect_error(r, 405, "method_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_served_compressed_with_a_content_etag() {
    let app = common::spawn(Backend::Sqlite).await.unwrap();
    for path in ["/embed.js", "/count.js"] {
        let (plain, raw, _) = fetch(&app, path, "identity").await;
        assert_eq!(
            header(&plain, "content-type").as_deref(),
            Some("text/javascript; charset=utf-8")
        );
        let cc = header(&plain, "cache-control").unwrap();
        assert!(cc.contains("public") && cc.contains("max-age="), "{cc}");
        let etag = header(&plain, "etag").unwrap();
        assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
        assert!(!raw.is_empty());
        let (gz, _, gz_body) = fetch(&app, path, "gzip").await;
        let (br, _, br_body) = fetch(&app, path, "br, gzip").await;
        if raw.len() >= 512 {
            assert_eq!(header(&gz, "content-encoding").as_deref(), Some("gzip"));
            assert_eq!(header(&br, "content-encoding").as_deref(), Some("br"));
        }
        assert_eq!(gz_body, raw);
        assert_eq!(br_body, raw);
        let r = app
            .client
            .get(app.url(path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304);
        assert_eq!(header(&r, "etag"), Some(etag));
        let r = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // The built scripts are what the repository holds.
    let (_, raw, _) = fetch(&app, "/embed.js", "identity").await;
    assert_eq!(
        raw,
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/embed/dist/embed.js")).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_only_with_the_default_site_or_when_asked() {
    // No [[site]]: the built-in default, demo on.
    let app = common::spawn_with(Backend::Sqlite, "").await.unwrap();
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = header(&r, "content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<div id="afterword"></div>"#));
    assert!(html.contains(r#"<script src="/embed.js" data-site="default""#));
    assert!(
        html.contains(&format!("{}/embed.js", app.base)),
        "the snippet names this server"
    );

    // A config with sites: no demo, unless asked for.
    let app = common::spawn(Backend::Sqlite).await.unwrap();
    expect_error(app.get("/").await, 404, "not_found").await;
    let app = common::spawn_with(
        Backend::Sqlite,
        "demo = true\n[[site]]\nid = \"blog\"\norigins = [\"*\"]\n",
    )
    .await
    .unwrap();
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains(r#"data-site="blog""#));
    let app = common::spawn_with(Backend::Sqlite, "demo = false")
        .await
        .unwrap();
    expect_error(app.get("/").await, 404, "not_found").await;
}

/// While one request rebuilds a changed page, the others get the page from before the
/// change at once (`X-Afterword-Cache: rebuilding`) instead of queueing behind the rebuild,
/// for at most the grace of 250 ms; after it they wait for the rebuild. The rebuild is held
/// up by a lock on the comments table, taken from another connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_of_a_page_being_rebuilt_get_the_one_before_briefly_postgres() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    use std::time::Duration;

    let Some(app) = common::spawn(Backend::Postgres).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let app = std::sync::Arc::new(app);
    let path = format!("/api/v1/comments?site=open&slug={}", enc("/rb/"));
    let read = |app: &std::sync::Arc<TestApp>| {
        let (app, path) = (app.clone(), path.clone());
        async move {
            let r = app.get(&path).await;
            let cache = header(&r, "x-afterword-cache").unwrap_or_default();
            let page: Value = r.json().await.unwrap();
            (page["thread"]["comment_count"].as_i64().unwrap(), cache)
        }
    };
    app.comment("open", "/rb/", json!({"body": "one"})).await;
    assert!(kept_in_memory(&app, &path).await, "the page is kept");
    assert_eq!(read(&app).await.0, 1);
    app.comment("open", "/rb/", json!({"body": "two"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut lock = diesel::PgConnection::establish(app.db.url()).unwrap();
    lock.batch_execute("BEGIN; LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let builder = tokio::spawn(read(&app));
    // The rebuild has begun once its query waits for the lock.
    let waiting_here = "SELECT COUNT(*) AS n FROM pg_locks WHERE NOT granted AND database = \
         (SELECT oid FROM pg_database WHERE datname = current_database())";
    let mut waiting = false;
    for _ in 0..500 {
        if app.db.number(waiting_here) > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        waiting && !builder.is_finished(),
        "the rebuild waits for the lock"
    );
    // Within the grace: the page from before the change, at once.
    let (count, cache) = read(&app).await;
    assert_eq!((count, cache.as_str()), (1, "rebuilding"));
    // After it: readers wait for the rebuild.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiter = tokio::spawn(read(&app));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!waiter.is_finished(), "past the grace, readers wait");
    lock.batch_execute("COMMIT").unwrap();
    let (count, cache) = builder.await.unwrap();
    assert_eq!((count, cache.as_str()), (2, "miss"));
    let (count, _) = waiter.await.unwrap();
    assert_eq!(count, 2);
    assert_eq!(read(&app).await.0, 2);
}
