//! Requests at the edge: CORS, bad bodies, counts, limits, concurrency, OpenAPI, several instances.

use crate::common;

use std::collections::BTreeSet;

use common::{enc, expect_error, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    cors_follows_each_sites_origins,
    bad_bodies_get_clear_errors_and_store_nothing,
    counts_answer_every_slug_in_one_request,
    counts_refuse_bad_requests,
    concurrent_posts_all_land,
    comments_posted_at_once_each_get_their_own_answer,
    failed_writes_in_a_busy_moment_leave_no_trace,
    unknown_routes_and_methods_are_json,
    openapi_describes_every_route,
);

async fn cors_follows_each_sites_origins(app: TestApp) {
    let url = app.url("/api/v1/comments?site=blog&slug=%2Fc%2F");
    // Preflight from the site's page.
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://blog.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://blog.example"
    );
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST") && methods.contains("PATCH") && methods.contains("DELETE"));
    assert!(r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase()
        .contains("content-type"));
    // Preflight from elsewhere.
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    expect_error(r, 403, "origin_not_allowed").await;

    // A write from the site's page passes and is readable by it.
    let r = app
        .client
        .post(&url)
        .header("Origin", "https://blog.example")
        .json(&json!({"body": "from the blog"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://blog.example"
    );
    let (token, id) = {
        let v: Value = r.json().await.unwrap();
        (
            v["edit_token"].as_str().unwrap().to_owned(),
            v["comment"]["id"].as_i64().unwrap(),
        )
    };
    // A write from elsewhere is refused and stores nothing.
    let r = app
        .client
        .post(&url)
        .header("Origin", "https://evil.example")
        .json(&json!({"body": "from elsewhere"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    expect_error(r, 403, "origin_not_allowed").await;
    assert_eq!(app.db.count("comments"), 1);
    // The same for edits and deletes, whose site comes from the comment.
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/comments/{id}")))
        .header("Origin", "https://open.example")
        .bearer_auth(&token)
        .json(&json!({"body": "hijack"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "origin_not_allowed").await;
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/comments/{id}")))
        .header("Origin", "https://evil.example")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "origin_not_allowed").await;
    // Reads from elsewhere are answered, without CORS headers, so the browser hides them.
    let r = app
        .client
        .get(&url)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(r
        .headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Origin")));
    let t = app.thread("blog", "/c/", "").await;
    assert_eq!(t["comments"][0]["html"], "<p>from the blog</p>\n");
    // A site open to any origin.
    let r = app
        .client
        .get(app.url("/api/v1/comments?site=open&slug=x"))
        .header("Origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://anywhere.example"
    );
}

async fn bad_bodies_get_clear_errors_and_store_nothing(app: TestApp) {
    let url = app.url("/api/v1/comments?site=open&slug=%2Fbad%2F");
    let post = |body: Vec<u8>, ct: Option<&'static str>| {
        let mut rb = app.client.post(&url).body(body);
        if let Some(ct) = ct {
            rb = rb.header("Content-Type", ct);
        }
        rb.send()
    };
    let json_ct = Some("application/json");
    expect_error(
        post(b"{\"body\": ".to_vec(), json_ct).await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        post(b"".to_vec(), json_ct).await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        post(b"[1,2]".to_vec(), json_ct).await.unwrap(),
        422,
        "invalid_field",
    )
    .await;
    expect_error(
        post(b"{\"body\":\"x\"}".to_vec(), Some("text/plain"))
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        post(b"{\"body\":\"x\"}".to_vec(), None).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        post(
            b"body=x".to_vec(),
            Some("application/x-www-form-urlencoded"),
        )
        .await
        .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        post(b"{\"body\":\"caf\xe9\"}".to_vec(), json_ct)
            .await
            .unwrap(),
        400,
        "invalid_utf8",
    )
    .await;
    expect_error(
        post(b"{\"body\":\"a\x00b\"}".to_vec(), json_ct)
            .await
            .unwrap(),
        400,
        "malformed_json",
    )
    .await;
    let v = expect_error(
        post(br#"{"body":"a\u0000b"}"#.to_vec(), json_ct)
            .await
            .unwrap(),
        422,
        "invalid_characters",
    )
    .await;
    assert_eq!(v["error"]["field"], "body");
    let v = expect_error(
        post(br#"{"body":5}"#.to_vec(), json_ct).await.unwrap(),
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(v["error"]["field"], "body");
    let v = expect_error(
        post(br#"{"body":"x","autor":"typo"}"#.to_vec(), json_ct)
            .await
            .unwrap(),
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(v["error"]["field"], "autor");
    let v = expect_error(
        post(br#"{"author":"x"}"#.to_vec(), json_ct).await.unwrap(),
        422,
        "invalid_field",
    )
    .await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("body"),
        "{v}"
    );
    expect_error(
        post(br#"{"body":"   "}"#.to_vec(), json_ct).await.unwrap(),
        422,
        "empty",
    )
    .await;

    // Over 64 KiB of JSON.
    let big = serde_json::to_vec(&json!({"body": "x".repeat(70_000)})).unwrap();
    expect_error(post(big, json_ct).await.unwrap(), 413, "payload_too_large").await;
    // Under 64 KiB but over the default 10,000-character limit.
    let long = serde_json::to_vec(&json!({"body": "é".repeat(10_001)})).unwrap();
    let v = expect_error(post(long, json_ct).await.unwrap(), 422, "too_long").await;
    assert_eq!(v["error"]["field"], "body");
    let ok = serde_json::to_vec(&json!({"body": "é".repeat(10_000)})).unwrap();
    assert_eq!(post(ok, json_ct).await.unwrap().status(), 201);
    // A site's own limit.
    let r = app
        .post_comment("short", "/x/", json!({"body": "x".repeat(21)}))
        .await;
    expect_error(r, 422, "too_long").await;
    let r = app.post_comment("nope", "/x/", json!({"body": "x"})).await;
    expect_error(r, 404, "unknown_site").await;

    assert_eq!(
        app.db.count("comments"),
        1,
        "only the valid comment was stored"
    );
    assert_eq!(app.db.count("threads"), 1);
}

async fn counts_answer_every_slug_in_one_request(app: TestApp) {
    for (slug, n) in [("/one/", 1), ("/three/", 3)] {
        for i in 0..n {
            app.comment("open", slug, json!({"body": format!("c{i}")}))
                .await;
        }
    }
    let (c, _) = app
        .comment("open", "/three/", json!({"body": "reply"}))
        .await;
    let _ = c;
    app.comment("moderated", "/one/", json!({"body": "pending elsewhere"}))
        .await;
    let r = app
        .get("/api/v1/counts?site=open&slug=%2Fone%2F&slug=%2Fthree%2F&slug=%2Fnone%2F")
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"counts": {"/one/": 1, "/three/": 4, "/none/": 0}})
    );
    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .json(&json!({"site": "open", "slugs": ["/one/", "/three/", "/none/"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), v);
    // Moderated threads count approved comments only.
    let v: Value = app
        .get("/api/v1/counts?site=moderated&slug=%2Fone%2F")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["counts"]["/one/"], 0);
    // 1000 slugs are fine.
    let slugs: Vec<String> = (0..1000)
        .map(|i| format!("/post-{i}/"))
        .chain(["/three/".to_owned()])
        .skip(1)
        .collect();
    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .json(&json!({"site": "open", "slugs": slugs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["counts"].as_object().unwrap().len(), 1000);
    assert_eq!(v["counts"]["/three/"], 4);

    // The same question again is answered from memory, until a thread of the site changes.
    let q = "/api/v1/counts?site=open&slug=%2Fone%2F&slug=%2Fnew%2F";
    for _ in 0..2 {
        let v: Value = app.get(q).await.json().await.unwrap();
        assert_eq!(v, json!({"counts": {"/one/": 1, "/new/": 0}}));
    }
    app.comment("open", "/new/", json!({"body": "fresh"})).await;
    let v: Value = app.get(q).await.json().await.unwrap();
    assert_eq!(v, json!({"counts": {"/one/": 1, "/new/": 1}}));
    let (c, token) = app
        .comment("open", "/one/", json!({"body": "second"}))
        .await;
    let v: Value = app.get(q).await.json().await.unwrap();
    assert_eq!(v["counts"]["/one/"], 2);
    let r = app
        .remove(app.url(&format!("/api/v1/comments/{}", c["id"])), &token)
        .await;
    assert_eq!(r.status(), 204);
    let v: Value = app.get(q).await.json().await.unwrap();
    assert_eq!(v["counts"]["/one/"], 1);

    // The same for a POST (kept under its body's exact text), until a thread changes; the
    // same question written differently gets the same answer.
    let post = |body: &'static str| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.url("/api/v1/counts"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let body = r#"{"site": "open", "slugs": ["/one/", "/later/"]}"#;
    for _ in 0..2 {
        assert_eq!(
            post(body).await,
            json!({"counts": {"/one/": 1, "/later/": 0}})
        );
    }
    app.comment("open", "/later/", json!({"body": "now"})).await;
    let now = json!({"counts": {"/one/": 1, "/later/": 1}});
    assert_eq!(post(body).await, now);
    assert_eq!(
        post(r#"{"slugs":["/one/","/later/"],"site":"open"}"#).await,
        now
    );
    // A kept answer is never given to a request that is refused.
    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
}

async fn counts_refuse_bad_requests(app: TestApp) {
    let slugs: Vec<String> = (0..1001).map(|i| format!("/p{i}/")).collect();
    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .json(&json!({"site": "open", "slugs": slugs}))
        .send()
        .await
        .unwrap();
    let v = expect_error(r, 422, "too_many_slugs").await;
    assert_eq!(v["error"]["field"], "slugs");
    let q: String = (0..1001).map(|i| format!("&slug=%2Fp{i}%2F")).collect();
    expect_error(
        app.get(&format!("/api/v1/counts?site=open{q}")).await,
        422,
        "too_many_slugs",
    )
    .await;
    expect_error(app.get("/api/v1/counts?site=open").await, 422, "required").await;
    expect_error(app.get("/api/v1/counts?slug=x").await, 422, "required").await;
    expect_error(
        app.get("/api/v1/counts?site=nope&slug=x").await,
        404,
        "unknown_site",
    )
    .await;
    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .json(&json!({"site": "open"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "invalid_field").await;
    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .json(&json!({"site": "open", "slugs": [""]}))
        .send()
        .await
        .unwrap();
    let v = expect_error(r, 422, "invalid_slug").await;
    assert_eq!(v["error"]["field"], "slugs");
    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .json(&json!({"site": "open", "slugs": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "invalid_field").await;
}

async fn concurrent_posts_all_land(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let slug = if i % 2 == 0 { "/busy/" } else { "/busy-2/" };
            let r = app
                .post_comment("open", slug, json!({"body": format!("comment {i}")}))
                .await;
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            (status, body)
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let v: Value = app
        .get("/api/v1/counts?site=open&slug=%2Fbusy%2F&slug=%2Fbusy-2%2F")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["counts"]["/busy/"], 32);
    assert_eq!(v["counts"]["/busy-2/"], 32);
    let t = app.thread("open", "/busy/", "&limit=200").await;
    let bodies: BTreeSet<String> = t["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["html"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies.len(), 32);
}

/// Comments posted at once reach the writer together, which runs them in one batch, each
/// in its own savepoint. Whatever was batched, each answer is its own: its comment (id,
/// author, text), its edit token (which edits that comment and no other), its thread's
/// count; a comment refused among them (a reply to a comment that does not exist, a
/// reserved name) is refused alone, with its own error.
async fn comments_posted_at_once_each_get_their_own_answer(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let (parent, _) = app
        .comment("open", "/g-1/", json!({"body": "the parent"}))
        .await;
    let parent_id = parent["id"].as_i64().unwrap();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let slug = format!("/g-{}/", i % 3);
            let mut body =
                json!({"body": format!("comment **{i}**"), "author": format!("Reader {i}")});
            if i % 5 == 1 {
                // Valid on /g-1/ only: elsewhere not a comment of that thread.
                body["parent_id"] = json!(parent_id);
            }
            if i % 16 == 7 {
                body["parent_id"] = json!(999_999_999);
            }
            if i % 16 == 9 {
                body["author"] = json!("The Editor");
            }
            let r = app.post_comment("open", &slug, body).await;
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (i, slug, status, v)
        }));
    }
    let mut stored: Vec<(i64, String, Value, String)> = Vec::new();
    for t in tasks {
        let (i, slug, status, v) = t.await.unwrap();
        // The name is checked before the parent.
        let refused = if i % 16 == 9 {
            Some((422, "reserved_name"))
        } else if i % 16 == 7 || (i % 5 == 1 && slug != "/g-1/") {
            Some((422, "invalid_parent"))
        } else {
            None
        };
        match refused {
            Some((code, what)) => {
                assert_eq!(status, code, "{i}: {v}");
                assert_eq!(v["error"]["code"], what, "{i}: {v}");
            }
            None => {
                assert_eq!(status, 201, "{i}: {v}");
                let c = &v["comment"];
                assert_eq!(c["author"], format!("Reader {i}"), "{i}: {v}");
                assert!(
                    c["html"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("<strong>{i}</strong>")),
                    "{i}: {v}"
                );
                let want_parent = if i % 5 == 1 {
                    json!(parent_id)
                } else {
                    Value::Null
                };
                assert_eq!(c["parent_id"], want_parent, "{i}: {v}");
                let token = v["edit_token"].as_str().unwrap().to_owned();
                stored.push((i, slug, c.clone(), token));
            }
        }
    }
    // Every id is its own, and every token edits its own comment, not its neighbour's.
    let ids: BTreeSet<i64> = stored.iter().map(|s| s.2["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), stored.len());
    // Each from an address of its own: edits are rate limited per address.
    let edit = |url: String, ip: String, token: String, body: Value| {
        let app = app.clone();
        async move {
            app.client
                .patch(url)
                .header("x-forwarded-for", ip)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for (k, (i, _, c, token)) in stored.iter().enumerate() {
        let url = app.url(&format!("/api/v1/comments/{}", c["id"]));
        let ip = format!("10.9.{k}.1");
        let other = stored[(k + 1) % stored.len()].3.clone();
        let r = edit(url.clone(), ip.clone(), other, json!({"body": "not mine"})).await;
        assert_eq!(r, 403, "{i}");
        let r = edit(
            url,
            ip,
            token.clone(),
            json!({"body": format!("edited {i}")}),
        )
        .await;
        assert_eq!(r, 200, "{i}");
    }
    for n in 0..3 {
        let slug = format!("/g-{n}/");
        let mut want: BTreeSet<String> = stored
            .iter()
            .filter(|s| s.1 == slug)
            .map(|s| format!("<p>edited {}</p>", s.0))
            .collect();
        if n == 1 {
            want.insert("<p>the parent</p>".into());
        }
        let t = app.thread("open", &slug, "&limit=200").await;
        let mut got = BTreeSet::new();
        for c in t["comments"].as_array().unwrap() {
            // Replies follow their top-level comment in the same list.
            got.insert(c["html"].as_str().unwrap().trim().to_owned());
        }
        assert_eq!(got, want, "{slug}");
        let v: Value = app
            .get(&format!("/api/v1/counts?site=open&slug={}", enc(&slug)))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["counts"][&slug], want.len(), "{slug}");
    }
}

async fn unknown_routes_and_methods_are_json(app: TestApp) {
    expect_error(app.get("/nope").await, 404, "not_found").await;
    let r = app.get("/api/v1/comments/12").await;
    assert_eq!(r.headers()["allow"], "PATCH, DELETE");
    expect_error(r, 405, "method_not_allowed").await;
    let r = app
        .client
        .put(app.url("/api/v1/comments?site=open&slug=x"))
        .send()
        .await
        .unwrap();
    expect_error(r, 405, "method_not_allowed").await;
    let r = app.remove(app.url("/api/v1/comments/0"), "x").await;
    expect_error(r, 404, "comment_not_found").await;
    let r = app
        .remove(
            app.url(&format!("/api/v1/comments/{}", enc("1 OR 1=1"))),
            "x",
        )
        .await;
    expect_error(r, 404, "comment_not_found").await;
}

async fn openapi_describes_every_route(app: TestApp) {
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    let paths = v["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/comments", &["get", "post"][..]),
        ("/api/v1/comments/{id}", &["patch", "delete"][..]),
        ("/api/v1/comments/mine", &["post"][..]),
        ("/api/v1/comments.html", &["get"][..]),
        ("/api/v1/preview", &["post"][..]),
        ("/api/v1/comments/form", &["get", "post"][..]),
        ("/embed.css", &["get", "head"][..]),
        ("/embed-write.js", &["get", "head"][..]),
        ("/embed-elsewhere.js", &["get", "head"][..]),
        ("/embed-refusals.js", &["get", "head"][..]),
        ("/api/v1/subscriptions", &["post"][..]),
        ("/embed.js", &["get", "head"][..]),
        ("/count.js", &["get", "head"][..]),
        ("/api/v1/counts", &["get", "post"][..]),
        ("/api/v1/openapi.json", &["get"][..]),
        ("/healthz", &["get", "head"][..]),
        ("/api/v1/admin/login", &["post"][..]),
        ("/api/v1/admin/logout", &["post"][..]),
        ("/api/v1/admin/session", &["get"][..]),
        ("/api/v1/admin/password", &["post"][..]),
        ("/api/v1/admin/comments", &["get"][..]),
        ("/api/v1/admin/comments/bulk", &["post"][..]),
        ("/api/v1/admin/comments/{id}", &["get", "patch"][..]),
        ("/api/v1/admin/comments/{id}/{action}", &["post"][..]),
        ("/api/v1/admin/threads", &["get"][..]),
        ("/api/v1/admin/threads/{id}", &["patch"][..]),
        ("/api/v1/admin/threads/{id}/lock", &["post"][..]),
        ("/api/v1/admin/threads/{id}/unlock", &["post"][..]),
        ("/api/v1/admin/bans", &["get", "post"][..]),
        ("/api/v1/admin/bans/{id}", &["delete"][..]),
        ("/api/v1/admin/audit", &["get"][..]),
        ("/api/v1/admin/sites", &["get"][..]),
        ("/api/v1/admin/comments/{id}/reply", &["post"][..]),
        ("/api/v1/admin/threads/{id}/comments", &["post"][..]),
        ("/api/v1/admin/outbox", &["get"][..]),
        ("/api/v1/admin/outbox/test", &["post"][..]),
        ("/api/v1/admin/outbox/{id}", &["delete"][..]),
        ("/api/v1/admin/outbox/{id}/retry", &["post"][..]),
        ("/api/v1/admin/import", &["post"][..]),
        ("/api/v1/admin/export", &["get"][..]),
        ("/webmention", &["post"][..]),
        ("/api/v1/admin/remote-bans", &["get", "post"][..]),
        ("/api/v1/admin/remote-bans/{id}", &["delete"][..]),
    ] {
        for m in methods {
            assert!(paths[path][m].is_object(), "{m} {path} missing");
        }
        if path.starts_with("/api/v1/admin/") && path != "/api/v1/admin/login" {
            for m in methods {
                assert!(
                    paths[path][m]["security"][0]["admin_session"].is_array(),
                    "{m} {path} does not name the session"
                );
            }
        }
    }
    assert_eq!(
        v["components"]["securitySchemes"]["admin_session"]["in"],
        "cookie"
    );
    assert!(v["components"]["schemas"]["CommentJson"]["properties"]["moderator"].is_object());
    for schema in [
        "ThreadPage",
        "CommentJson",
        "ThreadJson",
        "CreateComment",
        "ErrorBody",
        "CountsRequest",
        "AdminComment",
        "LoginRequest",
    ] {
        assert!(
            v["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}

/// Several instances behind a load balancer share one PostgreSQL: a write through one
/// is seen through the others, whose caches hear of it by NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_share_writes_and_invalidate_each_others_caches() {
    let Some(a) = common::spawn(common::Backend::Postgres).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let b = common::spawn_on(a.db.clone(), common::SITES).await;
    let wait_for = |app: &TestApp, n: usize| {
        let url = app.url("/api/v1/comments?site=open&slug=%2Fshared%2F");
        let client = app.client.clone();
        async move {
            // Bounded: notifications arrive within milliseconds; give up after 10 s.
            for _ in 0..200 {
                let v: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
                if v["comments"].as_array().unwrap().len() == n {
                    return v;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("instance never showed {n} comments");
        }
    };
    // Let both instances' listeners connect, then warm both caches.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    a.comment("open", "/shared/", json!({"body": "via a"}))
        .await;
    wait_for(&a, 1).await;
    wait_for(&b, 1).await;
    let r1 = b.get("/api/v1/comments?site=open&slug=%2Fshared%2F").await;
    let etag = r1.headers()["etag"].to_str().unwrap().to_owned();
    a.comment("open", "/shared/", json!({"body": "via a again"}))
        .await;
    let v = wait_for(&b, 2).await;
    assert_eq!(v["thread"]["comment_count"], 2);
    let r2 = b
        .client
        .get(b.url("/api/v1/comments?site=open&slug=%2Fshared%2F"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r2.status(), 200);
    b.comment("open", "/shared/", json!({"body": "via b"}))
        .await;
    wait_for(&a, 3).await;

    // Counts answers cached on one instance follow writes made through the other.
    let counts = |app: &TestApp| {
        let url = app.url("/api/v1/counts?site=open&slug=%2Fshared%2F");
        let client = app.client.clone();
        async move {
            let v: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
            v["counts"]["/shared/"].as_i64().unwrap()
        }
    };
    assert_eq!(counts(&a).await, 3);
    assert_eq!(counts(&a).await, 3);
    b.comment("open", "/shared/", json!({"body": "via b again"}))
        .await;
    let mut seen = 0;
    for _ in 0..200 {
        seen = counts(&a).await;
        if seen == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen, 4, "instance a never saw b's comment in its counts");
}

/// A limit of comments per address per minute answers 429 with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_rate_limit_answers_429() {
    let config =
        "[[site]]\nid = \"blog\"\norigins = [\"*\"]\n[limits]\ncomments_per_ip_per_minute = 2\n";
    let app = common::spawn_with(common::Backend::Sqlite, config)
        .await
        .unwrap();
    app.comment("blog", "/r/", json!({"body": "1"})).await;
    app.comment("blog", "/r/", json!({"body": "2"})).await;
    let r = app.post_comment("blog", "/r/", json!({"body": "3"})).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    expect_error(r, 429, "rate_limited").await;
    assert_eq!(app.db.count("comments"), 2);
    // Behind a trusted proxy, the forwarded address is the one counted.
    let r = app
        .client
        .post(app.url("/api/v1/comments?site=blog&slug=%2Fr%2F"))
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&json!({"body": "from another reader"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// Failed writes sharing a commit batch with good ones roll back alone.
async fn failed_writes_in_a_busy_moment_leave_no_trace(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            // Even: a fine comment on its own new thread. Odd: a reply to a comment that
            // does not exist, also on a new thread, which must not be left behind.
            let body = if i % 2 == 0 {
                json!({"body": format!("ok {i}")})
            } else {
                json!({"body": format!("bad {i}"), "parent_id": 987_654})
            };
            let r = app
                .post_comment("open", &format!("/batch-{i}/"), body)
                .await;
            (i, r.status().as_u16())
        }));
    }
    for t in tasks {
        let (i, status) = t.await.unwrap();
        assert_eq!(status, if i % 2 == 0 { 201 } else { 422 }, "request {i}");
    }
    assert_eq!(app.db.count("comments"), 20);
    assert_eq!(
        app.db.count("threads"),
        20,
        "threads of refused comments were rolled back"
    );
}

/// The listener's connection dies (PostgreSQL restarted, a proxy cut it): the instance
/// notices, serves from the database meanwhile, reconnects, and no page stays stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_listener_killed_recovers_without_stale_pages() {
    let Some(a) = common::spawn(common::Backend::Postgres).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let b = common::spawn_on(a.db.clone(), common::SITES).await;
    let path = "/api/v1/comments?site=open&slug=%2Flk%2F";
    let read = |app: &TestApp| {
        let (client, url) = (app.client.clone(), app.url(path));
        async move {
            let r = client.get(&url).send().await.unwrap();
            let cache = r.headers()["x-afterword-cache"]
                .to_str()
                .unwrap()
                .to_owned();
            let v: Value = r.json().await.unwrap();
            (v["thread"]["comment_count"].as_i64().unwrap(), cache)
        }
    };
    // Bounded waits: the listener connects, reconnects and confirms within seconds.
    let until = |app: &TestApp, count: i64, cache: &'static str| {
        let (client, url) = (app.client.clone(), app.url(path));
        async move {
            for _ in 0..200 {
                let r = client.get(&url).send().await.unwrap();
                let c = r.headers()["x-afterword-cache"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let v: Value = r.json().await.unwrap();
                if v["thread"]["comment_count"] == count && c == cache {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("never saw {count} comments with a cache {cache}");
        }
    };
    a.comment("open", "/lk/", json!({"body": "one"})).await;
    until(&b, 1, "hit").await;

    a.db.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'afterword-listener'",
    );
    a.comment("open", "/lk/", json!({"body": "two"})).await;
    // The notification of this write may have gone to the dead connection; b must still
    // show it (from the database, then from memory again once it listens anew).
    until(&b, 2, "hit").await;
    let (n, _) = read(&b).await;
    assert_eq!(n, 2);
    a.comment("open", "/lk/", json!({"body": "three"})).await;
    until(&b, 3, "hit").await;
}

/// Behind a trusted proxy the client is the first untrusted hop from the right of
/// X-Forwarded-For: whatever a client prepends (addresses, garbage) gains it nothing; IPv6
/// clients count per /64; mapped IPv4 is IPv4. Edits and deletes are limited too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_count_the_real_client_and_cover_edits() {
    let config = "[[site]]\nid = \"blog\"\norigins = [\"*\"]\nedit_window = \"1h\"\n\
                  [limits]\ncomments_per_ip_per_minute = 1\nedits_per_ip_per_minute = 2\n";
    let app = common::spawn_with(common::Backend::Sqlite, config)
        .await
        .unwrap();
    let post = |xff: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/comments?site=blog&slug=%2Fxff%2F"))
                .header("X-Forwarded-For", xff)
                .json(&json!({"body": "hello"}))
                .send()
                .await
                .unwrap()
        }
    };
    // Garbage left of the proxy's entry: the client is still 203.0.113.7 (not the proxy).
    let r = post("not an address, 203.0.113.7").await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let first = v["comment"]["id"].as_i64().unwrap();
    let token = v["edit_token"].as_str().unwrap().to_owned();
    // Stored as a keyed hash (24 hex digits), never in clear.
    let stored = |id: i64| {
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id = {id} AND length(ip) = 24"
        ))
    };
    assert_eq!(stored(first), 1);
    // A forged address prepended: same client, over its limit.
    let r = post("198.51.100.1, 203.0.113.7").await;
    expect_error(r, 429, "rate_limited").await;
    // Another client is not.
    assert_eq!(post("203.0.113.8").await.status(), 201);
    // IPv6: one /64 is one client.
    assert_eq!(post("2001:db8:0:1::1").await.status(), 201);
    expect_error(post("2001:db8:0:1::ffff").await, 429, "rate_limited").await;
    assert_eq!(post("2001:db8:0:2::1").await.status(), 201);
    // A mapped address is the IPv4 one: 203.0.113.8 already posted.
    expect_error(post("::ffff:203.0.113.8").await, 429, "rate_limited").await;

    // Four clients, four hashes, no address in clear.
    assert_eq!(
        app.db
            .number("SELECT COUNT(DISTINCT ip) AS n FROM comments"),
        4
    );
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM comments WHERE ip LIKE '%.%' OR ip LIKE '%:%'"),
        0
    );
    // Edits and deletes: two a minute from this test client (127.0.0.1, no header).
    let url = app.url(&format!("/api/v1/comments/{first}"));
    for n in 0..2 {
        let r = app
            .edit(&url, &token, &json!({"body": format!("edit {n}")}))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = app.edit(&url, &token, &json!({"body": "edit 3"})).await;
    assert!(r.headers().contains_key("retry-after"));
    expect_error(r, 429, "rate_limited").await;
    expect_error(app.remove(&url, &token).await, 429, "rate_limited").await;
    let page = app.thread("blog", "/xff/", "").await;
    assert_eq!(page["comments"][0]["html"], "<p>edit 1</p>\n");
}

/// Every answer says `nosniff`; JSON answers carry a CSP that lets them do nothing; an
/// answer with an edit token is never cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_hardened() {
    let app = common::spawn(common::Backend::Sqlite).await.unwrap();
    let r = app
        .post_comment("open", "/hard/", json!({"body": "hi"}))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let mut answers = vec![r];
    for path in [
        "/api/v1/comments?site=open&slug=%2Fhard%2F",
        "/api/v1/counts?site=open&slug=%2Fhard%2F",
        "/api/v1/openapi.json",
        "/healthz",
        "/nothing-here",
        "/embed.js",
    ] {
        answers.push(app.get(path).await);
    }
    for r in answers {
        let url = r.url().to_string();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{url}");
        let json = h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json");
        if json {
            assert_eq!(
                h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
                "{url}"
            );
        }
    }
}
