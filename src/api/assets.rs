//! The browser scripts (`/embed.js`, `/count.js`) and the demo article at `/`.
//!
//! The scripts are built from `embed/src` by `npm run build` in `embed/` and committed, so
//! building the server needs no Node; CI rebuilds them and fails if they differ.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use bytes::Bytes;
use sha2::Digest;

use super::respond;
use crate::cache::etag_of;
use crate::compress::Compressed;
use crate::state::AppState;

const SCRIPT_TYPE: &str = "text/javascript; charset=utf-8";
/// The address has no version in it (bloggers paste it once), so browsers keep the script
/// for a day and then ask again with its ETag; an unchanged script costs a `304`.
const SCRIPT_CACHE: &str = "public, max-age=86400";

/// A script or stylesheet of `embed/dist`, with the gzip and brotli forms its build
/// made beside it (`name.gz`, `name.br`, at their best compression).
macro_rules! asset {
    ($name:literal) => {
        LazyLock::new(|| {
            let body = Bytes::from_static(include_bytes!(concat!("../../embed/dist/", $name)));
            let etag = etag_of(&body);
            Compressed::precompressed(
                body,
                etag,
                Bytes::from_static(include_bytes!(concat!("../../embed/dist/", $name, ".gz"))),
                Bytes::from_static(include_bytes!(concat!("../../embed/dist/", $name, ".br"))),
            )
        })
    };
}

static EMBED_JS: LazyLock<Compressed> = asset!("embed.js");
static EMBED_CSS: LazyLock<Compressed> = asset!("embed.css");
static EMBED_WRITE_JS: LazyLock<Compressed> = asset!("embed-write.js");
static EMBED_ELSEWHERE_JS: LazyLock<Compressed> = asset!("embed-elsewhere.js");
static EMBED_REFUSALS_JS: LazyLock<Compressed> = asset!("embed-refusals.js");
static COUNT_JS: LazyLock<Compressed> = asset!("count.js");

/// The comments embed, its styles inside: paste it under your posts.
#[utoipa::path(method(get, head), path = "/embed.js", tag = "embed",
    responses((status = 200, description = "The script (gzip or brotli when accepted)", content_type = "text/javascript"),
              (status = 304, description = "Unchanged since the ETag given in If-None-Match")))]
pub async fn embed_js(req: HttpRequest) -> HttpResponse {
    respond::cached(&req, &EMBED_JS, SCRIPT_TYPE, SCRIPT_CACHE)
}

/// The part of the embed only writing needs (sending forms, editing, deleting): `embed.js`
/// loads it once a reader is in a form, so the first load stays small.
#[utoipa::path(method(get, head), path = "/embed-write.js", tag = "embed",
    responses((status = 200, description = "The script (gzip or brotli when accepted)", content_type = "text/javascript"),
              (status = 304, description = "Unchanged since the ETag given in If-None-Match")))]
pub async fn embed_write_js(req: HttpRequest) -> HttpResponse {
    respond::cached(&req, &EMBED_WRITE_JS, SCRIPT_TYPE, SCRIPT_CACHE)
}

/// The part of the embed only comments from elsewhere need (their origin marks, "Reply on
/// Mastodon" and the counts there): `embed.js` loads it only for a thread that has them.
#[utoipa::path(method(get, head), path = "/embed-elsewhere.js", tag = "embed",
    responses((status = 200, description = "The script (gzip or brotli when accepted)", content_type = "text/javascript"),
              (status = 304, description = "Unchanged since the ETag given in If-None-Match")))]
pub async fn embed_elsewhere_js(req: HttpRequest) -> HttpResponse {
    respond::cached(&req, &EMBED_ELSEWHERE_JS, SCRIPT_TYPE, SCRIPT_CACHE)
}

/// The server's refusals in the readers' languages: `embed-write.js` loads it the first
/// time the server refuses something to a reader who does not read English.
#[utoipa::path(method(get, head), path = "/embed-refusals.js", tag = "embed",
    responses((status = 200, description = "The script (gzip or brotli when accepted)", content_type = "text/javascript"),
              (status = 304, description = "Unchanged since the ETag given in If-None-Match")))]
