//! Comments without JavaScript: the thread as an HTML fragment, and the plain form that
//! posts to `/api/v1/comments/form`, on SQLite and on PostgreSQL.

use crate::common;

use common::{enc, expect_error, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    the_fragment_holds_the_thread_as_html,
    the_fragment_revalidates_and_compresses,
    the_fragment_refuses_bad_options,
    a_plain_form_posts_and_returns_to_the_comment,
    held_comments_get_a_notice_in_the_readers_language,
    refused_forms_keep_what_the_reader_wrote,
    previews_show_what_would_be_stored,
);

mod tokens {
    const CONFIG: &str = "\n[spam]\nmin_seconds = 0\nduplicates = \"0s\"\n";

    fn config() -> String {
        format!("{}{CONFIG}", crate::common::SITES)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_the_fragments_form_carries_a_fresh_token() {
        let app = crate::common::spawn_with(crate::common::Backend::Sqlite, &config())
            .await
            .unwrap();
        super::the_fragments_form_carries_a_fresh_token(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_the_fragments_form_carries_a_fresh_token() {
        let Some(app) =
            crate::common::spawn_with(crate::common::Backend::Postgres, &config()).await
        else {
            eprintln!("skipped: AFTERWORD_TEST_POSTGRES_URL is not set");
            return;
        };
        super::the_fragments_form_carries_a_fresh_token(app).await;
    }
}

async fn fragment(app: &TestApp, site: &str, slug: &str, extra: &str) -> String {
    let r = app
        .get(&format!(
            "/api/v1/comments.html?site={site}&slug={}{extra}",
            enc(slug)
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    r.text().await.unwrap()
}

/// What lies between `start` and the next `end` after it.
fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let from = s.find(start).unwrap_or_else(|| panic!("no {start} in {s}")) + start.len();
    let len = s[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end} after {start}"));
    &s[from..from + len]
}

/// Posts a form as a browser on `origin` would.
async fn post_form(
    app: &TestApp,
    site: &str,
    slug: &str,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = client
        .post(app.url(&format!(
            "/api/v1/comments/form?site={site}&slug={}",
            enc(slug)
        )))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

async fn the_fragment_holds_the_thread_as_html(app: TestApp) {
    let slug = "/posts/html/";
    let (first, _) = app
        .comment(
            "open",
            slug,
            json!({"body": "Hello *world* <script>alert(1)</script>", "author": "Ada <b>", "website": "https://ada.example"}),
        )
        .await;
    let (reply, _) = app
        .comment(
            "open",
            slug,
            json!({"body": "A reply", "author": "Bob", "parent_id": first["id"]}),
        )
        .await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/reactions?site=open&slug={}", enc(slug))))
        .json(&json!({"kind": "👍", "visitor": "v1", "active": true, "comment_id": first["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let html = fragment(&app, "open", slug, "").await;
    assert!(
        html.contains(r#"<h2 class="aw-heading" tabindex="-1">2 comments</h2>"#),
        "{html}"
    );
    let a = first["id"].as_i64().unwrap();
    let b = reply["id"].as_i64().unwrap();
    // The first comment: schema.org microdata, sanitized HTML, escaped name, its date.
    let art = between(
        &html,
        &format!(r#"id="afterword-comment-{a}""#),
        "</article>",
    );
    assert!(art.contains(r#"itemscope itemtype="https://schema.org/Comment""#));
    assert!(
        art.contains(r#"<div class="aw-body" itemprop="text"><p>Hello <em>world</em>"#),
        "{art}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        art.contains("Ada &#60;b&#62;") || art.contains("Ada &lt;b&gt;"),
        "{art}"
    );
    assert!(
        art.contains(r#"rel="nofollow ugc noopener" itemprop="url""#),
        "{art}"
    );
    let created = first["created_at"].as_str().unwrap();
    assert!(
        art.contains(&format!(r#"<time class="aw-time" datetime="{created}""#)),
        "{art}"
    );
    assert!(
        art.contains(r#"<span class="aw-react">👍 1</span>"#),
        "{art}"
    );
    // Only counted reactions: no empty ones.
    assert!(!art.contains("❤"), "{art}");
    // The reply nests inside its parent's article, as a comment of it.
    let nested = between(&html, r#"<div class="aw-replies">"#, "</article>");
    assert!(
        nested.contains(&format!(
            r#"id="afterword-comment-{b}" data-id="{b}" tabindex="-1" itemprop="comment""#
        )),
        "{nested}"
    );
    // Forms: the main one and one per comment, posting to the form endpoint.
    assert_eq!(html.matches("<form ").count(), 3, "{html}");
    assert!(html.contains(&format!(
        r#"<input type="hidden" name="parent_id" value="{a}">"#
    )));
    assert!(
        html.contains(&format!(
            r#"action="{}/api/v1/comments/form?site=open&amp;slug=%2Fposts%2Fhtml%2F""#,
            app.base
        )) || html.contains(&format!(
            r#"action="{}/api/v1/comments/form?site=open&#38;slug=%2Fposts%2Fhtml%2F""#,
            app.base
        )),
        "{html}"
    );
    // The embed's data: the JSON page, for taking the section over without a fetch.
    let data: Value = serde_json::from_str(between(&html, r#"data-f="">"#, "</script>")).unwrap();
    assert_eq!(data["comments"].as_array().unwrap().len(), 2);
    assert!(!between(&html, r#"data-f="">"#, "</script>").contains('<'));

    // The thread's feed, as the embed links it.
    assert!(html.contains(&format!(
        r#"<a href="{}/feeds/open/thread.atom?slug=%2Fposts%2Fhtml%2F" type="application/atom+xml">Atom</a>"#,
        app.base
    )), "{html}");
    // Another language, and no forms.
    let de = fragment(&app, "open", slug, "&lang=de&form=0").await;
    assert!(de.contains("2 Kommentare"), "{de}");
    assert!(de.contains(r#"lang="de""#));
    assert!(de.contains(r#"data-theme="light""#));
    let dark = fragment(&app, "open", slug, "&theme=dark").await;
    assert!(dark.contains(r#"<div class="aw-root aw-static" data-theme="dark""#));
    assert!(!de.contains("<form"));

    // Pending comments stay out; an unknown thread is empty.
    app.comment("moderated", slug, json!({"body": "Held back"}))
        .await;
    let held = fragment(&app, "moderated", slug, "").await;
    assert!(!held.contains("Held back"));
    assert!(held.contains("No comments yet."));

    // Paging: a link to the next page, which holds the rest.
    let first_page = fragment(&app, "open", "/posts/paged/", "&limit=1").await;
    assert!(!first_page.contains("aw-more"));
    for i in 0..3 {
        app.comment(
            "open",
            "/posts/paged/",
            json!({"body": format!("Number {i}")}),
        )
        .await;
    }
    let first_page = fragment(&app, "open", "/posts/paged/", "&limit=1").await;
    assert!(first_page.contains("Number 0") && !first_page.contains("Number 1"));
    let more = between(&first_page, r#"<a class="aw-btn aw-more" href=""#, "\"")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(more.starts_with(&app.base), "{more}");
    let next = app.client.get(&more).send().await.unwrap();
    assert_eq!(next.status(), 200);
    let next = next.text().await.unwrap();
    assert!(
        next.contains("Number 1") && !next.contains("Number 0"),
        "{next}"
    );
}

async fn the_fragment_revalidates_and_compresses(app: TestApp) {
    let slug = "/posts/etag/";
    for i in 0..5 {
        app.comment(
            "open",
            slug,
            json!({"body": format!("Comment {i} with some words to compress")}),
        )
        .await;
    }
    let path = format!("/api/v1/comments.html?site=open&slug={}", enc(slug));
    let r = app
        .client
        .get(app.url(&path))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["x-afterword-cache"], "miss");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = app
        .client
        .get(app.url(&path))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = app.get(&path).await;
    assert_eq!(r.headers()["x-afterword-cache"], "hit");
    // A new comment changes it.
    app.comment("open", slug, json!({"body": "One more"})).await;
    let r = app
        .client
        .get(app.url(&path))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("One more"));
}

async fn the_fragment_refuses_bad_options(app: TestApp) {
    let base = "/api/v1/comments.html?site=open&slug=%2Fp%2F";
    expect_error(
        app.get(&format!("{base}&lang=xx")).await,
        422,
        "invalid_lang",
    )
    .await;
    expect_error(
        app.get(&format!("{base}&form=2")).await,
        422,
        "invalid_form",
    )
    .await;
    expect_error(
        app.get(&format!("{base}&sort=best")).await,
        422,
        "invalid_sort",
    )
    .await;
    expect_error(
        app.get("/api/v1/comments.html?site=blog&slug=%2Fp%2F&url=https%3A%2F%2Fevil.example%2F")
            .await,
        422,
        "url_not_on_site",
    )
    .await;
    expect_error(
        app.get("/api/v1/comments.html?site=nope&slug=%2Fp%2F")
            .await,
        404,
        "unknown_site",
    )
    .await;
    expect_error(
        app.get("/api/v1/comments.html?site=open").await,
        422,
        "required",
    )
    .await;
    let r = app.client.post(app.url(base)).send().await.unwrap();
    assert_eq!(r.status(), 405);
}

async fn a_plain_form_posts_and_returns_to_the_comment(app: TestApp) {
    let slug = "/posts/form/";
    let page = "https://blog.example/posts/form/";
    let r = post_form(
        &app,
        "blog",
        slug,
        Some("https://blog.example"),
        &[
            ("body", "Posted *without* JavaScript"),
            ("author", "Ada"),
            ("email", ""),
            ("website", ""),
            ("homepage", ""),
            ("form_token", ""),
            ("lang", "en"),
            ("return", &format!("{page}#afterword")),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let thread = app.thread("blog", slug, "").await;
    let c = &thread["comments"][0];
    assert_eq!(c["author"], "Ada");
    assert_eq!(c["html"], "<p>Posted <em>without</em> JavaScript</p>\n");
    let id = c["id"].as_i64().unwrap();
    assert_eq!(
        r.headers()["location"],
        format!("{page}#afterword-comment-{id}").as_str()
    );
    // The thread remembers its page, as when the embed posts.
    assert_eq!(thread["thread"]["url"], page);

    // A reply, with no return address: the Referer, when it is the site's, serves.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(app.url(&format!(
            "/api/v1/comments/form?site=blog&slug={}",
            enc(slug)
        )))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://blog.example")
        .header("referer", page)
        .body(format!("body=A+reply&parent_id={id}&notify_replies=1"))
        .send()
        .await
        .unwrap();
    // notify_replies without an address: refused like the JSON endpoint refuses it.
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("notify_replies needs an email address"),
        "{text}"
    );
    assert!(text.contains(">A reply</textarea>"), "{text}");
    let r = client
        .post(app.url(&format!(
            "/api/v1/comments/form?site=blog&slug={}",
            enc(slug)
        )))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://blog.example")
        .header("referer", page)
        .body(format!("body=A+reply&parent_id={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let thread = app.thread("blog", slug, "").await;
    let reply = &thread["comments"][1];
    assert_eq!(reply["parent_id"], id);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with(&format!("#afterword-comment-{}", reply["id"])));

    // A foreign page is refused before anything is stored.
    let r = post_form(
        &app,
        "blog",
        slug,
        Some("https://evil.example"),
        &[("body", "x")],
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = post_form(
        &app,
        "blog",
        slug,
        None,
        &[("body", "Elsewhere"), ("return", "https://evil.example/")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Elsewhere</textarea>"));
    assert_eq!(
        app.thread("blog", slug, "").await["comments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn held_comments_get_a_notice_in_the_readers_language(app: TestApp) {
    let slug = "/posts/held/";
    let r = post_form(
        &app,
        "moderated",
        slug,
        Some("https://anywhere.example"),
        &[
            ("body", "Bitte freigeben"),
            ("lang", "de"),
            ("return", "https://anywhere.example/posts/held/"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with(&format!("{}/api/v1/comments/form?", app.base)),
        "{to}"
    );
    let page = app.client.get(&to).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(text.contains("Wartet auf Freigabe"), "{text}");
    assert!(text.contains(r#"<html lang="de">"#));
    assert!(
        text.contains(r#"href="https://anywhere.example/posts/held/""#),
        "{text}"
    );
    // Stored, pending, and not shown.
    assert_eq!(app.db.count("comments"), 1);
    assert!(app.thread("moderated", slug, "").await["comments"]
        .as_array()
        .unwrap()
        .is_empty());
}

async fn refused_forms_keep_what_the_reader_wrote(app: TestApp) {
    let slug = "/posts/refused/";
    let r = post_form(
        &app,
        "short",
        slug,
        None,
        &[
            (
                "body",
                "Far longer than the twenty characters this site takes",
            ),
            ("author", "Chloé"),
            ("email", "chloe@example.com"),
            ("lang", "fr"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let text = r.text().await.unwrap();
    assert!(text.contains(r#"<html lang="fr">"#), "{text}");
    assert!(
        text.contains("Votre commentaire n’a pas pu être publié"),
        "{text}"
    );
    assert!(text.contains(">Far longer than the twenty characters this site takes</textarea>"));
    assert!(
        text.contains(r#"value="Chloé""#) || text.contains("Chlo"),
        "{text}"
    );
    assert!(text.contains(r#"value="chloe@example.com""#), "{text}");
    assert!(text.contains(r#"<p class="aw-error" role="alert">"#));
    // Not a form, or an unknown site: still a page, never a 5xx.
    let r = app
        .client
        .post(app.url("/api/v1/comments/form?site=open&slug=%2Fp%2F"))
        .json(&json!({"body": "json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = post_form(&app, "nope", slug, None, &[("body", "x")]).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("<!doctype html>"));
    let r = post_form(
        &app,
        "open",
        slug,
        None,
        &[("body", "x"), ("parent_id", "abc")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = post_form(
        &app,
        "open",
        slug,
        None,
        &[("body", "x"), ("parent_id", "999999")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = post_form(&app, "open", slug, None, &[("body", "   ")]).await;
    assert_eq!(r.status(), 422);
    assert_eq!(app.db.count("comments"), 0);
}

async fn the_fragments_form_carries_a_fresh_token(app: TestApp) {
    let slug = "/posts/token/";
    let html = fragment(&app, "open", slug, "").await;
    let token = between(&html, r#"name="form_token" value=""#, "\"").to_owned();
    assert!(token.len() > 10, "{token}");
    assert!(!html.contains("afterword-form-token-slot"));
    // The embed's copy of it, for taking over.
    assert!(html.contains(&format!(r#"data-f="{token}""#)));
    let r = app
        .get(&format!(
            "/api/v1/comments.html?site=open&slug={}",
            enc(slug)
        ))
        .await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    // Unchanged but for the token: not modified.
    let r = app
        .client
        .get(app.url(&format!(
            "/api/v1/comments.html?site=open&slug={}",
            enc(slug)
        )))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // Posting with it publishes at once; without it the comment is filed as spam.
    let r = post_form(
        &app,
        "open",
        slug,
        None,
        &[("body", "With the token"), ("form_token", &token)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = post_form(&app, "open", slug, None, &[("body", "Without a token")]).await;
    assert_eq!(r.status(), 303);
    let thread = app.thread("open", slug, "").await;
    let bodies: Vec<&str> = thread["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["html"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["<p>With the token</p>\n"]);
    let _: Value = thread;
}

async fn previews_show_what_would_be_stored(app: TestApp) {
    let text = "Hi *there* <script>alert(1)</script> [x](javascript:alert(1)) https://a.example";
    let preview = |site: &str, body: Value, origin: Option<&str>| {
        let mut r = app
            .client
            .post(app.url(&format!("/api/v1/preview?site={site}")))
            .json(&body);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let r = preview("open", json!({"body": text}), None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let shown: Value = r.json().await.unwrap();
    let (stored, _) = app
        .comment("open", "/posts/preview/", json!({"body": text}))
        .await;
    assert_eq!(shown["html"], stored["html"]);
    assert!(!shown["html"].as_str().unwrap().contains("<script"));
    // Nothing stored by a preview.
    assert_eq!(app.db.count("comments"), 1);
    expect_error(
        preview("short", json!({"body": "x".repeat(21)}), None)
            .await
            .unwrap(),
        422,
        "too_long",
    )
    .await;
    expect_error(
        preview("open", json!({"body": "  "}), None).await.unwrap(),
        422,
        "empty",
    )
    .await;
    expect_error(
        preview("nope", json!({"body": "x"}), None).await.unwrap(),
        404,
        "unknown_site",
    )
    .await;
    expect_error(
        preview("blog", json!({"body": "x"}), Some("https://evil.example"))
            .await
            .unwrap(),
        403,
        "origin_not_allowed",
    )
    .await;
    expect_error(
        preview("open", json!({"body": "x", "extra": 1}), None)
            .await
            .unwrap(),
        422,
        "invalid_field",
    )
    .await;
}
