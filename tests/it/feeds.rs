//! Atom feeds: read by a real feed parser (feed-rs), validated against RFC 4287's RELAX NG
//! grammar with xmllint, cached with ETag/Last-Modified, held comments only for moderators.

use std::path::Path;
use std::process::Command;

use crate::common;
use common::{enc, expect_error, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    feeds_are_valid_atom_with_the_approved_comments_newest_first,
    a_thread_feed_holds_that_thread_only,
    feeds_answer_304_until_a_comment_changes_them,
    held_comments_are_only_in_the_moderators_feed,
    a_comment_approved_later_is_new_in_the_public_feed,
    bad_feed_requests_are_refused_clearly,
);

/// Validates `xml` against the Atom grammar (tests/fixtures/atom/atom.rng) with xmllint.
/// Without xmllint the check is skipped and says so, unless CI requires it.
fn assert_valid_atom(xml: &str) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/atom/atom.rng");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.xml");
    std::fs::write(&file, xml).unwrap();
    let out = match Command::new("xmllint")
        .arg("--noout")
        .arg("--relaxng")
        .arg(&schema)
        .arg(&file)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            if std::env::var("AFTERWORD_TEST_REQUIRE_XMLLINT").is_ok_and(|v| v == "1") {
                panic!("xmllint is needed (apt-get install libxml2-utils): {e}");
            }
            eprintln!("skipped: Atom schema check needs xmllint (libxml2-utils): {e}");
            return;
        }
    };
    assert!(
        out.status.success(),
        "not valid Atom: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn feed(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, String) {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    let headers = r.headers().clone();
    assert_eq!(
        headers["content-type"], "application/atom+xml; charset=utf-8",
        "{path}"
    );
    (headers, r.text().await.unwrap())
}