pub async fn embed_refusals_js(req: HttpRequest) -> HttpResponse {
    respond::cached(&req, &EMBED_REFUSALS_JS, SCRIPT_TYPE, SCRIPT_CACHE)
}

/// The embed's styles on their own, for the HTML fragment (`/api/v1/comments.html`): the
/// same rules the script injects, so a page looks the same before and after it runs.
#[utoipa::path(method(get, head), path = "/embed.css", tag = "embed",
    responses((status = 200, description = "The stylesheet (gzip or brotli when accepted)", content_type = "text/css"),
              (status = 304, description = "Unchanged since the ETag given in If-None-Match")))]
pub async fn embed_css(req: HttpRequest) -> HttpResponse {
    respond::cached(&req, &EMBED_CSS, "text/css; charset=utf-8", SCRIPT_CACHE)
}

/// The count-only script for index pages.
#[utoipa::path(method(get, head), path = "/count.js", tag = "embed",
    responses((status = 200, description = "The script (gzip or brotli when accepted)", content_type = "text/javascript"),
              (status = 304, description = "Unchanged since the ETag given in If-None-Match")))]
pub async fn count_js(req: HttpRequest) -> HttpResponse {
    respond::cached(&req, &COUNT_JS, SCRIPT_TYPE, SCRIPT_CACHE)
}

const DEMO_STYLE: &str = "body{font:17px/1.6 Georgia,'Times New Roman',serif;max-width:42rem;\
margin:2rem auto;padding:0 1rem;color:#222;background:#fdfdfb}\
@media (prefers-color-scheme:dark){body{color:#ddd;background:#16171a}a{color:#8ab4f8}}\
header p,footer{font:14px system-ui,sans-serif;color:#777}code{font-size:.9em}\
pre{overflow-x:auto;background:rgba(127,127,127,.12);padding:.75rem;border-radius:6px}";

/// The demo article; `{SITE}` is the site its comments go to.
const DEMO_HTML: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hello from Afterword</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<p>Afterword demo · <a href="#afterword"><span data-afterword-count="/">0</span> comments</a></p>
<h1>Hello from Afterword</h1>
</header>
<main>
<p>This page is a sample blog post served by your Afterword server, so you can see the
comments below working at once. Write a comment, reply to it, edit it: everything is
stored in this server's database.</p>
<p>To put comments under your own posts, paste these two lines where the comments should
appear in your post template:</p>
<pre><code>&lt;div id="afterword"&gt;&lt;/div&gt;
&lt;script src="{ORIGIN}/embed.js"
        data-site="{SITE}" async&gt;&lt;/script&gt;</code></pre>
<p>This page shows only while Afterword runs without a config file (or with
<code>demo = true</code>). It sends a strict Content-Security-Policy, as a careful blog
would: the comments need nothing but scripts and requests from this server.</p>
<div id="afterword"></div>
<script src="/embed.js" data-site="{SITE}" data-slug="/" data-title="Hello from Afterword" async></script>
</main>
<footer><p>Afterword · self-hosted comments for static blogs</p></footer>
</body>
</html>
"##;

static DEMO_STYLE_CSP: LazyLock<String> = LazyLock::new(|| {
    let digest = sha2::Sha256::digest(DEMO_STYLE.as_bytes());
    format!(
        "default-src 'self'; img-src 'self' data:; style-src 'sha256-{}'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
});

/// `/`: a sample article with the embed, while the demo is on; otherwise nothing here.
pub async fn demo(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let site = state.settings.sites.keys().next().map(String::as_str);
    let (true, Some(site)) = (state.settings.demo, site) else {
        return super::not_found().await;
    };
    let origin = match &state.settings.public_url {
        Some(u) => u.as_str().trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    };
    // Sites ids are [a-z0-9-]; the origin is escaped since the Host header is the client's.
    let html = DEMO_HTML
        .replace("{STYLE}", DEMO_STYLE)
        .replace("{SITE}", site)
        .replace("{ORIGIN}", &html_escape(&origin));
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, DEMO_STYLE_CSP.as_str()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(html)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_could_leave_an_attribute_or_text() {
        assert_eq!(
            super::html_escape(r#"http://a"b<c>&'"#),
            "http://a&quot;b&lt;c&gt;&amp;&#39;"
        );
    }
}
