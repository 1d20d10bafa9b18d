//! The public side of moderation: each site's mode (an author's edit of an approved
//! comment waits again), thread title and address only from published comments, names
//! reserved to moderators, moderators' own comments, and bans — on SQLite and PostgreSQL.

use crate::common;

use common::{expect_error, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    open_sites_publish_and_edits_stay_published,
    all_mode_holds_and_an_edit_after_approval_waits_again,
    first_time_knows_an_address_whatever_its_case,
    a_known_address_is_not_borrowed_without_proof,
    title_and_url_come_only_from_published_comments,
    a_url_off_the_site_is_refused_and_nothing_stored,
    an_absolute_slug_is_its_path_on_the_site_and_refused_off_it,
    moderators_names_are_refused_in_every_disguise,
    moderators_reply_in_their_own_name,
    moderators_may_post_into_a_locked_thread,
    bans_refuse_or_hold_new_comments,
);

async fn edit_body(app: &TestApp, c: &Value, token: &str, body: &str) -> Value {
    let url = app.url(&format!("/api/v1/comments/{}", c["id"]));
    let r = app.edit(url, token, &json!({ "body": body })).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v["comment"].clone()
}

fn id(c: &Value) -> i64 {
    c["id"].as_i64().unwrap()
}

async fn open_sites_publish_and_edits_stay_published(app: TestApp) {
    let (c, tok) = app.comment("open", "/o/", json!({"body": "hi"})).await;
    assert_eq!(c["status"], "approved");
    assert_eq!(c["moderator"], false);
    let e = edit_body(&app, &c, &tok, "hi again").await;
    assert_eq!(e["status"], "approved");
    let t = app.thread("open", "/o/", "").await;
    assert_eq!(common::ids(&t), [id(&c)]);
    assert_eq!(t["thread"]["comment_count"], 1);
    assert!(t["comments"][0]["html"]
        .as_str()
        .unwrap()
        .contains("hi again"));
}

async fn all_mode_holds_and_an_edit_after_approval_waits_again(app: TestApp) {
    let (c, tok) = app
        .comment("moderated", "/m/", json!({"body": "fine words"}))
        .await;
    assert_eq!(c["status"], "pending");
    let admin = app.admin().await;
    admin.act(id(&c), "approve").await;
    let t = app.thread("moderated", "/m/", "").await;
    assert_eq!(common::ids(&t), [id(&c)]);
    assert_eq!(t["thread"]["comment_count"], 1);

    // Approved, then changed into something else: it waits again.
    let e = edit_body(&app, &c, &tok, "buy cheap pills").await;
    assert_eq!(e["status"], "pending");
    let t = app.thread("moderated", "/m/", "").await;
    assert!(common::ids(&t).is_empty(), "{t}");
    assert_eq!(t["thread"]["comment_count"], 0);
    // Its author still sees it, as pending.
    let own = app.mine("moderated", "/m/", &c, &tok).await;
    assert_eq!(own[0]["status"], "pending");
    assert!(own[0]["html"].as_str().unwrap().contains("pills"));
    let queue = admin.get("/api/v1/admin/comments?status=pending").await;
    assert_eq!(queue["comments"][0]["id"], c["id"]);

    // A pending comment edited stays pending, and the count does not move.
    let e = edit_body(&app, &c, &tok, "fine words, really").await;
    assert_eq!(e["status"], "pending");
    let t = app.thread("moderated", "/m/", "").await;
    assert_eq!(t["thread"]["comment_count"], 0);

    admin.act(id(&c), "approve").await;
    let t = app.thread("moderated", "/m/", "").await;
    assert_eq!(t["thread"]["comment_count"], 1);
    assert!(t["comments"][0]["html"]
        .as_str()
        .unwrap()
        .contains("fine words, really"));
}

/// Posts a comment with this email address; the comment and its edit token.
async fn by(app: &TestApp, site: &str, slug: &str, email: &str) -> (Value, String) {
    app.comment(site, slug, json!({"body": "words", "email": email}))
        .await
}

