//! Reactions (API.md): toggles, validation, counts everywhere, abuse limits, concurrency,
//! on SQLite and on PostgreSQL.

use crate::common;

use std::sync::Arc;

use afterword::db::faults::Fault;
use common::{enc, expect_error, Backend, TestApp};
use reqwest::Response;
use serde_json::{json, Value};

/// The test sites without a reaction limit (the concurrency test sends 100 from one address).
fn unlimited() -> String {
    format!("{}reactions_per_ip_per_minute = 0\n", common::SITES)
}

/// `mod sqlite` and `mod postgres`, each test on an app spawned with `config`.
macro_rules! on_both_backends_with {
    ($config:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::spawn_with($crate::common::Backend::Sqlite, &$config)
                        .await
                        .unwrap();
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) =
                        $crate::common::spawn_with($crate::common::Backend::Postgres, &$config).await
                    else {
                        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
                        return;
                    };
                    super::$name(app).await;
                }
            )*
        }
    };
}

on_both_backends_with!(super::unlimited();
    toggles_are_idempotent_and_create_the_thread,
    bad_reactions_are_refused_and_store_nothing,
    thread_reads_carry_counts_and_stay_cached,
    reactions_read_marks_the_visitors_own,
    counts_can_total_reactions,
    top_sort_follows_reactions,
    visitor_ids_are_never_stored_or_shown,
    parallel_toggles_count_exactly,
    failed_reaction_writes_store_nothing,
);

mod limited {
    const CONFIG: &str = "reactions_per_ip_per_minute = 3\n";

    fn config() -> String {
        format!("{}{CONFIG}", crate::common::SITES)
    }

    on_both_backends_with!(super::config(); too_many_reactions_are_refused);

    async fn too_many_reactions_are_refused(app: crate::common::TestApp) {
        super::too_many_reactions_are_refused(app).await
    }
}

