//! The comments API of API.md, on SQLite and on PostgreSQL.

use crate::common;

use common::{enc, expect_error, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    health_answers,
    a_comment_round_trips_without_private_fields,
    first_comment_records_title_and_url,
    replies_must_stay_in_their_thread,
    threads_page_by_top_level_comment,
    sort_newest_and_bad_paging_parameters,
    authors_edit_and_delete_with_their_token,
    deleted_comment_with_replies_stays_as_placeholder,
    edit_window_closes,
    markdown_is_sanitized_and_websites_checked,
    moderation_holds_comments_back,
    locked_threads_refuse_comments,
    etag_gives_not_modified_until_the_thread_changes,
    unknown_threads_are_empty,
    slugs_are_nfc_normalized,
    top_sort_pages_by_reactions,
    deleted_comments_without_replies_take_no_place_on_a_page,
);

async fn health_answers(app: TestApp) {
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
    let r = app.client.head(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
}

async fn a_comment_round_trips_without_private_fields(app: TestApp) {
    let (c, token) = app
        .comment(
            "open",
            "/2019/05/15/iclr-2019/",
            json!({"body": "Great *post*", "author": " Ada ", "email": "ada@example.com",
                   "website": "https://ada.example/", "notify_replies": true}),
        )
        .await;
    assert!(token.len() >= 40);
    assert_eq!(c["author"], "Ada");
    assert_eq!(c["website"], "https://ada.example/");
    assert_eq!(c["html"], "<p>Great <em>post</em></p>\n");
    assert_eq!(c["status"], "approved");
    assert_eq!(c["parent_id"], Value::Null);
    assert_eq!(c["edited_at"], Value::Null);
    assert!(c["avatar"].as_str().unwrap().len() >= 8);
    assert!(c["created_at"].as_str().unwrap().ends_with('Z'));

    let t = app.thread("open", "/2019/05/15/iclr-2019/", "").await;
    assert_eq!(t["thread"]["comment_count"], 1);
    assert_eq!(t["thread"]["locked"], false);
    assert_eq!(t["comments"][0]["id"], c["id"]);
    assert_eq!(t["next"], Value::Null);
    let text = t.to_string();
    for private in [
        "ada@example.com",
        "127.0.0.1",
        "\"email\"",
        "\"ip\"",
        "\"user_agent\"",
        "edit_token",
        &token,
    ] {
        assert!(!text.contains(private), "{private} leaked: {text}");
    }
    // An address's own avatar only with proof that it is the author's (an approved
    // comment's edit token); typed alone, it gives an avatar of its own.
    let proof = json!({"id": c["id"], "edit_token": token});
    let (c2, _) = app
        .comment(
            "open",
            "/other/",
            json!({"body": "x", "email": "ADA@example.com", "proof": proof}),
        )
        .await;
    let (c3, _) = app
        .comment(
            "open",
            "/other/",
            json!({"body": "x", "email": "ADA@example.com", "proof": proof}),
        )
        .await;
    let (typed, _) = app
        .comment(
            "open",
            "/other/",
            json!({"body": "x", "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(c2["avatar"], c3["avatar"]);
    assert_ne!(typed["avatar"], c2["avatar"]);
}

async fn first_comment_records_title_and_url(app: TestApp) {
    app.comment(
        "open",
        "/p/",
        json!({"body": "one", "title": "My post", "url": "https://blog.example/p/"}),
    )
    .await;
    app.comment(
        "open",
        "/p/",
        json!({"body": "two", "title": "Other", "url": "https://blog.example/q/"}),
    )
    .await;
    let t = app.thread("open", "/p/", "").await;
    assert_eq!(t["thread"]["title"], "My post");
    assert_eq!(t["thread"]["url"], "https://blog.example/p/");
    assert_eq!(t["thread"]["comment_count"], 2);
    let r = app
        .post_comment(
            "open",
            "/p/",
            json!({"body": "x", "url": "javascript:alert(1)"}),
        )
        .await;
    let e = expect_error(r, 422, "invalid_url").await;
    assert_eq!(e["error"]["field"], "url");
}

async fn replies_must_stay_in_their_thread(app: TestApp) {
    let (top, _) = app.comment("open", "/a/", json!({"body": "top"})).await;
    let (other, _) = app
        .comment("open", "/b/", json!({"body": "elsewhere"}))
        .await;
    let (reply, _) = app
        .comment("open", "/a/", json!({"body": "re", "parent_id": top["id"]}))
        .await;
    assert_eq!(reply["parent_id"], top["id"]);
    let (deep, _) = app
        .comment(
            "open",
            "/a/",
            json!({"body": "re re", "parent_id": reply["id"]}),
        )
        .await;

    let before = app.db.count("comments");
    for parent in [other["id"].clone(), json!(999_999), json!(0), json!(-1)] {
        let r = app
            .post_comment("open", "/a/", json!({"body": "bad", "parent_id": parent}))
            .await;
        let e = expect_error(r, 422, "invalid_parent").await;
        assert_eq!(e["error"]["field"], "parent_id");
    }
    let r = app
        .post_comment("open", "/a/", json!({"body": "bad", "parent_id": "1"}))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        app.db.count("comments"),
        before,
        "refused replies stored nothing"
    );

    let t = app.thread("open", "/a/", "").await;
    let ids: Vec<_> = t["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![top["id"].clone(), reply["id"].clone(), deep["id"].clone()]
    );
    assert_eq!(t["thread"]["comment_count"], 3);
}

async fn threads_page_by_top_level_comment(app: TestApp) {
    let mut tops = Vec::new();
    for i in 0..7 {
        let (c, _) = app
            .comment("open", "/paged/", json!({"body": format!("top {i}")}))
            .await;
        tops.push(c["id"].as_i64().unwrap());
        if i % 2 == 0 {
            app.comment(
                "open",
                "/paged/",
                json!({"body": format!("reply {i}"), "parent_id": c["id"]}),
            )
            .await;
        }
    }
    let mut seen_tops = Vec::new();
    let mut total = 0;
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let t = app
            .thread("open", "/paged/", &format!("&limit=3{after}"))
            .await;
        pages += 1;
        let comments = t["comments"].as_array().unwrap();
        total += comments.len();
        for c in comments {
            if c["parent_id"].is_null() {
                seen_tops.push(c["id"].as_i64().unwrap());
            } else {
                // A reply always follows its parent on the same page.
                assert!(comments.iter().any(|p| p["id"] == c["parent_id"]));
            }
        }
        match t["next"].as_str() {
            Some(n) => after = format!("&after={}", enc(n)),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen_tops, tops);
    assert_eq!(total, 11);
}

async fn sort_newest_and_bad_paging_parameters(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            app.comment("open", "/s/", json!({"body": format!("{i}")}))
                .await
                .0["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let t = app.thread("open", "/s/", "&sort=newest&limit=2").await;
    let got: Vec<_> = t["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2], ids[1]]);
    let next = t["next"].as_str().unwrap().to_owned();
    let t = app
        .thread("open", "/s/", &format!("&sort=newest&limit=2&after={next}"))
        .await;
    assert_eq!(t["comments"][0]["id"], ids[0]);
    let t = app.thread("open", "/s/", "&sort=top").await;
    assert_eq!(t["comments"].as_array().unwrap().len(), 3);

    let q = |extra: &str| format!("/api/v1/comments?site=open&slug=%2Fs%2F{extra}");
    for (extra, field) in [
        ("&limit=0", "limit"),
        ("&limit=201", "limit"),
        ("&limit=x", "limit"),
        ("&sort=best", "sort"),
        ("&after=garbage!", "after"),
        (&format!("&after={next}"), "after"), // a newest cursor under the default sort
    ] {
        let r = app.get(&q(extra)).await;
        assert_eq!(r.status(), 422, "{extra}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{extra}: {v}");
    }
    let v = expect_error(app.get("/api/v1/comments?site=open").await, 422, "required").await;
    assert_eq!(v["error"]["field"], "slug");
    let v = expect_error(
        app.get("/api/v1/comments?slug=%2Fs%2F").await,
        422,
        "required",
    )
    .await;
    assert_eq!(v["error"]["field"], "site");
    let v = expect_error(
        app.get("/api/v1/comments?site=nope&slug=x").await,
        404,
        "unknown_site",
    )
    .await;
    assert_eq!(v["error"]["field"], "site");
    expect_error(
        app.get("/api/v1/comments?site=Bad_Id&slug=x").await,
        422,
        "invalid_site",
    )
    .await;
    expect_error(
        app.get("/api/v1/comments?site=open&slug=%FF").await,
        400,
        "invalid_utf8",
    )
    .await;
    expect_error(
        app.get("/api/v1/comments?site=open&slug=a%00b").await,
        422,
        "invalid_characters",
    )
    .await;
}

async fn authors_edit_and_delete_with_their_token(app: TestApp) {
    let (c, token) = app.comment("open", "/e/", json!({"body": "frist"})).await;
    let id = c["id"].as_i64().unwrap();
    let url = app.url(&format!("/api/v1/comments/{id}"));

    let r = app
        .client
        .patch(&url)
        .json(&json!({"body": "first"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "missing_token").await;
    let r = app.edit(&url, "wrong", &json!({"body": "first"})).await;
    expect_error(r, 403, "invalid_token").await;
    let (_, other_token) = app.comment("open", "/e/", json!({"body": "other"})).await;
    let r = app.edit(&url, &other_token, &json!({"body": "x"})).await;
    expect_error(r, 403, "invalid_token").await;

    let r = app
        .edit(&url, &token, &json!({"body": "first **edit**"}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["comment"]["html"], "<p>first <strong>edit</strong></p>\n");
    assert!(v["comment"]["edited_at"].is_string());
    let t = app.thread("open", "/e/", "").await;
    assert_eq!(
        t["comments"][0]["html"],
        "<p>first <strong>edit</strong></p>\n"
    );

    let r = app.edit(&url, &token, &json!({"body": ""})).await;
    expect_error(r, 422, "empty").await;
    let r = app
        .edit(
            app.url("/api/v1/comments/abc"),
            &token,
            &json!({"body": "x"}),
        )
        .await;
    expect_error(r, 404, "comment_not_found").await;
    let r = app
        .edit(
            app.url("/api/v1/comments/424242"),
            &token,
            &json!({"body": "x"}),
        )
        .await;
    expect_error(r, 404, "comment_not_found").await;

    let r = app.remove(&url, "wrong").await;
    expect_error(r, 403, "invalid_token").await;
    let r = app.remove(&url, &token).await;
    assert_eq!(r.status(), 204);
    let t = app.thread("open", "/e/", "").await;
    assert_eq!(
        t["comments"].as_array().unwrap().len(),
        1,
        "deleted without replies: gone"
    );
    assert_eq!(t["thread"]["comment_count"], 1);
    let r = app.remove(&url, &token).await;
    expect_error(r, 404, "comment_not_found").await;
    let r = app.edit(&url, &token, &json!({"body": "zombie"})).await;
    expect_error(r, 404, "comment_not_found").await;
    let counts: Value = app
        .get("/api/v1/counts?site=open&slug=%2Fe%2F")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(counts["counts"]["/e/"], 1);
}

async fn deleted_comment_with_replies_stays_as_placeholder(app: TestApp) {
    let (top, token) = app
        .comment(
            "open",
            "/d/",
            json!({"body": "secret words", "author": "Eve", "website": "eve.example"}),
        )
        .await;
    let (reply, _) = app
        .comment(
            "open",
            "/d/",
            json!({"body": "a reply", "parent_id": top["id"]}),
        )
        .await;
    let r = app
        .remove(app.url(&format!("/api/v1/comments/{}", top["id"])), &token)
        .await;
    assert_eq!(r.status(), 204);
    let t = app.thread("open", "/d/", "").await;
    let c = t["comments"].as_array().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["id"], top["id"]);
    assert_eq!(c[0]["status"], "deleted");
    assert_eq!(c[0]["html"], "");
    assert_eq!(c[0]["author"], Value::Null);
    assert_eq!(c[0]["website"], Value::Null);
    assert_eq!(c[0]["avatar"], "");
    assert_eq!(c[1]["id"], reply["id"]);
    assert_eq!(t["thread"]["comment_count"], 1);
    assert!(!t.to_string().contains("secret words"));
    // Replying to a placeholder is refused.
    let r = app
        .post_comment("open", "/d/", json!({"body": "x", "parent_id": top["id"]}))
        .await;
    expect_error(r, 422, "invalid_parent").await;
}

async fn edit_window_closes(app: TestApp) {
    let (c, token) = app.comment("short", "/w/", json!({"body": "quick"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let url = app.url(&format!("/api/v1/comments/{}", c["id"]));
    let r = app.edit(&url, &token, &json!({"body": "late"})).await;
    expect_error(r, 403, "edit_window_closed").await;
    let r = app.remove(&url, &token).await;
    expect_error(r, 403, "edit_window_closed").await;
    let t = app.thread("short", "/w/", "").await;
    assert_eq!(t["comments"][0]["html"], "<p>quick</p>\n");
}

async fn markdown_is_sanitized_and_websites_checked(app: TestApp) {
    let hostile =
        "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](&#106;avascript:alert(1)) \
                   <script>alert(1)</script> <img src=x onerror=alert(1)> <svg onload=alert(1)> \
                   <vbscript:x> [d](data:text/html,x) [ok](https://example.com)";
    let (c, _) = app.comment("open", "/x/", json!({"body": hostile})).await;
    let html = c["html"].as_str().unwrap();
    for bad in [
        "<script",
        "<img",
        "<svg",
        "href=\"javascript",
        "href=\"vbscript",
        "href=\"data",
        "onerror=\"",
        "onload=\"",
    ] {
        assert!(!html.to_lowercase().contains(bad), "{bad} in {html}");
    }
    assert!(
        html.contains(
            "<a href=\"https://example.com\" rel=\"nofollow ugc noopener noreferrer\">ok</a>"
        ),
        "{html}"
    );
    assert_eq!(html.matches("<a ").count(), 1, "{html}");

    let (c, _) = app
        .comment(
            "open",
            "/x/",
            json!({"body": "x", "author": "<b>Mallory</b>"}),
        )
        .await;
    assert_eq!(
        c["author"], "<b>Mallory</b>",
        "names are plain text, escaped by the client"
    );

    let before = app.db.count("comments");
    for (field, value, code) in [
        ("website", "javascript:alert(1)", "invalid_url"),
        ("website", "JAVASCRIPT:alert(1)", "invalid_url"),
        ("website", "data:text/html,x", "invalid_url"),
        ("email", "not-an-email", "invalid_email"),
        ("author", &"n".repeat(101), "too_long"),
        ("title", "a\u{0}b", "invalid_characters"),
    ] {
        let r = app
            .post_comment("open", "/x/", json!({"body": "x", field: value}))
            .await;
        let e = expect_error(r, 422, code).await;
        assert_eq!(e["error"]["field"], field);
    }
    let r = app
        .post_comment("open", "/x/", json!({"body": "x", "notify_replies": true}))
        .await;
    let e = expect_error(r, 422, "email_required").await;
    assert_eq!(e["error"]["field"], "notify_replies");
    assert_eq!(app.db.count("comments"), before);
}

async fn moderation_holds_comments_back(app: TestApp) {
    let (c, _) = app
        .comment("moderated", "/m/", json!({"body": "wait for it"}))
        .await;
    assert_eq!(c["status"], "pending");
    let t = app.thread("moderated", "/m/", "").await;
    assert_eq!(t["comments"].as_array().unwrap().len(), 0);
    assert_eq!(t["thread"]["comment_count"], 0);
    // Pending comments cannot be replied to.
    let r = app
        .post_comment(
            "moderated",
            "/m/",
            json!({"body": "re", "parent_id": c["id"]}),
        )
        .await;
    expect_error(r, 422, "invalid_parent").await;

    // first-time: the first comment of an email waits, later ones pass once one was approved.
    let (c1, t1) = app
        .comment(
            "firsttime",
            "/f/",
            json!({"body": "hi", "email": "new@example.com"}),
        )
        .await;
    assert_eq!(c1["status"], "pending");
    let (anon, _) = app
        .comment("firsttime", "/f/", json!({"body": "anon"}))
        .await;
    assert_eq!(anon["status"], "pending");
    app.db.exec(&format!(
        "UPDATE comments SET status = 'approved' WHERE id = {}",
        c1["id"]
    ));
    let (c2, _) = app
        .comment(
            "firsttime",
            "/f/",
            json!({"body": "again", "email": "new@example.com",
                   "proof": {"id": c1["id"], "edit_token": t1}}),
        )
        .await;
    assert_eq!(c2["status"], "approved");
    let counts: Value = app
        .get("/api/v1/counts?site=firsttime&slug=%2Ff%2F")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        counts["counts"]["/f/"], 1,
        "the approved-by-SQL comment was not counted through the API"
    );
}

async fn locked_threads_refuse_comments(app: TestApp) {
    let (c, token) = app
        .comment("open", "/locked/", json!({"body": "before"}))
        .await;
    app.db
        .exec("UPDATE threads SET locked = TRUE WHERE slug = '/locked/'");
    // A fresh app instance would read the flag; this one must not serve a stale page either,
    // so read through a new slug-specific request after the write path refuses.
    let r = app
        .post_comment("open", "/locked/", json!({"body": "after"}))
        .await;
    expect_error(r, 409, "thread_locked").await;
    let r = app
        .edit(
            app.url(&format!("/api/v1/comments/{}", c["id"])),
            &token,
            &json!({"body": "changed"}),
        )
        .await;
    expect_error(r, 409, "thread_locked").await;
    assert_eq!(app.db.count("comments"), 1);
}

async fn etag_gives_not_modified_until_the_thread_changes(app: TestApp) {
    app.comment("open", "/etag/", json!({"body": "one"})).await;
    let url = app.url("/api/v1/comments?site=open&slug=%2Fetag%2F");
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = app
        .client
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert!(r.bytes().await.unwrap().is_empty());
    // A proxy that compresses hands the browser a weak tag; it still matches.
    let weak = format!("W/{etag}");
    let r = app
        .client
        .get(&url)
        .header("If-None-Match", format!("\"other\", {weak}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    app.comment("open", "/etag/", json!({"body": "two"})).await;
    let r = app
        .client
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["comments"].as_array().unwrap().len(), 2);
}

async fn unknown_threads_are_empty(app: TestApp) {
    let t = app.thread("open", "/never/", "").await;
    assert_eq!(t["comments"], json!([]));
    assert_eq!(t["thread"]["comment_count"], 0);
    assert_eq!(t["thread"]["slug"], "/never/");
    assert_eq!(t["next"], Value::Null);
    assert_eq!(
        app.db.count("threads"),
        0,
        "reading does not create threads"
    );
    // A cached empty page is dropped when the first comment arrives.
    app.comment("open", "/never/", json!({"body": "first"}))
        .await;
    let t = app.thread("open", "/never/", "").await;
    assert_eq!(t["comments"].as_array().unwrap().len(), 1);
}

async fn slugs_are_nfc_normalized(app: TestApp) {
    app.comment("open", "/cafe\u{301}/", json!({"body": "decomposed"}))
        .await;
    let t = app.thread("open", "/caf\u{e9}/", "").await;
    assert_eq!(t["comments"].as_array().unwrap().len(), 1);
    assert_eq!(t["thread"]["slug"], "/caf\u{e9}/");
    let long = "x".repeat(513);
    let r = app.post_comment("open", &long, json!({"body": "x"})).await;
    expect_error(r, 422, "invalid_slug").await;
}

async fn top_sort_pages_by_reactions(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let (c, _) = app
            .comment("open", "/top/", json!({"body": format!("c{i}")}))
            .await;
        ids.push(c["id"].as_i64().unwrap());
    }
    app.comment(
        "open",
        "/top/",
        json!({"body": "reply", "parent_id": ids[0]}),
    )
    .await;
    for (comment, kind, visitor) in [
        (json!(ids[3]), "👍", "a"),
        (json!(ids[3]), "❤️", "a"),
        (json!(ids[3]), "👍", "b"),
        (json!(ids[1]), "👍", "a"),
        (json!(ids[4]), "🎉", "a"),
        (Value::Null, "🎉", "a"),
    ] {
        let r = app
            .client
            .post(app.url("/api/v1/reactions?site=open&slug=/top/"))
            .json(&json!({"kind": kind, "comment_id": comment, "visitor": visitor, "active": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (last, _) = app.comment("open", "/top/", json!({"body": "late"})).await;

    let t = app.thread("open", "/top/", "&sort=top&limit=2").await;
    let got = common::ids(&t);
    assert_eq!(got, vec![ids[3], ids[1]]);
    assert_eq!(t["comments"][0]["reactions"], json!({"👍": 2, "❤️": 1}));
    assert_eq!(t["thread"]["reactions"], json!({"🎉": 1}));
    let next = t["next"].as_str().unwrap().to_owned();
    let t = app
        .thread("open", "/top/", &format!("&sort=top&limit=2&after={next}"))
        .await;
    let got = common::ids(&t);
    // ids[4] and ids[1] tie at 1: the older first. Then the unreacted, oldest first,
    // each followed by its replies.
    assert_eq!(got[0], ids[4]);
    assert_eq!(got[1], ids[0]);
    assert_eq!(
        t["comments"].as_array().unwrap().len(),
        3,
        "ids[0] brings its reply"
    );
    let next = t["next"].as_str().unwrap().to_owned();
    let t = app
        .thread("open", "/top/", &format!("&sort=top&limit=2&after={next}"))
        .await;
    let got = common::ids(&t);
    assert_eq!(got, vec![ids[2], last["id"].as_i64().unwrap()]);
    assert_eq!(t["next"], Value::Null);
}

async fn deleted_comments_without_replies_take_no_place_on_a_page(app: TestApp) {
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for i in 0..6 {
        let (c, token) = app
            .comment("open", "/gaps/", json!({"body": format!("c{i}")}))
            .await;
        ids.push(c["id"].clone());
        tokens.push(token);
    }
    for i in [0, 1, 3] {
        let r = app
            .remove(app.url(&format!("/api/v1/comments/{}", ids[i])), &tokens[i])
            .await;
        assert_eq!(r.status(), 204);
    }
    let t = app.thread("open", "/gaps/", "&limit=2").await;
    let got: Vec<Value> = t["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(got, vec![ids[2].clone(), ids[4].clone()]);
    let next = t["next"].as_str().unwrap().to_owned();
    let t = app
        .thread("open", "/gaps/", &format!("&limit=2&after={next}"))
        .await;
    let got: Vec<Value> = t["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(got, vec![ids[5].clone()]);
    assert_eq!(t["next"], Value::Null);
    assert_eq!(t["thread"]["comment_count"], 3);
}