/// Posts with this address and, as proof that it is theirs, an earlier comment's id and
/// edit token (what the embed keeps).
async fn proven(
    app: &TestApp,
    site: &str,
    slug: &str,
    email: &str,
    earlier: (&Value, &str),
) -> (Value, String) {
    let proof = json!({"id": earlier.0["id"], "edit_token": earlier.1});
    app.comment(
        site,
        slug,
        json!({"body": "words", "email": email, "proof": proof}),
    )
    .await
}

async fn first_time_knows_an_address_whatever_its_case(app: TestApp) {
    let (first, tok) = by(&app, "firsttime", "/f/", "Me@Example.com").await;
    assert_eq!(first["status"], "pending");
    // Still unknown until approved.
    let (again, _) = by(&app, "firsttime", "/f/", "me@example.com").await;
    assert_eq!(again["status"], "pending");
    let admin = app.admin().await;
    admin.act(id(&first), "approve").await;

    let mine = (&first, tok.as_str());
    let (known, _) = proven(&app, "firsttime", "/f/", "me@example.com", mine).await;
    assert_eq!(known["status"], "approved");
    let (shouting, _) = proven(&app, "firsttime", "/g/", "ME@EXAMPLE.COM", mine).await;
    assert_eq!(shouting["status"], "approved");
    // Their own avatar, the same on every proven comment (the first had one of its own).
    assert_eq!(known["avatar"], shouting["avatar"]);
    assert_ne!(known["avatar"], first["avatar"]);
    let (stranger, _) = by(&app, "firsttime", "/f/", "you@example.com").await;
    assert_eq!(stranger["status"], "pending");
    // Known on this site only.
    let (elsewhere, _) = proven(&app, "moderated", "/f/", "me@example.com", mine).await;
    assert_eq!(elsewhere["status"], "pending");

    let t = app.thread("firsttime", "/f/", "").await;
    assert_eq!(common::ids(&t), [id(&first), id(&known)]);
    assert_eq!(t["thread"]["comment_count"], 2);

    // Known authors too: an edit after approval waits again.
    let e = edit_body(&app, &first, &tok, "first, changed").await;
    assert_eq!(e["status"], "pending");
    let t = app.thread("firsttime", "/f/", "").await;
    assert_eq!(common::ids(&t), [id(&known)]);
    assert_eq!(t["thread"]["comment_count"], 1);
}

/// Someone who types a known commenter's address is a new commenter: held for a
/// moderator, with an avatar of their own. Only the browser holding the edit token of an
/// approved comment with that address, on this site, is trusted.
async fn a_known_address_is_not_borrowed_without_proof(app: TestApp) {
    let admin = app.admin().await;
    let (first, tok) = by(&app, "firsttime", "/b/", "ann@example.com").await;
    admin.act(id(&first), "approve").await;
    let (hers, _) = proven(&app, "firsttime", "/b/", "ann@example.com", (&first, &tok)).await;
    assert_eq!(hers["status"], "approved");
    let (pending_one, pending_tok) = by(&app, "firsttime", "/b/", "ann@example.com").await;

    let (borrowed, _) = by(&app, "firsttime", "/b/", "Ann@example.com").await;
    assert_eq!(borrowed["status"], "pending");
    assert_ne!(borrowed["avatar"], hers["avatar"]);
    // Nor on an open site: published, but not with her avatar.
    let (open, _) = by(&app, "open", "/b/", "ann@example.com").await;
    assert_ne!(open["avatar"], hers["avatar"]);
    // A wrong token, a comment not approved, another address's comment: no proof.
    let (other, other_tok) = by(&app, "firsttime", "/b/", "eve@example.com").await;
    admin.act(id(&other), "approve").await;
    for earlier in [
        (&first, "not-the-token"),
        (&pending_one, pending_tok.as_str()),
        (&other, other_tok.as_str()),
    ] {
        let (c, _) = proven(&app, "firsttime", "/b/", "ann@example.com", earlier).await;
        assert_eq!(c["status"], "pending", "{earlier:?}");
        assert_ne!(c["avatar"], hers["avatar"]);
    }
    let (c, _) = proven(&app, "firsttime", "/b/", "ann@example.com", (&first, &tok)).await;
    assert_eq!(c["status"], "approved");
    assert_eq!(c["avatar"], hers["avatar"]);
    // Malformed proof is a clear 422, not a 500.
    let r = app
        .post_comment(
            "firsttime",
            "/b/",
            json!({"body": "x", "email": "ann@example.com", "proof": {"id": 0, "edit_token": ""}}),
        )
        .await;
    assert!(r.status() == 422 || r.status() == 201, "{}", r.status());
}