/// Entries come from the event stream: the dispatcher takes a comment's events every
/// `[events] interval` (200 ms here), so a feed holds a new comment a moment after it was
/// posted. The feed at `path` once `ready` says it holds what the test waits for (within
/// ten seconds); `ready` is asked of the parsed feed.
async fn feed_once(
    app: &TestApp,
    path: &str,
    ready: impl Fn(&feed_rs::model::Feed) -> bool,
) -> (reqwest::header::HeaderMap, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (headers, xml) = feed(app, path).await;
        let f = feed_rs::parser::parse(xml.as_bytes()).expect("feed-rs reads the feed");
        if ready(&f) {
            return (headers, xml);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the feed did not change as expected within 10 s:\n{xml}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `feed_once` until the feed holds `n` entries.
async fn feed_of(app: &TestApp, path: &str, n: usize) -> (reqwest::header::HeaderMap, String) {
    feed_once(app, path, |f| f.entries.len() == n).await
}

/// The feed at `path`, asked for with one request header.
async fn conditional_at(app: &TestApp, path: &str, name: &str, value: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(name, value)
        .send()
        .await
        .unwrap()
}

/// The site feed of `open`, asked for with one request header.
async fn conditional(app: &TestApp, name: &str, value: &str) -> reqwest::Response {
    conditional_at(app, "/feeds/open.atom", name, value).await
}

/// An entry's content (its HTML).
fn body(e: &feed_rs::model::Entry) -> &str {
    e.content.as_ref().unwrap().body.as_deref().unwrap()
}

fn parse(xml: &str) -> feed_rs::model::Feed {
    assert_valid_atom(xml);
    feed_rs::parser::parse(xml.as_bytes()).expect("feed-rs reads the feed")
}

async fn feeds_are_valid_atom_with_the_approved_comments_newest_first(app: TestApp) {
    let (first, _) = app
        .comment(
            "open",
            "/post/",
            json!({
                "body": "First, with **bold** & <script>alert(1)</script>",
                "author": "Ada",
                "email": "ada@example.com",
                "website": "https://ada.example",
                "title": "A post & its “quotes”",
                "url": "https://blog.example/post/",
            }),
        )
        .await;
    let (reply, _) = app
        .comment(
            "open",
            "/post/",
            json!({"body": "A reply", "parent_id": first["id"]}),
        )
        .await;
    let (other, _) = app
        .comment(
            "open",
            "/other/",
            json!({"body": "Elsewhere", "author": "Bob"}),
        )
        .await;
    // Another site's comment never shows.
    app.comment("short", "/post/", json!({"body": "not here"}))
        .await;

    let (_, xml) = feed_of(&app, "/feeds/open.atom", 3).await;
    assert!(!xml.contains("ada@example.com"), "never the email: {xml}");
    assert!(!xml.contains("<script>"), "{xml}");
    let f = parse(&xml);
    assert_eq!(f.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(f.title.unwrap().content, "Comments on open");
    assert!(f.id.starts_with("urn:uuid:"), "{}", f.id);
    let entries = &f.entries;
    assert_eq!(entries.len(), 3, "{xml}");
    // Newest first: Bob's, the reply, Ada's.
    // The API's HTML (feed-rs trims the content's ends).
    let bodies: Vec<String> = entries.iter().map(|e| body(e).to_owned()).collect();
    assert_eq!(bodies[0], other["html"].as_str().unwrap().trim());
    assert_eq!(bodies[1], reply["html"].as_str().unwrap().trim());
    assert_eq!(bodies[2], first["html"].as_str().unwrap().trim());
    assert!(bodies[2].contains("<strong>bold</strong>"), "{}", bodies[2]);

    let ada = &entries[2];
    assert_eq!(ada.authors[0].name, "Ada");
    assert_eq!(ada.authors[0].uri.as_deref(), first["website"].as_str());
    assert_eq!(ada.authors[0].email, None);
    assert_eq!(
        ada.title.as_ref().unwrap().content,
        "Ada on “A post & its “quotes””"
    );
    assert_eq!(
        ada.links[0].href,
        format!(
            "https://blog.example/post/#afterword-comment-{}",
            first["id"]
        )
    );
    let created = time::OffsetDateTime::parse(
        first["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        i128::from(ada.published.unwrap().timestamp_micros()),
        created.unix_timestamp_nanos() / 1000
    );
    assert_eq!(entries[1].authors[0].name, "Anonymous");
    // Stable, distinct ids.
    let ids: std::collections::BTreeSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    let (_, again) = feed(&app, "/feeds/open.atom").await;
    assert_eq!(parse(&again).entries[2].id, ada.id, "ids are stable");

    // The edit shows, with its date as `updated`.
    let token = app
        .comment("open", "/edited/", json!({"body": "before"}))
        .await;
    let r = app
        .edit(
            app.url(&format!("/api/v1/comments/{}", token.0["id"])),
            &token.1,
            &json!({"body": "after"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let f = parse(
        &feed_once(&app, "/feeds/open.atom", |f| {
            f.entries.len() == 4 && f.entries[0].updated > f.entries[0].published
        })
        .await
        .1,
    );
    let edited = &f.entries[0];
    assert!(body(edited).contains("after"));
    assert!(edited.updated.unwrap() > edited.published.unwrap());
}

async fn a_thread_feed_holds_that_thread_only(app: TestApp) {
    for i in 0..3 {
        app.comment(
            "open",
            "/t/one/",
            json!({"body": format!("one {i}"), "title": "One"}),
        )
        .await;
    }
    app.comment("open", "/t/two/", json!({"body": "two"})).await;
    // The site's feed holds all four once their events are dispatched.
    feed_of(&app, "/feeds/open.atom", 4).await;
    let (_, xml) = feed(
        &app,
        &format!("/feeds/open/thread.atom?slug={}", enc("/t/one/")),
    )
    .await;
    let f = parse(&xml);
    assert_eq!(f.title.unwrap().content, "Comments on “One”");
    assert_eq!(f.entries.len(), 3);
    assert!(f.entries.iter().all(|e| body(e).contains("one")));
    let self_link = f
        .links
        .iter()
        .find(|l| l.rel.as_deref() == Some("self"))
        .unwrap();
    assert!(
        self_link
            .href
            .ends_with("/feeds/open/thread.atom?slug=%2Ft%2Fone%2F"),
        "{}",
        self_link.href
    );

    // A thread with no comment yet: a valid, empty feed.
    let (_, xml) = feed(
        &app,
        &format!("/feeds/open/thread.atom?slug={}", enc("/nobody/")),
    )
    .await;
    assert!(parse(&xml).entries.is_empty());
}

async fn feeds_answer_304_until_a_comment_changes_them(app: TestApp) {
    app.comment("open", "/c/", json!({"body": "one"})).await;
    let (headers, _) = feed_of(&app, "/feeds/open.atom", 1).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let modified = headers["last-modified"].to_str().unwrap().to_owned();

    let by_etag = conditional(&app, "if-none-match", &etag).await;
    assert_eq!(by_etag.status(), 304);
    let by_date = conditional(&app, "if-modified-since", &modified).await;
    assert_eq!(by_date.status(), 304);
    assert_eq!(by_date.headers()["last-modified"], modified.as_str());

    // Compressed for a client that asks, with its own ETag.
    let gz = conditional(&app, "accept-encoding", "gzip").await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");

    // A new comment changes the feed once its event is dispatched.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.comment("open", "/c/", json!({"body": "two"})).await;
    feed_of(&app, "/feeds/open.atom", 2).await;
    let fresh = conditional(&app, "if-none-match", &etag).await;
    assert_eq!(fresh.status(), 200);
    assert_ne!(fresh.headers()["etag"].to_str().unwrap(), etag);
    assert_ne!(fresh.headers()["last-modified"].to_str().unwrap(), modified);
    assert_eq!(parse(&fresh.text().await.unwrap()).entries.len(), 2);
    let by_old_date = conditional(&app, "if-modified-since", &modified).await;
    assert_eq!(by_old_date.status(), 200);
}

async fn held_comments_are_only_in_the_moderators_feed(app: TestApp) {
    let r = app
        .post_comment(
            "moderated",
            "/m/",
            json!({"body": "waiting for a moderator", "author": "Cy", "title": "M"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let held: Value = r.json().await.unwrap();
    assert_eq!(held["comment"]["status"], "pending");
    let (_, xml) = feed(&app, "/feeds/moderated.atom").await;
    assert!(parse(&xml).entries.is_empty(), "{xml}");

    // Without a session: to the login page (the test client follows the 303).
    let anon = app
        .client
        .get(app.url("/admin/feeds/moderated.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.url().path(), "/admin/login");
    assert!(!anon
        .text()
        .await
        .unwrap()
        .contains("waiting for a moderator"));

    let admin = app.admin().await;
    let r = moderators_feed(&admin, "moderated", 1).await;
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-store"));
    let f = parse(&r.text().await.unwrap());
    assert_eq!(f.entries.len(), 1);
    let e = &f.entries[0];
    // A held comment does not name the post: titles come from published comments only.
    assert_eq!(e.title.as_ref().unwrap().content, "[held] Cy on “/m/”");
    assert!(e
        .links
        .iter()
        .any(|l| l.rel.as_deref() == Some("related") && l.href.ends_with("/admin")));

    // The Threads tab links every site's two feeds.
    let page = admin
        .request(reqwest::Method::GET, "/admin/threads")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("href=\"/admin/feeds/moderated.atom\""),
        "{page}"
    );
    assert!(page.contains("href=\"/feeds/moderated.atom\""), "{page}");

    // Approved, it reaches the public feed.
    admin
        .act(held["comment"]["id"].as_i64().unwrap(), "approve")
        .await;
    let (_, xml) = feed_of(&app, "/feeds/moderated.atom", 1).await;
    parse(&xml);
}

/// The moderators' feed of `site` once it holds `n` entries (see `feed_once`).
async fn moderators_feed(
    admin: &common::admin::Admin<'_>,
    site: &str,
    n: usize,
) -> reqwest::Response {
    let path = format!("/admin/feeds/{site}.atom");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = admin
            .request(reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let headers = r.headers().clone();
        let xml = r.text().await.unwrap();
        let got = feed_rs::parser::parse(xml.as_bytes())
            .unwrap()
            .entries
            .len();
        if got == n {
            // The same answer again, whole, for the caller to read.
            let again = admin
                .request(reqwest::Method::GET, &path)
                .send()
                .await
                .unwrap();
            assert_eq!(again.headers()["cache-control"], headers["cache-control"]);
            return again;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the moderators' feed did not hold {n} entries within 10 s:\n{xml}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A comment held for days and then approved is new to the public feeds the moment it is
/// approved: first in the feed, its `updated` the approval's date, and a reader asking
/// with the feed's previous date gets it (not a 304). The moderators' feed keeps the order
/// in which comments arrived.
async fn a_comment_approved_later_is_new_in_the_public_feed(app: TestApp) {
    let post = |body: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post_comment(
                    "moderated",
                    "/later/",
                    json!({"body": body, "author": "Di"}),
                )
                .await;
            assert_eq!(r.status(), 201);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["comment"]["status"], "pending");
            v["comment"]["id"].as_i64().unwrap()
        }
    };
    let early = post("written first, approved last").await;
    let late = post("written second, approved first").await;
    let admin = app.admin().await;
    admin.act(late, "approve").await;
    let (headers, xml) = feed_of(&app, "/feeds/moderated.atom", 1).await;
    assert!(xml.contains("approved first"), "{xml}");
    let modified = headers["last-modified"].to_str().unwrap().to_owned();
    let etag = headers["etag"].to_str().unwrap().to_owned();

    // Approved a second later: the newest entry of the public feed.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    admin.act(early, "approve").await;
    let (_, xml) = feed_of(&app, "/feeds/moderated.atom", 2).await;
    let f = parse(&xml);
    let first = &f.entries[0];
    assert!(body(first).contains("approved last"), "{xml}");
    // Written before the other, published after it.
    assert!(first.published < f.entries[1].published, "{xml}");
    assert!(first.updated > f.entries[1].updated, "{xml}");
    assert!(first.updated > first.published, "{xml}");
    // A reader with the previous copy gets the new one, by date as by tag.
    for (name, value) in [("if-modified-since", &modified), ("if-none-match", &etag)] {
        let r = conditional_at(&app, "/feeds/moderated.atom", name, value).await;
        assert_eq!(r.status(), 200, "{name}");
    }

    // The moderators' feed: the order of arrival, the later one first.
    let r = moderators_feed(&admin, "moderated", 2).await;
    let f = parse(&r.text().await.unwrap());
    assert!(body(&f.entries[0]).contains("approved first"));

    // Deleted, it leaves the feed with its next read.
    admin.act(early, "delete").await;
    let (_, xml) = feed(&app, "/feeds/moderated.atom").await;
    assert_eq!(parse(&xml).entries.len(), 1, "{xml}");
}

async fn bad_feed_requests_are_refused_clearly(app: TestApp) {
    expect_error(app.get("/feeds/nope.atom").await, 404, "unknown_site").await;
    expect_error(app.get("/feeds/open.rss").await, 404, "unknown_site").await;
    expect_error(
        app.get("/feeds/nope/thread.atom?slug=%2Fa%2F").await,
        404,
        "unknown_site",
    )
    .await;
    expect_error(app.get("/feeds/open/thread.atom").await, 422, "required").await;
    expect_error(
        app.get("/feeds/blog/thread.atom?slug=https%3A%2F%2Fevil.example%2Fx")
            .await,
        422,
        "slug_not_on_site",
    )
    .await;
    let r = app
        .client
        .post(app.url("/feeds/open.atom"))
        .send()
        .await
        .unwrap();
    expect_error(r, 405, "method_not_allowed").await;
}

/// The feeds' record migration: its `down.sql` leaves the schema exactly as it found it.
#[test]
fn feed_entries_migration_down_is_exact_sqlite() {
    crate::email::sqlite_downs_are_exact(&["000019"]);
}

#[test]
fn feed_entries_migration_down_is_exact_postgres() {
    crate::email::postgres_downs_are_exact(&["000019"]);
}

/// Two instances on one PostgreSQL: a feed cached by one changes when the other takes
/// the comment's event (told through the database's notifications, as thread pages are).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_feed_cached_by_one_instance_changes_when_another_dispatches_postgres() {
    // Each instance dispatches once as it starts, then not for an hour.
    let idle = format!("{}\n[events]\ninterval = \"1h\"\n", common::SITES);
    let Some(b) = common::spawn_with(common::Backend::Postgres, &idle).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    b.comment(
        "open",
        "/two/",
        json!({"body": "posted on b, dispatched by a"}),
    )
    .await;
    // Not dispatched yet: b's feed is empty, and kept (the same tag answers 304).
    let (headers, xml) = feed(&b, "/feeds/open.atom").await;
    assert!(parse(&xml).entries.is_empty(), "{xml}");
    let r = conditional(&b, "if-none-match", headers["etag"].to_str().unwrap()).await;
    assert_eq!(r.status(), 304);

    // A second instance starts, takes the event, and b hears of it.
    let a = common::spawn_on(std::sync::Arc::clone(&b.db), &idle).await;
    let (_, xml) = feed_of(&b, "/feeds/open.atom", 1).await;
    assert!(xml.contains("dispatched by a"), "{xml}");
    drop(a);
}
