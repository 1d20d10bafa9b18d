//! Moderation through the admin API: sessions, CSRF, the queue and every action, with
//! caches and counts right at once, on SQLite and PostgreSQL.

use crate::common;

use std::time::{Duration, Instant};

use common::{expect_error, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    approving_a_pending_comment_publishes_it_at_once,
    login_sets_a_strict_http_only_cookie_and_never_says_which_part_was_wrong,
    logout_and_password_change_end_sessions_on_the_server,
    state_changes_need_the_csrf_token_and_our_own_origin,
    failed_logins_are_limited_per_account_and_address,
    logins_cannot_be_raced_or_turned_against_the_owner,
    every_admin_answer_carries_the_security_headers,
    actions_keep_counts_and_cached_threads_right,
    purge_erases_and_keeps_the_shape_of_the_thread,
    bulk_actions_report_each_comment,
    locked_threads_take_no_comments,
    thread_title_and_url_are_the_moderators,
    bans_are_listed_and_lifted,
    the_audit_log_says_who_did_what,
    comments_filter_search_and_page,
    a_bulk_action_that_fails_halfway_changes_nothing,
    a_refused_comment_keeps_its_replies_in_place,
    addresses_stored_in_clear_by_older_versions_are_hashed_at_start,
    old_ip_hashes_and_user_agents_are_dropped,
);

fn id(c: &Value) -> i64 {
    c["id"].as_i64().unwrap()
}