async fn title_and_url_come_only_from_published_comments(app: TestApp) {
    // A stranger's first comment waits: its title and url are not taken.
    app.comment(
        "firsttime",
        "/t/",
        json!({"body": "x", "email": "new@example.com", "title": "Spam title",
               "url": "https://anywhere.example/"}),
    )
    .await;
    let t = app.thread("firsttime", "/t/", "").await;
    assert_eq!(t["thread"]["title"], Value::Null);
    assert_eq!(t["thread"]["url"], Value::Null);

    let (c, _) = app
        .comment("moderated", "/t/", json!({"body": "x", "title": "Held"}))
        .await;
    let admin = app.admin().await;
    admin.act(id(&c), "approve").await;
    let t = app.thread("moderated", "/t/", "").await;
    assert_eq!(
        t["thread"]["title"],
        Value::Null,
        "approval does not set it"
    );

    // A comment published at once records them.
    app.comment(
        "blog",
        "/t/",
        json!({"body": "x", "title": "The post", "url": "https://blog.example/t/"}),
    )
    .await;
    let t = app.thread("blog", "/t/", "").await;
    assert_eq!(t["thread"]["title"], "The post");
    assert_eq!(t["thread"]["url"], "https://blog.example/t/");
}

async fn a_url_off_the_site_is_refused_and_nothing_stored(app: TestApp) {
    for url in [
        "https://evil.example/t/",
        "http://blog.example/t/",
        "https://blog.example.evil.example/",
    ] {
        let r = app
            .post_comment("blog", "/u/", json!({"body": "x", "url": url}))
            .await;
        let e = expect_error(r, 422, "url_not_on_site").await;
        assert_eq!(e["error"]["field"], "url");
    }
    assert_eq!(app.db.count("comments"), 0);
    assert_eq!(app.db.count("threads"), 0);
}

async fn moderators_names_are_refused_in_every_disguise(app: TestApp) {
    let _admin = app.admin().await;
    let _other = app.admin_as("admin", "Admin").await;
    for name in [
        "Site Owner",
        "site owner",
        "SITE  OWNER",
        "Ｓｉｔｅ Ｏｗｎｅｒ",
        "ſite owner",
        "Site\u{200B} Owner",
        "Si\u{00AD}te\u{00A0}Owner",
        "\u{2067}Site Owner\u{2069}",
        "\u{202E}renwO etiS",
        "Site Owner\u{FE0F}",
        "MOD",
        "the editor",
        "The\u{200D} Ｅditor",
        // Look-alikes from other scripts: Cyrillic А, Greek Ο, Cyrillic о and е.
        "\u{0410}dmin",
        "Site \u{039F}wner",
        "The Edit\u{043E}r",
        "Sit\u{0435} Owner",
        "\u{041C}\u{041E}D",
    ] {
        let r = app
            .post_comment("open", "/r/", json!({"body": "hi", "author": name}))
            .await;
        let e = expect_error(r, 422, "reserved_name").await;
        assert_eq!(e["error"]["field"], "author", "{name:?}");
    }
    assert_eq!(app.db.count("comments"), 0);
    assert_eq!(app.db.count("threads"), 0);
    // The site's reserved names are the site's own.
    let (c, _) = app
        .comment("blog", "/r/", json!({"body": "hi", "author": "The Editor"}))
        .await;
    assert_eq!(c["author"], "The Editor");
    let (c, _) = app
        .comment(
            "open",
            "/r/",
            json!({"body": "hi", "author": "Site Owners"}),
        )
        .await;
    assert_eq!(c["moderator"], false);
}