async fn react_raw(app: &TestApp, site: &str, slug: &str, body: Value) -> Response {
    app.client
        .post(app.url(&format!("/api/v1/reactions?site={site}&slug={}", enc(slug))))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Posts a reaction and returns the answer, asserting 200.
async fn react(app: &TestApp, slug: &str, body: Value) -> Value {
    let r = react_raw(app, "open", slug, body).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

async fn reactions_of(app: &TestApp, slug: &str, visitor: Option<&str>) -> Value {
    let v = visitor
        .map(|v| format!("&visitor={}", enc(v)))
        .unwrap_or_default();
    let r = app
        .get(&format!(
            "/api/v1/reactions?site=open&slug={}{v}",
            enc(slug)
        ))
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The thread page and whether memory answered it.
async fn read_page(app: &TestApp, slug: &str) -> (Value, String) {
    let r = app
        .get(&format!("/api/v1/comments?site=open&slug={}", enc(slug)))
        .await;
    assert_eq!(r.status(), 200);
    let cache = r.headers()["x-afterword-cache"]
        .to_str()
        .unwrap()
        .to_owned();
    (r.json().await.unwrap(), cache)
}

/// Reads until memory answers (bounded): on PostgreSQL the listener starts a moment after
/// the server, and an instance hears its own writes' notifications a few ms late, which
/// may drop a fresh page once more. Every answer on the way must be `want`.
async fn read_until_hit(app: &TestApp, slug: &str, want: &Value) {
    for _ in 0..100 {
        let (t, cache) = read_page(app, slug).await;
        assert_eq!(&t, want);
        if cache == "hit" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    panic!("{slug} never came from memory");
}

async fn toggles_are_idempotent_and_create_the_thread(app: TestApp) {
    let on = json!({"kind": "👍", "visitor": "v1", "active": true});
    let v = react(&app, "/new/", on.clone()).await;
    assert_eq!(v, json!({"reactions": {"👍": 1}, "mine": ["👍"]}));
    // The same again changes nothing.
    assert_eq!(react(&app, "/new/", on).await, v);
    assert_eq!(app.db.count("threads"), 1);
    let (t, _) = read_page(&app, "/new/").await;
    assert_eq!(t["thread"]["reactions"], json!({"👍": 1}));
    assert_eq!(t["thread"]["comment_count"], 0);
    assert_eq!(t["comments"], json!([]));

    let v = react(
        &app,
        "/new/",
        json!({"kind": "❤️", "visitor": "v1", "active": true}),
    )
    .await;
    assert_eq!(
        v,
        json!({"reactions": {"👍": 1, "❤️": 1}, "mine": ["👍", "❤️"]})
    );
    let v = react(
        &app,
        "/new/",
        json!({"kind": "👍", "visitor": "v2", "active": true}),
    )
    .await;
    assert_eq!(v, json!({"reactions": {"👍": 2, "❤️": 1}, "mine": ["👍"]}));

    let off = json!({"kind": "👍", "visitor": "v1", "active": false});
    let v = react(&app, "/new/", off.clone()).await;
    assert_eq!(v, json!({"reactions": {"👍": 1, "❤️": 1}, "mine": ["❤️"]}));
    assert_eq!(react(&app, "/new/", off).await, v);
    let v = react(
        &app,
        "/new/",
        json!({"kind": "👍", "visitor": "v2", "active": false}),
    )
    .await;
    assert_eq!(v, json!({"reactions": {"❤️": 1}, "mine": []}));
    // Taking back what one never gave changes nothing either.
    let v = react(
        &app,
        "/new/",
        json!({"kind": "😢", "visitor": "v3", "active": false}),
    )
    .await;
    assert_eq!(v, json!({"reactions": {"❤️": 1}, "mine": []}));
    assert_eq!(app.db.count("reactions"), 1);
    assert_eq!(app.db.count("reaction_counts"), 1);

    // On a comment: its own counts, apart from the post's.
    let (c, _) = app.comment("open", "/new/", json!({"body": "hi"})).await;
    let v = react(
        &app,
        "/new/",
        json!({"kind": "🎉", "comment_id": c["id"], "visitor": "v1", "active": true}),
    )
    .await;
    assert_eq!(v, json!({"reactions": {"🎉": 1}, "mine": ["🎉"]}));
    let (t, _) = read_page(&app, "/new/").await;
    assert_eq!(t["thread"]["reactions"], json!({"❤️": 1}));
    assert_eq!(t["comments"][0]["reactions"], json!({"🎉": 1}));
}

async fn bad_reactions_are_refused_and_store_nothing(app: TestApp) {
    let refused = |site: &'static str, kind: &'static str, status: u16, code: &'static str| {
        let r = react_raw(
            &app,
            site,
            "/p/",
            json!({"kind": kind, "visitor": "v", "active": true}),
        );
        async move { expect_error(r.await, status, code).await }
    };
    let e = refused("open", "💩", 422, "unknown_reaction").await;
    assert_eq!(e["error"]["field"], "kind");
    let msg = e["error"]["message"].as_str().unwrap();
    for k in ["👍", "❤️", "😂", "🎉", "😮", "😢"] {
        assert!(msg.contains(k), "{msg} names {k}");
    }
    for (body, field) in [
        (json!({"kind": "👍", "active": true}), "visitor"),
        (
            json!({"kind": "👍", "visitor": "", "active": true}),
            "visitor",
        ),
        (
            json!({"kind": "👍", "visitor": "x".repeat(129), "active": true}),
            "visitor",
        ),
        (
            json!({"kind": "👍", "visitor": "a\u{7}b", "active": true}),
            "visitor",
        ),
        (json!({"visitor": "v", "active": true}), "kind"),
        (json!({"kind": "👍", "visitor": "v"}), "active"),
    ] {
        let r = react_raw(&app, "open", "/p/", body.clone()).await;
        assert_eq!(r.status(), 422, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    let r = react_raw(
        &app,
        "open",
        "/p/",
        json!({"kind": "👍", "visitor": "v", "active": true, "x": 1}),
    )
    .await;
    assert_eq!(r.status(), 422);
    refused("nope", "👍", 404, "unknown_site").await;

    // Comments that cannot take reactions here.
    let (other, _) = app
        .comment("open", "/other/", json!({"body": "elsewhere"}))
        .await;
    let (gone, token) = app
        .comment("open", "/p/", json!({"body": "soon gone"}))
        .await;
    let r = app
        .remove(app.url(&format!("/api/v1/comments/{}", gone["id"])), &token)
        .await;
    assert_eq!(r.status(), 204);
    let (pending, _) = app
        .comment("moderated", "/p/", json!({"body": "waiting"}))
        .await;
    assert_eq!(pending["status"], "pending");
    for (site, slug, id) in [
        ("open", "/p/", other["id"].clone()),
        ("open", "/p/", gone["id"].clone()),
        ("open", "/p/", json!(999_999)),
        ("open", "/p/", json!(0)),
        ("open", "/p/", json!(-3)),
        ("moderated", "/p/", pending["id"].clone()),
        // A thread that does not exist yet: not created for nothing.
        ("open", "/unborn/", other["id"].clone()),
    ] {
        let r = react_raw(
            &app,
            site,
            slug,
            json!({"kind": "👍", "comment_id": id, "visitor": "v", "active": true}),
        )
        .await;
        expect_error(r, 404, "comment_not_found").await;
    }
    assert_eq!(app.db.count("reactions"), 0);
    assert_eq!(app.db.count("reaction_counts"), 0);
    assert_eq!(
        app.db
            .number("SELECT COUNT(*) AS n FROM threads WHERE slug = '/unborn/'"),
        0
    );

    // A locked thread takes no reactions, on the post or on its comments, on or off.
    let (c, _) = app.comment("open", "/locked/", json!({"body": "hi"})).await;
    react(
        &app,
        "/locked/",
        json!({"kind": "👍", "visitor": "v", "active": true}),
    )
    .await;
    app.db
        .exec("UPDATE threads SET locked = TRUE WHERE slug = '/locked/'");
    for body in [
        json!({"kind": "❤️", "visitor": "v", "active": true}),
        json!({"kind": "👍", "visitor": "v", "active": false}),
        json!({"kind": "👍", "comment_id": c["id"], "visitor": "v", "active": true}),
    ] {
        expect_error(
            react_raw(&app, "open", "/locked/", body).await,
            409,
            "thread_locked",
        )
        .await;
    }
    assert_eq!(app.db.count("reactions"), 1);

    // A foreign page may not react for a visitor.
    let r = app
        .client
        .post(app.url("/api/v1/reactions?site=blog&slug=/p/"))
        .header("Origin", "https://evil.example")
        .json(&json!({"kind": "👍", "visitor": "v", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Other methods are named.
    let r = app
        .client
        .delete(app.url("/api/v1/reactions?site=open&slug=/p/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, POST");
}

async fn thread_reads_carry_counts_and_stay_cached(app: TestApp) {
    let (a, _) = app.comment("open", "/cached/", json!({"body": "a"})).await;
    let (b, _) = app
        .comment(
            "open",
            "/cached/",
            json!({"body": "b", "parent_id": a["id"]}),
        )
        .await;
    let (t, first) = read_page(&app, "/cached/").await;
    assert_eq!(first, "miss");
    read_until_hit(&app, "/cached/", &t).await;

    react(
        &app,
        "/cached/",
        json!({"kind": "😂", "visitor": "v1", "active": true}),
    )
    .await;
    let (t, cache) = read_page(&app, "/cached/").await;
    assert_eq!(cache, "miss", "a reaction drops the cached page");
    assert_eq!(t["thread"]["reactions"], json!({"😂": 1}));
    read_until_hit(&app, "/cached/", &t).await;

    for v in ["v1", "v2", "v3"] {
        react(
            &app,
            "/cached/",
            json!({"kind": "👍", "comment_id": b["id"], "visitor": v, "active": true}),
        )
        .await;
    }
    let (t, cache) = read_page(&app, "/cached/").await;
    assert_eq!(cache, "miss");
    assert_eq!(t["comments"][0]["reactions"], json!({}));
    assert_eq!(t["comments"][1]["id"], b["id"]);
    assert_eq!(t["comments"][1]["reactions"], json!({"👍": 3}));
    read_until_hit(&app, "/cached/", &t).await;

    // Taking one back is seen at once too.
    react(
        &app,
        "/cached/",
        json!({"kind": "👍", "comment_id": b["id"], "visitor": "v2", "active": false}),
    )
    .await;
    let (t, cache) = read_page(&app, "/cached/").await;
    assert_eq!(cache, "miss");
    assert_eq!(t["comments"][1]["reactions"], json!({"👍": 2}));

    // A reaction that changes nothing still answers the truth.
    react(
        &app,
        "/cached/",
        json!({"kind": "😂", "visitor": "v1", "active": true}),
    )
    .await;
    let (t, _) = read_page(&app, "/cached/").await;
    assert_eq!(t["thread"]["reactions"], json!({"😂": 1}));
}

async fn reactions_read_marks_the_visitors_own(app: TestApp) {
    assert_eq!(
        reactions_of(&app, "/none/", Some("v1")).await,
        json!({"post": {"reactions": {}, "mine": []}, "comments": {}})
    );
    let (a, _) = app.comment("open", "/mine/", json!({"body": "a"})).await;
    let (b, _) = app.comment("open", "/mine/", json!({"body": "b"})).await;
    let id = |c: &Value| c["id"].as_i64().unwrap();
    for (comment, kind, visitor) in [
        (None, "😮", "v1"),
        (None, "👍", "v1"),
        (None, "👍", "v2"),
        (Some(id(&a)), "❤️", "v1"),
        (Some(id(&b)), "❤️", "v2"),
        (Some(id(&b)), "😢", "v2"),
    ] {
        react(
            &app,
            "/mine/",
            json!({"kind": kind, "comment_id": comment, "visitor": visitor, "active": true}),
        )
        .await;
    }
    let got = reactions_of(&app, "/mine/", Some("v1")).await;
    assert_eq!(
        got,
        json!({
            "post": {"reactions": {"👍": 2, "😮": 1}, "mine": ["👍", "😮"]},
            "comments": {
                a["id"].to_string(): {"reactions": {"❤️": 1}, "mine": ["❤️"]},
                b["id"].to_string(): {"reactions": {"❤️": 1, "😢": 1}, "mine": []},
            }
        })
    );
    let anonymous = reactions_of(&app, "/mine/", None).await;
    assert_eq!(anonymous["post"]["mine"], json!([]));
    assert_eq!(
        anonymous["comments"][b["id"].to_string()]["mine"],
        json!([])
    );
    let r = app
        .get(&format!(
            "/api/v1/reactions?site=open&slug=/mine/&visitor={}",
            "x".repeat(200)
        ))
        .await;
    expect_error(r, 422, "invalid_visitor").await;

    // A comment deleted since keeps its reactions out of sight.
    app.db.exec(&format!(
        "UPDATE comments SET status = 'spam' WHERE id = {}",
        b["id"]
    ));
    let got = reactions_of(&app, "/mine/", Some("v2")).await;
    assert_eq!(got["comments"].as_object().unwrap().len(), 1);
    assert_eq!(got["post"]["mine"], json!(["👍"]));
}

async fn counts_can_total_reactions(app: TestApp) {
    app.comment("open", "/c1/", json!({"body": "x"})).await;
    let q = "/api/v1/counts?site=open&slug=/c1/&slug=/c2/&slug=/c3/";
    let plain: Value = app.get(q).await.json().await.unwrap();
    assert_eq!(plain, json!({"counts": {"/c1/": 1, "/c2/": 0, "/c3/": 0}}));
    let with = |app: &TestApp| {
        let url = format!("{q}&reactions=1");
        let app_url = app.url(&url);
        let client = app.client.clone();
        async move {
            let r = client.get(app_url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        with(&app).await,
        json!({"counts": {"/c1/": 1, "/c2/": 0, "/c3/": 0},
               "reactions": {"/c1/": 0, "/c2/": 0, "/c3/": 0}})
    );
    react(
        &app,
        "/c2/",
        json!({"kind": "👍", "visitor": "v1", "active": true}),
    )
    .await;
    react(
        &app,
        "/c2/",
        json!({"kind": "❤️", "visitor": "v1", "active": true}),
    )
    .await;
    react(
        &app,
        "/c2/",
        json!({"kind": "👍", "visitor": "v2", "active": true}),
    )
    .await;
    // A comment's reactions are not the post's.
    let (c, _) = app.comment("open", "/c3/", json!({"body": "x"})).await;
    react(
        &app,
        "/c3/",
        json!({"kind": "👍", "comment_id": c["id"], "visitor": "v1", "active": true}),
    )
    .await;
    // The cached answer was dropped: the totals are current.
    let want = json!({"counts": {"/c1/": 1, "/c2/": 0, "/c3/": 1},
                      "reactions": {"/c1/": 0, "/c2/": 3, "/c3/": 0}});
    assert_eq!(with(&app).await, want);
    assert_eq!(with(&app).await, want);
    react(
        &app,
        "/c2/",
        json!({"kind": "❤️", "visitor": "v1", "active": false}),
    )
    .await;
    assert_eq!(with(&app).await["reactions"]["/c2/"], 2);
    let plain: Value = app.get(q).await.json().await.unwrap();
    assert!(plain.get("reactions").is_none());

    let r = app
        .client
        .post(app.url("/api/v1/counts"))
        .json(&json!({"site": "open", "slugs": ["/c2/", "/zz/"], "reactions": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"counts": {"/c2/": 0, "/zz/": 0}, "reactions": {"/c2/": 2, "/zz/": 0}})
    );
    let r = app.get(&format!("{q}&reactions=maybe")).await;
    expect_error(r, 422, "invalid_reactions").await;
}

async fn top_sort_follows_reactions(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..3 {
        let (c, _) = app
            .comment("open", "/top/", json!({"body": format!("c{i}")}))
            .await;
        ids.push(c["id"].clone());
    }
    let top = |app: &TestApp| {
        let url = app.url("/api/v1/comments?site=open&slug=/top/&sort=top");
        let client = app.client.clone();
        async move {
            let t: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            common::ids(&t)
        }
    };
    let id = |v: &Value| v.as_i64().unwrap();
    assert_eq!(top(&app).await, vec![id(&ids[0]), id(&ids[1]), id(&ids[2])]);
    for (i, v) in [(2, "a"), (2, "b"), (1, "a")] {
        react(
            &app,
            "/top/",
            json!({"kind": "🎉", "comment_id": ids[i], "visitor": v, "active": true}),
        )
        .await;
    }
    // Reactions on the post do not count for any comment.
    react(
        &app,
        "/top/",
        json!({"kind": "🎉", "visitor": "c", "active": true}),
    )
    .await;
    assert_eq!(top(&app).await, vec![id(&ids[2]), id(&ids[1]), id(&ids[0])]);
    for v in ["a", "b"] {
        react(
            &app,
            "/top/",
            json!({"kind": "🎉", "comment_id": ids[2], "visitor": v, "active": false}),
        )
        .await;
    }
    assert_eq!(top(&app).await, vec![id(&ids[1]), id(&ids[0]), id(&ids[2])]);
}

async fn too_many_reactions_are_refused(app: TestApp) {
    for i in 0..3 {
        react(
            &app,
            "/busy/",
            json!({"kind": "👍", "visitor": format!("v{i}"), "active": true}),
        )
        .await;
    }
    let r = react_raw(
        &app,
        "open",
        "/busy/",
        json!({"kind": "👍", "visitor": "v9", "active": true}),
    )
    .await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    expect_error(r, 429, "rate_limited").await;
    assert_eq!(app.db.count("reactions"), 3);
    // Comments have their own limit.
    app.comment("open", "/busy/", json!({"body": "still welcome"}))
        .await;
}

async fn visitor_ids_are_never_stored_or_shown(app: TestApp) {
    let secret = "visitor-id-Zq81x";
    let (c, _) = app.comment("open", "/private/", json!({"body": "x"})).await;
    let mut seen = String::new();
    for (comment, kind) in [(Value::Null, "👍"), (c["id"].clone(), "❤️")] {
        let r = react_raw(
            &app,
            "open",
            "/private/",
            json!({"kind": kind, "comment_id": comment, "visitor": secret, "active": true}),
        )
        .await;
        seen.push_str(&r.text().await.unwrap());
    }
    let r = app
        .get(&format!(
            "/api/v1/reactions?site=open&slug=/private/&visitor={secret}"
        ))
        .await;
    seen.push_str(&r.text().await.unwrap());
    seen.push_str(&read_page(&app, "/private/").await.0.to_string());
    seen.push_str(
        &app.get("/api/v1/counts?site=open&slug=/private/&reactions=1")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(!seen.contains(secret), "{seen}");
    assert!(!seen.contains("visitor"), "{seen}");
    assert_eq!(app.db.count("reactions"), 2);
    assert_eq!(
        app.db.number(&format!(
            "SELECT COUNT(*) AS n FROM reactions WHERE visitor_hash LIKE '%{secret}%'"
        )),
        0
    );
    // A keyed hash: 32 hex digits, the same for both of this visitor's reactions.
    assert_eq!(
        app.db.number(
            "SELECT COUNT(DISTINCT visitor_hash) AS n FROM reactions WHERE LENGTH(visitor_hash) = 32"
        ),
        1
    );
}

/// 100 toggles at once from 50 visitors (each sends "on" twice) end with exactly 50. On
/// PostgreSQL half go through a second instance, whose writer races the first.
async fn parallel_toggles_count_exactly(app: TestApp) {
    let (c, _) = app.comment("open", "/race/", json!({"body": "x"})).await;
    let app = Arc::new(app);
    let mut apps = vec![app.clone()];
    if app.backend() == Backend::Postgres {
        apps.push(Arc::new(
            common::spawn_on(app.db.clone(), &unlimited()).await,
        ));
    }
    race(&apps, Value::Null, true).await;
    race(&apps, c["id"].clone(), true).await;
    let got = reactions_of(&app, "/race/", None).await;
    assert_eq!(got["post"]["reactions"], json!({"👍": 50}));
    assert_eq!(
        got["comments"][c["id"].to_string()]["reactions"],
        json!({"👍": 50})
    );
    assert_eq!(app.db.count("reactions"), 100);
    assert_eq!(
        app.db
            .number("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS n FROM reaction_counts"),
        100
    );

    // And back off, all at once, twice each: nothing below zero.
    race(&apps, Value::Null, false).await;
    let (t, _) = read_page(&app, "/race/").await;
    assert_eq!(t["thread"]["reactions"], json!({}));
    assert_eq!(t["comments"][0]["reactions"], json!({"👍": 50}));
    assert_eq!(app.db.count("reactions"), 50);
    for other in &apps[1..] {
        // The other instance's page shows it too (PostgreSQL NOTIFY).
        assert_eq!(read_page(other, "/race/").await.0, t);
    }
}

/// 100 toggles of 👍 at once on `comment` (null: the post), two from each of 50 visitors,
/// spread over the instances; each must answer 200.
async fn race(apps: &[Arc<TestApp>], comment: Value, active: bool) {
    let mut tasks = Vec::new();
    for i in 0..100 {
        let target = apps[i % apps.len()].clone();
        let body = json!({"kind": "👍", "comment_id": comment, "visitor": format!("v{}", i / 2), "active": active});
        tasks.push(tokio::spawn(async move {
            react_raw(&target, "open", "/race/", body)
                .await
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
}

/// A reaction whose write fails stores nothing (neither the reaction, its counter nor
/// the thread it would have created) and answers 5xx.
async fn failed_reaction_writes_store_nothing(app: TestApp) {
    app.faults.inject("/fail/", Fault::JobStatementFails);
    app.faults.inject("/doomed/", Fault::CommitFails);
    let body = json!({"kind": "👍", "visitor": "v", "active": true});
    let r = react_raw(&app, "open", "/fail/", body.clone()).await;
    expect_error(r, 500, "internal_error").await;
    let r = react_raw(&app, "open", "/doomed/", body.clone()).await;
    assert_eq!(r.status(), 503);
    assert_eq!(app.db.count("threads"), 0);
    assert_eq!(app.db.count("reactions"), 0);
    assert_eq!(app.db.count("reaction_counts"), 0);
    // The service goes on.
    app.faults.clear("/fail/");
    assert_eq!(
        react(&app, "/fail/", body).await,
        json!({"reactions": {"👍": 1}, "mine": ["👍"]})
    );
}

/// Behind a load balancer: a reaction through one instance drops the page another
/// instance keeps in memory (PostgreSQL NOTIFY), so its readers see it at once too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reactions_refresh_other_instances_pages() {
    let Some(a) = common::spawn_with(Backend::Postgres, &unlimited()).await else {
        eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let b = common::spawn_on(a.db.clone(), &unlimited()).await;
    a.comment("open", "/lb/", json!({"body": "x"})).await;
    let (page, _) = read_page(&b, "/lb/").await;
    read_until_hit(&b, "/lb/", &page).await;
    react(
        &a,
        "/lb/",
        json!({"kind": "😮", "visitor": "v", "active": true}),
    )
    .await;
    for _ in 0..100 {
        let (t, _) = read_page(&b, "/lb/").await;
        if t["thread"]["reactions"] == json!({"😮": 1}) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    panic!("the other instance kept its stale page");
}