async fn approving_a_pending_comment_publishes_it_at_once(app: TestApp) {
    let (c, _) = app
        .comment("moderated", "/p/", json!({"body": "hold me"}))
        .await;
    assert_eq!(c["status"], "pending");
    // Read (and cache) the thread while the comment waits.
    let before = app.thread("moderated", "/p/", "").await;
    assert_eq!(before["comments"].as_array().unwrap().len(), 0);
    let admin = app.admin().await;
    let queue = admin.get("/api/v1/admin/comments?status=pending").await;
    let first = &queue["comments"][0];
    assert_eq!(first["id"], c["id"]);
    assert_eq!(first["site"], "moderated");
    assert_eq!(first["slug"], "/p/");
    assert_eq!(first["body"], "hold me");
    assert!(first["ip_hash"].as_str().is_some_and(|h| h.len() == 24));
    assert_ne!(first["ip_hash"], "127.0.0.1");
    let acted = admin.act(id(&c), "approve").await;
    assert_eq!(acted["status"], "approved");
    let after = app.thread("moderated", "/p/", "").await;
    assert_eq!(common::ids(&after), vec![id(&c)]);
    assert_eq!(after["thread"]["comment_count"], 1);
    let counts: Value = app
        .get("/api/v1/counts?site=moderated&slug=/p/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(counts["counts"]["/p/"], 1);
    assert!(
        admin.get("/api/v1/admin/comments?status=pending").await["comments"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

fn set_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .next()
        .expect("set-cookie")
}

async fn login_sets_a_strict_http_only_cookie_and_never_says_which_part_was_wrong(app: TestApp) {
    common::admin::create_account(&app, "ann", "Ann", common::admin::PASSWORD);
    let r = app.login_raw("ann", common::admin::PASSWORD).await;
    assert_eq!(r.status(), 200);
    let cookie = set_cookie(&r);
    assert!(cookie.starts_with("afterword_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    // Served over plain HTTP here (no https public_url): no Secure, no __Host- prefix.
    assert!(!cookie.contains("Secure"));
    let token = cookie.split(';').next().unwrap().split('=').nth(1).unwrap();
    assert!(token.len() >= 22, "a 128-bit token at least");
    // Only a keyed hash of the token is stored.
    let stored = app.db.number(&format!(
        "SELECT COUNT(*) AS n FROM admin_sessions WHERE token_hash = '{token}'"
    ));
    assert_eq!(stored, 0);
    assert_eq!(app.db.count("admin_sessions"), 1);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["username"], "ann");
    assert_eq!(v["display_name"], "Ann");
    assert!(v["csrf_token"].as_str().unwrap().len() >= 22);

    // An unknown user costs a full password check too. Interleaved, so that load on the
    // machine weighs on both alike, and loose: without the decoy hash an unknown user
    // would answer some 20 times faster.
    let mut known = Duration::MAX;
    let mut unknown = Duration::MAX;
    // Three rounds: six failures, below the limit of ten per address.
    for _ in 0..3 {
        for (user, best) in [("ann", &mut known), ("nobody", &mut unknown)] {
            let t = Instant::now();
            let _ = app.login_raw(user, "wrong password").await;
            *best = (*best).min(t.elapsed());
        }
    }
    assert!(
        unknown * 5 >= known,
        "unknown user {unknown:?} vs known user {known:?}"
    );

    // Wrong password, unknown user, invalid name: one answer for all.
    let mut bodies = Vec::new();
    for (user, pass) in [
        ("ann", "wrong password"),
        ("nobody", common::admin::PASSWORD),
        ("not a name!", "x"),
    ] {
        let r = app.login_raw(user, pass).await;
        assert!(set_cookie_absent(&r));
        let mut v = expect_error(r, 401, "invalid_credentials").await;
        // Each answer names its own request (for the log); the rest must not differ.
        assert!(v["error"]["request_id"].is_string(), "{v}");
        v["error"].as_object_mut().unwrap().remove("request_id");
        bodies.push(v);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    // The username is case-insensitive.
    assert_eq!(
        app.login_raw("ANN", common::admin::PASSWORD).await.status(),
        200
    );
    // A password over 1 KiB is refused before hashing.
    let r = app.login_raw("ann", &"x".repeat(1025)).await;
    expect_error(r, 422, "password_too_long").await;
}

fn set_cookie_absent(r: &reqwest::Response) -> bool {
    r.headers().get("set-cookie").is_none()
}

async fn whoami(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/admin/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn logout_and_password_change_end_sessions_on_the_server(app: TestApp) {
    let admin = app.admin().await;
    let other = app.login("mod", common::admin::PASSWORD).await;
    assert_eq!(whoami(&app, &admin.cookie).await, 200);
    let me = admin.get("/api/v1/admin/session").await;
    assert_eq!(me["username"], "mod");
    assert_eq!(me["csrf_token"], admin.csrf.as_str());

    // Logout: the cookie is cleared and, kept anyway, no longer works.
    let r = admin
        .request(Method::POST, "/api/v1/admin/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(set_cookie(&r).contains("afterword_session=;"));
    assert_eq!(whoami(&app, &admin.cookie).await, 401);
    let r = admin
        .request(Method::POST, "/api/v1/admin/comments/1/approve")
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "not_logged_in").await;
    // The other session is still alive.
    assert_eq!(whoami(&app, &other.cookie).await, 200);

    // A wrong current password changes nothing.
    let r = other
        .post_raw(
            "/api/v1/admin/password",
            json!({"current_password": "nope nope", "new_password": "a new long password"}),
        )
        .await;
    expect_error(r, 401, "invalid_credentials").await;
    let r = other
        .post_raw(
            "/api/v1/admin/password",
            json!({"current_password": common::admin::PASSWORD, "new_password": "short"}),
        )
        .await;
    expect_error(r, 422, "password_too_short").await;
    let third = app.login("mod", common::admin::PASSWORD).await;

    // Changing the password ends every session; the answer carries a fresh one.
    let r = other
        .post_raw(
            "/api/v1/admin/password",
            json!({"current_password": common::admin::PASSWORD, "new_password": "a new long password"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let fresh = set_cookie(&r).split(';').next().unwrap().to_owned();
    assert_eq!(whoami(&app, &other.cookie).await, 401);
    assert_eq!(whoami(&app, &third.cookie).await, 401);
    assert_eq!(whoami(&app, &fresh).await, 200);
    assert_eq!(
        app.login_raw("mod", common::admin::PASSWORD).await.status(),
        401
    );
    assert_eq!(
        app.login_raw("mod", "a new long password").await.status(),
        200
    );

    // Expired sessions are dead even if the cookie is kept: idle for over 12 hours.
    let later = app.login("mod", "a new long password").await;
    app.db
        .exec("UPDATE admin_sessions SET last_seen_at = last_seen_at - 46800000000");
    assert_eq!(whoami(&app, &later.cookie).await, 401);
}

async fn state_changes_need_the_csrf_token_and_our_own_origin(app: TestApp) {
    let (c, _) = app
        .comment("moderated", "/csrf/", json!({"body": "pending"}))
        .await;
    let admin = app.admin().await;
    let path = format!("/api/v1/admin/comments/{}/approve", id(&c));
    // No token.
    let r = app
        .client
        .post(app.url(&path))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "csrf_token_invalid").await;
    // A wrong one.
    let r = app
        .client
        .post(app.url(&path))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", "x".repeat(32))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "csrf_token_invalid").await;
    // Another session's token is no good either.
    let other = app.login("mod", common::admin::PASSWORD).await;
    let r = app
        .client
        .post(app.url(&path))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &other.csrf)
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "csrf_token_invalid").await;
    // The right token from a foreign page.
    let r = admin
        .request(Method::POST, &path)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "origin_refused").await;
    let r = admin
        .request(Method::POST, &path)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "origin_refused").await;
    // A login from a foreign page is refused too.
    let r = app
        .client
        .post(app.url("/api/v1/admin/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "mod", "password": common::admin::PASSWORD}))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "origin_refused").await;
    // GET never changes anything.
    let r = admin.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(r.status(), 405);
    // Nothing of the above was applied.
    let v = admin
        .get(&format!("/api/v1/admin/comments/{}", id(&c)))
        .await;
    assert_eq!(v["comment"]["status"], "pending");
    assert_eq!(app.db.count("audit_log"), 0);
    // Our own origin (the Host the browser used) passes.
    let r = admin
        .request(Method::POST, &path)
        .header("origin", app.base.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without a session nothing is readable either.
    let r = app.get("/api/v1/admin/comments").await;
    expect_error(r, 401, "not_logged_in").await;
}

/// A login from `ip` (the test client is a trusted proxy).
async fn login_from(app: &TestApp, ip: &str, user: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/admin/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn failed_logins_are_limited_per_account_and_address(app: TestApp) {
    common::admin::create_account(&app, "ann", "Ann", common::admin::PASSWORD);
    for _ in 0..10 {
        let r = app.login_raw("ann", "wrong password").await;
        assert_eq!(r.status(), 401);
    }
    // Now even the right password waits, from this address.
    let r = app.login_raw("ann", common::admin::PASSWORD).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((850..=900).contains(&retry), "{retry}");
    expect_error(r, 429, "rate_limited").await;
    // The address is limited for other accounts too.
    let r = app.login_raw("someone", "whatever1").await;
    expect_error(r, 429, "rate_limited").await;
}

/// 60 wrong guesses at once from one address: at most 10 reach the password check, the
/// rest wait. The stranger's guesses do not lock the moderator out from their own
/// address; an IPv6 address counts with its whole /64.
async fn logins_cannot_be_raced_or_turned_against_the_owner(app: TestApp) {
    common::admin::create_account(&app, "ann", "Ann", common::admin::PASSWORD);
    let guesses = (0..60).map(|i| {
        let app = &app;
        async move {
            login_from(app, "203.0.113.9", "ann", &format!("guess {i}"))
                .await
                .status()
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|s| s.as_u16() == 401).count();
    let waited = answers.iter().filter(|s| s.as_u16() == 429).count();
    assert!(
        checked <= 10,
        "{checked} guesses reached the password check"
    );
    assert_eq!(checked + waited, 60, "{answers:?}");
    // The right password from the attacker's address waits; from the owner's, it works.
    let r = login_from(&app, "203.0.113.9", "ann", common::admin::PASSWORD).await;
    expect_error(r, 429, "rate_limited").await;
    let r = login_from(&app, "198.51.100.20", "ann", common::admin::PASSWORD).await;
    assert_eq!(r.status(), 200);

    // IPv6: ten failures anywhere in 2001:db8:5:6::/64 lock all of it, not the next /64.
    for i in 1..=10 {
        let r = login_from(
            &app,
            &format!("2001:db8:5:6::{i:x}"),
            "bob",
            "wrong password",
        )
        .await;
        assert_eq!(r.status(), 401);
    }
    let r = login_from(&app, "2001:db8:5:6:abcd::1", "ann", common::admin::PASSWORD).await;
    expect_error(r, 429, "rate_limited").await;
    let r = login_from(&app, "2001:db8:5:7::1", "ann", common::admin::PASSWORD).await;
    assert_eq!(r.status(), 200);
}

async fn every_admin_answer_carries_the_security_headers(app: TestApp) {
    let admin = app.admin().await;
    let ok = admin
        .request(Method::GET, "/api/v1/admin/sites")
        .send()
        .await
        .unwrap();
    let unauthorized = app.get("/api/v1/admin/comments").await;
    let missing = app.get("/api/v1/admin/nothing-here").await;
    for r in [ok, unauthorized, missing] {
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store");
        // No CORS on the admin side.
        assert!(h.get("access-control-allow-origin").is_none());
    }
    let sites = admin.get("/api/v1/admin/sites").await;
    let ids: Vec<&str> = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"moderated") && ids.contains(&"blog"),
        "{ids:?}"
    );
}

/// The thread's visible comment ids and its count, as the public reads them now.
async fn public(app: &TestApp, site: &str, slug: &str) -> (Vec<i64>, i64) {
    let v = app.thread(site, slug, "").await;
    (
        common::ids(&v),
        v["thread"]["comment_count"].as_i64().unwrap(),
    )
}

async fn actions_keep_counts_and_cached_threads_right(app: TestApp) {
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (c, _) = app
            .comment("open", "/acts/", json!({"body": format!("comment {n}")}))
            .await;
        ids.push(id(&c));
    }
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    assert_eq!(public(&app, "open", "/acts/").await, (vec![a, b, c], 3));
    // Each action is seen by the very next read (the cached page is dropped at commit).
    assert_eq!(admin.act(b, "spam").await["status"], "spam");
    assert_eq!(public(&app, "open", "/acts/").await, (vec![a, c], 2));
    assert_eq!(admin.act(b, "restore").await["status"], "approved");
    assert_eq!(public(&app, "open", "/acts/").await, (vec![a, b, c], 3));
    assert_eq!(admin.act(c, "delete").await["status"], "deleted");
    assert_eq!(public(&app, "open", "/acts/").await, (vec![a, b], 2));
    // Deleting twice changes nothing more.
    assert_eq!(admin.act(c, "delete").await["status"], "deleted");
    assert_eq!(public(&app, "open", "/acts/").await, (vec![a, b], 2));
    // A moderator's delete keeps the text, so it can be restored.
    assert_eq!(admin.act(c, "restore").await["status"], "approved");
    assert_eq!(public(&app, "open", "/acts/").await, (vec![a, b, c], 3));
    // Approving what is approved is harmless.
    assert_eq!(admin.act(a, "approve").await["status"], "approved");
    assert_eq!(public(&app, "open", "/acts/").await.1, 3);
    let counts: Value = app
        .get("/api/v1/counts?site=open&slug=/acts/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(counts["counts"]["/acts/"], 3);

    // A comment deleted by its author was scrubbed: nothing to restore.
    let (mine, token) = app
        .comment("open", "/acts/", json!({"body": "my own", "author": "Me"}))
        .await;
    let r = app
        .remove(app.url(&format!("/api/v1/comments/{}", id(&mine))), &token)
        .await;
    assert_eq!(r.status(), 204);
    let r = admin
        .post_raw(
            &format!("/api/v1/admin/comments/{}/restore", id(&mine)),
            json!({}),
        )
        .await;
    expect_error(r, 409, "comment_erased").await;
    let r = admin
        .post_raw("/api/v1/admin/comments/999999/approve", json!({}))
        .await;
    expect_error(r, 404, "comment_not_found").await;
    let r = admin
        .post_raw(&format!("/api/v1/admin/comments/{a}/publish"), json!({}))
        .await;
    expect_error(r, 404, "unknown_action").await;

    // A moderator's edit: re-rendered, marked edited, the cache dropped.
    let r = admin
        .patch(
            &format!("/api/v1/admin/comments/{a}"),
            json!({"body": "*fixed* <script>x</script>"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["comment"]["body"], "*fixed* <script>x</script>");
    let page = app.thread("open", "/acts/", "").await;
    let first = &page["comments"][0];
    // Raw HTML stays inert text.
    assert_eq!(
        first["html"],
        "<p><em>fixed</em> &lt;script&gt;x&lt;/script&gt;</p>\n"
    );
    assert!(first["edited_at"].is_string());
    let r = admin
        .patch(
            &format!("/api/v1/admin/comments/{a}"),
            json!({"body": "  "}),
        )
        .await;
    assert_eq!(r.status(), 422);
}

async fn purge_erases_and_keeps_the_shape_of_the_thread(app: TestApp) {
    let admin = app.admin().await;
    let (parent, _) = app
        .comment(
            "open",
            "/purge/",
            json!({"body": "erase me", "author": "Eve", "email": "eve@example.com"}),
        )
        .await;
    let (reply, _) = app
        .comment(
            "open",
            "/purge/",
            json!({"body": "a reply", "parent_id": id(&parent)}),
        )
        .await;
    let (lone, _) = app
        .comment(
            "open",
            "/purge/",
            json!({"body": "alone", "email": "eve@example.com"}),
        )
        .await;
    assert_eq!(public(&app, "open", "/purge/").await.1, 3);
    // With a reply: an empty placeholder stays.
    assert_eq!(admin.act(id(&parent), "purge").await["status"], "deleted");
    let page = app.thread("open", "/purge/", "").await;
    assert_eq!(common::ids(&page), vec![id(&parent), id(&reply), id(&lone)]);
    assert_eq!(page["comments"][0]["status"], "deleted");
    assert_eq!(page["comments"][0]["html"], "");
    assert_eq!(page["thread"]["comment_count"], 2);
    let v = admin
        .get(&format!("/api/v1/admin/comments/{}", id(&parent)))
        .await;
    assert_eq!(v["comment"]["body"], "");
    assert!(v["comment"]["email"].is_null() && v["comment"]["author"].is_null());
    assert!(v["comment"]["ip_hash"].is_null());
    assert_eq!(v["comment"]["deleted_by"], "erased");
    let r = admin
        .post_raw(
            &format!("/api/v1/admin/comments/{}/restore", id(&parent)),
            json!({}),
        )
        .await;
    expect_error(r, 409, "comment_erased").await;
    // Without replies: the row is gone, with its reactions and their counters.
    let r = app
        .client
        .post(app.url("/api/v1/reactions?site=open&slug=%2Fpurge%2F"))
        .json(
            &json!({"kind": "👍", "comment_id": id(&lone), "visitor": "visitor-1", "active": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let counters = |app: &TestApp| {
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM reaction_counts WHERE comment_key = {}",
            id(&lone)
        ))
    };
    assert_eq!(counters(&app), 1);
    let acted = admin.act(id(&lone), "purge").await;
    assert_eq!(counters(&app), 0);
    assert_eq!(app.db.count("reactions"), 0);
    assert!(acted["status"].is_null());
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {}",
            id(&lone)
        )),
        0
    );
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM comments WHERE email = 'eve@example.com'"),
        0
    );
    assert_eq!(
        public(&app, "open", "/purge/").await,
        (vec![id(&parent), id(&reply)], 1)
    );
}

async fn bulk_actions_report_each_comment(app: TestApp) {
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let (c, _) = app
            .comment("moderated", "/bulk/", json!({"body": format!("c{n}")}))
            .await;
        ids.push(id(&c));
    }
    let r = admin
        .post(
            "/api/v1/admin/comments/bulk",
            json!({"action": "approve", "ids": [ids[2], ids[0], 999999, ids[1], ids[0]]}),
        )
        .await;
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{r}");
    let unknown = results.iter().find(|x| x["id"] == 999999).unwrap();
    assert_eq!(unknown["error"], "comment_not_found");
    assert_eq!(
        results.iter().filter(|x| x["status"] == "approved").count(),
        3
    );
    assert_eq!(
        public(&app, "moderated", "/bulk/").await,
        (ids[..3].to_vec(), 3)
    );
    let r = admin
        .post(
            "/api/v1/admin/comments/bulk",
            json!({"action": "spam", "ids": ids}),
        )
        .await;
    assert!(r["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["status"] == "spam"));
    assert_eq!(public(&app, "moderated", "/bulk/").await, (vec![], 0));
    for (body, code) in [
        (json!({"action": "approve", "ids": []}), 422),
        (
            json!({"action": "approve", "ids": (1..=501).collect::<Vec<i64>>()}),
            422,
        ),
        (json!({"action": "approve", "ids": [0]}), 422),
        (json!({"action": "publish", "ids": [1]}), 422),
    ] {
        let r = admin.post_raw("/api/v1/admin/comments/bulk", body).await;
        assert_eq!(r.status().as_u16(), code);
    }
}

async fn thread_id(admin: &common::admin::Admin<'_>, site: &str, slug: &str) -> i64 {
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

async fn locked_threads_take_no_comments(app: TestApp) {
    let admin = app.admin().await;
    app.comment("open", "/lock/", json!({"body": "first"}))
        .await;
    let t = thread_id(&admin, "open", "/lock/").await;
    let v = admin
        .post(&format!("/api/v1/admin/threads/{t}/lock"), json!({}))
        .await;
    assert_eq!(v["thread"]["locked"], true);
    assert_eq!(v["thread"]["approved"], 1);
    assert_eq!(
        app.thread("open", "/lock/", "").await["thread"]["locked"],
        true
    );
    let r = app
        .post_comment("open", "/lock/", json!({"body": "too late"}))
        .await;
    expect_error(r, 409, "thread_locked").await;
    assert_eq!(app.db.count("comments"), 1);
    let v = admin
        .post(&format!("/api/v1/admin/threads/{t}/unlock"), json!({}))
        .await;
    assert_eq!(v["thread"]["locked"], false);
    assert_eq!(
        app.post_comment("open", "/lock/", json!({"body": "again"}))
            .await
            .status(),
        201
    );
    let r = admin
        .post_raw("/api/v1/admin/threads/999999/lock", json!({}))
        .await;
    expect_error(r, 404, "thread_not_found").await;
}

async fn thread_title_and_url_are_the_moderators(app: TestApp) {
    let admin = app.admin().await;
    app.comment("blog", "/post/", json!({"body": "hi"})).await;
    let t = thread_id(&admin, "blog", "/post/").await;
    let path = format!("/api/v1/admin/threads/{t}");
    let r = admin
        .patch(
            &path,
            json!({"title": "Mine", "url": "https://evil.example/post/"}),
        )
        .await;
    expect_error(r, 422, "url_not_on_site").await;
    let r = admin
        .patch(
            &path,
            json!({"title": "My post", "url": "https://blog.example/post/"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["thread"]["link"], "https://blog.example/post/");
    let page = app.thread("blog", "/post/", "").await;
    assert_eq!(page["thread"]["title"], "My post");
    assert_eq!(page["thread"]["url"], "https://blog.example/post/");
    // The link to a comment in place.
    let list = admin.get("/api/v1/admin/comments?site=blog").await;
    let c = &list["comments"][0];
    assert_eq!(
        c["link"],
        format!("https://blog.example/post/#afterword-comment-{}", c["id"])
    );
    assert_eq!(c["thread_title"], "My post");
}

async fn bans_are_listed_and_lifted(app: TestApp) {
    let admin = app.admin().await;
    let (c, _) = app
        .comment(
            "open",
            "/ban/",
            json!({"body": "spam", "email": "Spam@Example.com"}),
        )
        .await;
    let r = admin
        .post_raw(
            "/api/v1/admin/bans",
            json!({"kind": "email", "comment_id": id(&c), "reason": "spammer"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ban: Value = r.json().await.unwrap();
    assert_eq!(ban["ban"]["value"], "spam@example.com");
    assert_eq!(ban["ban"]["action"], "refuse");
    assert!(ban["ban"]["site"].is_null());
    let r = admin
        .post_raw(
            "/api/v1/admin/bans",
            json!({"kind": "ip", "comment_id": id(&c), "site": "open", "action": "hold", "days": 7}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ipban: Value = r.json().await.unwrap();
    let hash = ipban["ban"]["value"].as_str().unwrap();
    assert_eq!(hash.len(), 24);
    assert!(!hash.contains("127.0.0.1"));
    assert!(ipban["ban"]["expires_at"].is_string());
    // The same hash the comment list shows.
    let list = admin.get("/api/v1/admin/comments?site=open").await;
    assert_eq!(list["comments"][0]["ip_hash"], hash);
    let r = admin
        .post_raw(
            "/api/v1/admin/bans",
            json!({"kind": "email", "value": "spam@example.com"}),
        )
        .await;
    expect_error(r, 409, "already_banned").await;
    for (body, field) in [
        (json!({"kind": "email", "value": "not an email"}), "value"),
        (json!({"kind": "ip", "value": "127.0.0.1"}), "value"),
        (json!({"kind": "phone", "value": "x"}), "kind"),
        (json!({"kind": "email"}), "value"),
        (
            json!({"kind": "email", "value": "a@b.example", "site": "nosuch"}),
            "site",
        ),
        (
            json!({"kind": "email", "value": "a@b.example", "action": "shoot"}),
            "action",
        ),
    ] {
        let r = admin.post_raw("/api/v1/admin/bans", body.clone()).await;
        assert_eq!(r.status(), 422, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{body}");
    }
    let bans = admin.get("/api/v1/admin/bans").await;
    assert_eq!(bans["bans"].as_array().unwrap().len(), 2);
    let r = admin
        .request(
            Method::DELETE,
            &format!("/api/v1/admin/bans/{}", ban["ban"]["id"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = admin
        .request(
            Method::DELETE,
            &format!("/api/v1/admin/bans/{}", ban["ban"]["id"]),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "ban_not_found").await;
    assert_eq!(
        admin.get("/api/v1/admin/bans").await["bans"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn the_audit_log_says_who_did_what(app: TestApp) {
    let ann = app.admin_as("ann", "Ann").await;
    let bob = app.admin_as("bob", "Bob").await;
    let (c, _) = app
        .comment("moderated", "/audit/", json!({"body": "x"}))
        .await;
    ann.act(id(&c), "approve").await;
    bob.act(id(&c), "spam").await;
    let t = thread_id(&ann, "moderated", "/audit/").await;
    ann.post(&format!("/api/v1/admin/threads/{t}/lock"), json!({}))
        .await;
    let log = bob.get("/api/v1/admin/audit").await;
    let entries = log["entries"].as_array().unwrap();
    let summary: Vec<(String, String, Option<i64>)> = entries
        .iter()
        .map(|e| {
            (
                e["moderator"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["comment_id"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("ann".into(), "lock".into(), None),
            ("bob".into(), "spam".into(), Some(id(&c))),
            ("ann".into(), "approve".into(), Some(id(&c))),
        ]
    );
    assert_eq!(entries[1]["detail"], "approved → spam");
    assert_eq!(entries[0]["thread_id"], t);
    assert!(entries[0]["at"].as_str().unwrap().ends_with('Z'));
}

async fn comments_filter_search_and_page(app: TestApp) {
    let admin = app.admin().await;
    for n in 0..55 {
        app.comment("open", "/many/", json!({"body": format!("number {n}")}))
            .await;
    }
    app.comment(
        "open",
        "/other/",
        json!({"body": "Needle in 100% haystack", "author": "Finder"}),
    )
    .await;
    app.comment("moderated", "/many/", json!({"body": "pending one"}))
        .await;
    let first = admin
        .get("/api/v1/admin/comments?site=open&slug=/many/")
        .await;
    let page1 = first["comments"].as_array().unwrap();
    assert_eq!(page1.len(), 50);
    let next = first["next"].as_i64().unwrap();
    let second = admin
        .get(&format!(
            "/api/v1/admin/comments?site=open&slug=/many/&before={next}"
        ))
        .await;
    assert_eq!(second["comments"].as_array().unwrap().len(), 5);
    assert!(second["next"].is_null());
    // Newest first, no overlap.
    let all: Vec<i64> = page1
        .iter()
        .chain(second["comments"].as_array().unwrap())
        .map(id)
        .collect();
    assert!(all.windows(2).all(|w| w[0] > w[1]));
    let found = admin.get("/api/v1/admin/comments?q=NEEDLE").await;
    assert_eq!(found["comments"].as_array().unwrap().len(), 1);
    assert_eq!(found["comments"][0]["author"], "Finder");
    // LIKE wildcards match only themselves.
    let pct = admin.get("/api/v1/admin/comments?q=100%25").await;
    assert_eq!(pct["comments"].as_array().unwrap().len(), 1);
    let underscore = admin.get("/api/v1/admin/comments?q=_").await;
    assert_eq!(underscore["comments"].as_array().unwrap().len(), 0);
    let by_author = admin.get("/api/v1/admin/comments?q=finder").await;
    assert_eq!(by_author["comments"].as_array().unwrap().len(), 1);
    let pending = admin.get("/api/v1/admin/comments?status=pending").await;
    assert_eq!(pending["comments"].as_array().unwrap().len(), 1);
    assert_eq!(pending["comments"][0]["site"], "moderated");
    for bad in ["status=nope", "before=0", "thread=x", "site=NOT A SITE"] {
        let r = admin
            .request(Method::GET, &format!("/api/v1/admin/comments?{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_moderation_reaches_every_instance() {
    let Some(a) = common::spawn(common::Backend::Postgres).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let b = common::spawn_on(a.db.clone(), common::SITES).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (c, _) = a
        .comment("moderated", "/shared/", json!({"body": "wait"}))
        .await;
    // Instance a caches the thread without it.
    assert_eq!(public(&a, "moderated", "/shared/").await, (vec![], 0));
    let admin = b.admin().await;
    admin.act(id(&c), "approve").await;
    // Instance a hears of it (NOTIFY) and drops its page: bounded wait.
    let mut seen = false;
    for _ in 0..200 {
        if public(&a, "moderated", "/shared/").await == (vec![id(&c)], 1) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "instance a never showed the approved comment");
    // And a session made on b works on a: sessions live in the database.
    let r = a
        .client
        .get(a.url("/api/v1/admin/session"))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A statement that fails in the middle of a bulk action (a trigger refuses one comment's
/// update, as a full disk or a broken constraint would): the answer is a 5xx and nothing of
/// the action is stored: no status, no count, no log entry.
async fn a_bulk_action_that_fails_halfway_changes_nothing(app: TestApp) {
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (c, _) = app
            .comment("moderated", "/halfway/", json!({"body": format!("c{n}")}))
            .await;
        ids.push(id(&c));
    }
    let doomed = ids[1];
    match app.backend() {
        common::Backend::Sqlite => app.db.exec(&format!(
            "CREATE TRIGGER refuse_update BEFORE UPDATE ON comments WHEN NEW.id = {doomed} \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )),
        common::Backend::Postgres => {
            app.db.exec(&format!(
                "CREATE FUNCTION refuse_update() RETURNS trigger AS $$ BEGIN \
                 IF NEW.id = {doomed} THEN RAISE EXCEPTION 'injected failure'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ));
            app.db.exec(
                "CREATE TRIGGER refuse_update BEFORE UPDATE ON comments \
                 FOR EACH ROW EXECUTE FUNCTION refuse_update()",
            );
        }
    }
    let r = admin
        .post_raw(
            "/api/v1/admin/comments/bulk",
            json!({"action": "approve", "ids": ids}),
        )
        .await;
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "internal_error");
    assert!(
        !v.to_string().contains("injected"),
        "5xx bodies are opaque: {v}"
    );
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM comments WHERE status = 'pending'"),
        3
    );
    assert_eq!(app.db.count("audit_log"), 0);
    assert_eq!(public(&app, "moderated", "/halfway/").await, (vec![], 0));
    // The others still go through, one at a time; the writer is fine.
    admin.act(ids[0], "approve").await;
    admin.act(ids[2], "approve").await;
    assert_eq!(
        public(&app, "moderated", "/halfway/").await,
        (vec![ids[0], ids[2]], 2)
    );
}

/// Refusing a comment that has approved replies leaves an empty placeholder (never its text)
/// so the replies stay visible, and the count is what readers see.
async fn a_refused_comment_keeps_its_replies_in_place(app: TestApp) {
    let admin = app.admin().await;
    let (parent, _) = app
        .comment(
            "open",
            "/shape/",
            json!({"body": "secret spam", "author": "Spammer"}),
        )
        .await;
    let (reply, _) = app
        .comment(
            "open",
            "/shape/",
            json!({"body": "a fair reply", "parent_id": id(&parent)}),
        )
        .await;
    admin.act(id(&parent), "spam").await;
    let page = app.thread("open", "/shape/", "").await;
    assert_eq!(common::ids(&page), vec![id(&parent), id(&reply)]);
    let placeholder = &page["comments"][0];
    assert_eq!(placeholder["status"], "deleted");
    assert_eq!(placeholder["html"], "");
    assert!(placeholder["author"].is_null());
    assert!(!page.to_string().contains("secret spam"));
    assert_eq!(page["thread"]["comment_count"], 1);
    admin.act(id(&parent), "restore").await;
    assert_eq!(public(&app, "open", "/shape/").await.1, 2);
}

/// Older versions stored client addresses in clear; the next start replaces them with the
/// keyed hash the admin page shows and bans match.
async fn addresses_stored_in_clear_by_older_versions_are_hashed_at_start(app: TestApp) {
    let (a, _) = app.comment("open", "/old/", json!({"body": "a"})).await;
    let (b, _) = app.comment("open", "/old/", json!({"body": "b"})).await;
    app.db.exec("UPDATE comments SET ip = '198.51.100.7'");
    let later = common::spawn_on(app.db.clone(), common::SITES).await;
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM comments WHERE ip LIKE '%.%' OR ip LIKE '%:%'"),
        0
    );
    let admin = later.admin().await;
    let list = admin.get("/api/v1/admin/comments?site=open").await;
    let hashes: Vec<&str> = list["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ip_hash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes.len(), 2);
    assert_eq!(hashes[0], hashes[1], "one address, one hash");
    assert_eq!(hashes[0].len(), 24);
    // A ban from one of them holds for the other's address.
    let r = admin
        .post_raw(
            "/api/v1/admin/bans",
            json!({"kind": "ip", "comment_id": id(&a)}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ban: Value = r.json().await.unwrap();
    assert_eq!(ban["ban"]["value"], hashes[0]);
    let _ = b;
}

/// `[privacy] client_data_days` (30 by default): older comments lose their IP hash and
/// user agent, newer ones keep them.
async fn old_ip_hashes_and_user_agents_are_dropped(app: TestApp) {
    let (old, _) = app.comment("open", "/aged/", json!({"body": "old"})).await;
    let (new, _) = app.comment("open", "/aged/", json!({"body": "new"})).await;
    // (This test client sends no User-Agent: give both comments one.)
    app.db
        .exec("UPDATE comments SET user_agent = 'Mozilla/5.0 (test)'");
    app.db.exec(&format!(
        "UPDATE comments SET created_at = created_at - 2678400000000 WHERE id = {}",
        id(&old)
    ));
    // The purge runs at start (and hourly): a new instance on the same database.
    let _later = common::spawn_on(app.db.clone(), common::SITES).await;
    let kept = |id: i64| {
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {id} \
             AND ip IS NOT NULL AND user_agent IS NOT NULL"
        ))
    };
    assert_eq!(kept(id(&old)), 0, "31 days old: dropped");
    assert_eq!(kept(id(&new)), 1, "new: kept");
    // The comment itself is untouched.
    assert_eq!(
        app.thread("open", "/aged/", "").await["comments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