async fn moderators_reply_in_their_own_name(app: TestApp) {
    let (c, _) = app
        .comment(
            "moderated",
            "/q/",
            json!({"body": "a question", "author": "Ann"}),
        )
        .await;
    let admin = app.admin().await;
    // Not published yet: nothing to reply under.
    let r = admin
        .post_raw(
            &format!("/api/v1/admin/comments/{}/reply", id(&c)),
            json!({"body": "hm"}),
        )
        .await;
    expect_error(r, 422, "invalid_parent").await;
    admin.act(id(&c), "approve").await;

    let r = admin
        .post_raw(
            &format!("/api/v1/admin/comments/{}/reply", id(&c)),
            json!({"body": "an **answer**"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let reply = &v["comment"];
    assert_eq!(reply["moderator"], true);
    assert_eq!(reply["author"], "Site Owner");
    assert_eq!(reply["status"], "approved");
    assert_eq!(reply["parent_id"], c["id"]);
    assert!(reply["html"]
        .as_str()
        .unwrap()
        .contains("<strong>answer</strong>"));
    assert!(v.get("edit_token").is_none());

    let t = app.thread("moderated", "/q/", "").await;
    assert_eq!(common::ids(&t), [id(&c), id(reply)]);
    assert_eq!(t["thread"]["comment_count"], 2);
    assert_eq!(t["comments"][0]["moderator"], false);
    assert_eq!(t["comments"][1]["moderator"], true);

    // A top-level comment in the thread, by its id.
    let threads = admin.get("/api/v1/admin/threads?site=moderated").await;
    let thread_id = threads["threads"][0]["id"].as_i64().unwrap();
    let v = admin
        .post(
            &format!("/api/v1/admin/threads/{thread_id}/comments"),
            json!({"body": "Thanks, all."}),
        )
        .await;
    assert_eq!(v["comment"]["parent_id"], Value::Null);
    assert_eq!(v["comment"]["moderator"], true);
    let t = app.thread("moderated", "/q/", "").await;
    assert_eq!(t["thread"]["comment_count"], 3);

    let audit = admin.get("/api/v1/admin/audit").await;
    let replies: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reply")
        .collect();
    assert_eq!(replies.len(), 2, "{audit}");
    assert!(replies.iter().all(|e| e["moderator"] == "mod"));
    assert!(replies.iter().any(|e| e["comment_id"] == reply["id"]));

    // Without the CSRF token, or without a session: refused, nothing stored.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/admin/comments/{}/reply", id(&c))))
        .header("cookie", &admin.cookie)
        .json(&json!({"body": "forged"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "csrf_token_invalid").await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/admin/threads/{thread_id}/comments")))
        .json(&json!({"body": "forged"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "not_logged_in").await;
    let r = admin
        .post_raw(
            "/api/v1/admin/threads/999999/comments",
            json!({"body": "x"}),
        )
        .await;
    expect_error(r, 404, "thread_not_found").await;
    assert_eq!(app.db.count("comments"), 3);
}

async fn moderators_may_post_into_a_locked_thread(app: TestApp) {
    let (c, _) = app.comment("open", "/l/", json!({"body": "first"})).await;
    let admin = app.admin().await;
    let threads = admin.get("/api/v1/admin/threads?site=open").await;
    let thread_id = threads["threads"][0]["id"].as_i64().unwrap();
    admin
        .post(
            &format!("/api/v1/admin/threads/{thread_id}/lock"),
            json!({}),
        )
        .await;
    let r = app
        .post_comment("open", "/l/", json!({"body": "late"}))
        .await;
    expect_error(r, 409, "thread_locked").await;
    let v = admin
        .post(
            &format!("/api/v1/admin/comments/{}/reply", id(&c)),
            json!({"body": "Closing this thread."}),
        )
        .await;
    assert_eq!(v["comment"]["moderator"], true);
    let t = app.thread("open", "/l/", "").await;
    assert_eq!(t["thread"]["locked"], true);
    assert_eq!(t["thread"]["comment_count"], 2);
}

async fn bans_refuse_or_hold_new_comments(app: TestApp) {
    let admin = app.admin().await;
    admin
        .post(
            "/api/v1/admin/bans",
            json!({"kind": "email", "value": "Troll@Example.com", "action": "refuse"}),
        )
        .await;
    let r = app
        .post_from(
            "203.0.113.5",
            "open",
            "/b/",
            json!({"body": "hello", "email": "troll@EXAMPLE.com"}),
        )
        .await;
    let e = expect_error(r, 403, "banned").await;
    let msg = e["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(!msg.contains("email") && !msg.contains("troll"), "{msg}");
    assert_eq!(app.db.count("comments"), 0);
    assert_eq!(app.db.count("threads"), 0);

    // Held by address: on a site that publishes at once, it waits.
    let (c, _) = post_comment_ok(&app, "198.51.100.7", json!({"body": "one"})).await;
    assert_eq!(c["status"], "approved");
    admin
        .post(
            "/api/v1/admin/bans",
            json!({"kind": "ip", "comment_id": c["id"], "action": "hold"}),
        )
        .await;
    let (held, _) = post_comment_ok(&app, "198.51.100.7", json!({"body": "two"})).await;
    assert_eq!(held["status"], "pending");
    let (other, _) = post_comment_ok(&app, "198.51.100.8", json!({"body": "three"})).await;
    assert_eq!(other["status"], "approved");
    let t = app.thread("open", "/b/", "").await;
    assert_eq!(common::ids(&t), [id(&c), id(&other)]);
    assert_eq!(t["thread"]["comment_count"], 2);

    // Held by email, even where the address is known to first-time moderation.
    let (known, tok) = by(&app, "firsttime", "/h/", "regular@example.com").await;
    admin.act(id(&known), "approve").await;
    let mine = (&known, tok.as_str());
    let (again, _) = proven(&app, "firsttime", "/h/", "Regular@Example.com", mine).await;
    assert_eq!(again["status"], "approved");
    admin
        .post(
            "/api/v1/admin/bans",
            json!({"kind": "email", "value": "regular@example.com", "action": "hold",
                   "site": "firsttime"}),
        )
        .await;
    let (held, _) = proven(&app, "firsttime", "/h/", "REGULAR@example.com", mine).await;
    assert_eq!(held["status"], "pending");
    let t = app.thread("firsttime", "/h/", "").await;
    assert_eq!(t["thread"]["comment_count"], 2);

    // A ban on another site does not reach this one.
    admin
        .post(
            "/api/v1/admin/bans",
            json!({"kind": "email", "value": "elsewhere@example.com", "site": "blog"}),
        )
        .await;
    let (c, _) = post_comment_ok(
        &app,
        "198.51.100.9",
        json!({"body": "ok", "email": "elsewhere@example.com"}),
    )
    .await;
    assert_eq!(c["status"], "approved");
}

async fn post_comment_ok(app: &TestApp, ip: &str, body: Value) -> (Value, String) {
    let r = app.post_from(ip, "open", "/b/", body).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    (v["comment"].clone(), v["edit_token"].to_string())
}

async fn an_absolute_slug_is_its_path_on_the_site_and_refused_off_it(app: TestApp) {
    let r =
        app.client
            .post(app.url(
                "/api/v1/comments?site=blog&slug=https%3A%2F%2Fblog.example%2Fpost%2F%3Fref%3Dx",
            ))
            .header("origin", "https://blog.example")
            .json(&json!({"body": "Hello"}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
    // Stored under its path: the same thread by either name.
    let by_path = app.thread("blog", "/post/", "").await;
    assert_eq!(by_path["thread"]["slug"], "/post/");
    assert_eq!(common::ids(&by_path).len(), 1);
    let by_url = app.thread("blog", "https://blog.example/post/", "").await;
    assert_eq!(common::ids(&by_url), common::ids(&by_path));
    let counts: Value = app
        .get("/api/v1/counts?site=blog&slug=https%3A%2F%2Fblog.example%2Fpost%2F&slug=%2Fpost%2F")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        counts["counts"]["https://blog.example/post/"], 1,
        "{counts}"
    );
    assert_eq!(counts["counts"]["/post/"], 1, "{counts}");
    // Off the site: 422 and nothing stored.
    let before = app.db.count("comments");
    let r = app
        .client
        .post(app.url("/api/v1/comments?site=blog&slug=https%3A%2F%2Fevil.example%2Fpost%2F"))
        .header("origin", "https://blog.example")
        .json(&json!({"body": "Hello"}))
        .send()
        .await
        .unwrap();
    let v = expect_error(r, 422, "slug_not_on_site").await;
    assert_eq!(v["error"]["field"], "slug");
    let r = app
        .get("/api/v1/counts?site=blog&slug=https%3A%2F%2Fevil.example%2F")
        .await;
    expect_error(r, 422, "slug_not_on_site").await;
    assert_eq!(app.db.count("comments"), before);
}
