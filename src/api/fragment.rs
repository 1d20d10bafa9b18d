//! Comments without JavaScript: `GET /api/v1/comments.html`, the thread as an HTML
//! fragment to pull into a page when it is built or served, and
//! `/api/v1/comments/form`, where its plain form posts (every check of the JSON endpoint,
//! through the same function), answered with `303 See Other` back to the page or with a
//! small page in the reader's language.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use bytes::Bytes;
use serde::Deserialize;
use utoipa::IntoParams;

use super::comments::{cached_page, post_comment, site_and_slug, CreateComment, Previous};
use super::extract::QueryParams;
use super::respond;
use crate::cache::{PageFormat, PageKey, ThreadKey};
use crate::compress::{Compressed, Effort};
use crate::config::{Settings, SiteSettings};
use crate::domain::{PageUrl, Sort, Title};
use crate::error::ApiError;
use crate::fragment::{self, FormSpec, FormView, Words};
use crate::service::{self, spam};
use crate::state::AppState;
use crate::view;
use crate::with_conn;

/// Stands in the cached fragment for the form token, which changes with every answer.
const TOKEN_SLOT: &str = "afterword-form-token-slot";
/// A fragment opened on its own (a paging link) runs nothing and loads only our styles.
const FRAGMENT_CSP: &str = "default-src 'none'; style-src 'self'; img-src https: data:; \
     base-uri 'none'; frame-ancestors 'none'";
/// The most a posted form may weigh.
const MAX_FORM_BYTES: usize = 64 * 1024;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FragmentQuery {
    #[param(pattern = r"^[a-z0-9-]{1,64}$", example = "default")]
    site: String,
    #[param(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    slug: String,
    /// `oldest` (default), `newest` or `top`.
    #[param(pattern = "^(oldest|newest|top)$")]
    sort: Option<String>,
    /// Top-level comments per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next` value of the previous page (the fragment's "more" link carries it).
    after: Option<String>,
    /// The words' language: `en`, `de`, `fr`, `es` or `zh` (default: the site's `language`).
    #[param(pattern = "^(en|de|fr|es|zh)$")]
    lang: Option<String>,
    /// `1` (default) includes the comment form and a reply form under each comment, `0`
    /// leaves them out.
    #[param(pattern = "^(0|1)$")]
    form: Option<String>,
    /// The post's address, on one of the site's origins: where a posted form returns to,
    /// recorded with the thread's first comment. Default: the address the thread has.
    url: Option<String>,
    /// The post's title, recorded with the thread's first comment.
    title: Option<String>,
    /// The colours without JavaScript: `light` (default), `dark`, or `auto` (the reader's
    /// system setting). The script, when it runs, follows the page's own background.
    #[param(pattern = "^(light|dark|auto)$")]
    theme: Option<String>,
}

/// The address readers reach this server at: `public_url`, else the request's own.
fn base_url(req: &HttpRequest, settings: &Settings) -> String {
    match &settings.public_url {
        Some(u) => u.as_str().trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// A language one of ours, or the site's.
fn lang_of(q: &QueryParams, site: &SiteSettings) -> Result<&'static str, ApiError> {
    match q.get("lang") {
        None => Ok(fragment::known(site.language).unwrap_or("en")),
        Some(l) => fragment::known(l).ok_or_else(|| {
            ApiError::unprocessable("invalid_lang", "lang must be one of en, de, fr, es, zh.")
                .with_field("lang")
        }),
    }
}

fn page_on_site(site: &SiteSettings, raw: &str, field: &'static str) -> Result<String, ApiError> {
    // The page, not a place in it: the comment's anchor goes there.
    let raw = raw.split('#').next().unwrap_or_default();
    let url = PageUrl::parse(raw)?.map(|u| u.as_str().to_owned());
    match url {
        Some(u) if site.origins.allows_url(&u) => Ok(u),
        _ => Err(ApiError::unprocessable(
            "url_not_on_site",
            "The page's address must be an http(s) address on one of the site's origins.",
        )
        .with_field(field)),
    }
}

/// The thread as HTML: approved comments, nested, with schema.org `Comment` microdata.
#[utoipa::path(get, path = "/api/v1/comments.html", tag = "comments", params(FragmentQuery),
    responses(
        (status = 200, description = "The page of the thread as an HTML fragment", content_type = "text/html"),
        (status = 304, description = "Unchanged since the ETag given in If-None-Match"),
        (status = 400, description = "Malformed query", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A parameter fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn html(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let (settings, slug) = site_and_slug(&q, &state)?;
    let site = settings.id.clone();
    let (sort, limit, after) = super::comments::page_params(&q)?;
    let lang = lang_of(&q, settings)?;
    let with_form = match q.get("form") {
        None | Some("1") => true,
        Some("0") => false,
        Some(_) => {
            return Err(
                ApiError::unprocessable("invalid_form", "form must be 0 or 1.").with_field("form"),
            )
        }
    };
    let url = q
        .get("url")
        .map(|u| page_on_site(settings, u, "url"))
        .transpose()?;
    let title = q
        .get("title")
        .map(Title::parse)
        .transpose()?
        .flatten()
        .map(|t| t.as_str().to_owned());
    let theme = match q.get("theme") {
        None | Some("light") => "light",
        Some("dark") => "dark",
        Some("auto") => "auto",
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_theme",
                "theme must be one of light, dark, auto.",
            )
            .with_field("theme"))
        }
    };
    let base = base_url(&req, &state.settings);
    let checks_token = settings.spam.form_token;
    let key = PageKey {
        thread: ThreadKey::new(&site, &slug),
        sort,
        limit,
        after,
        format: PageFormat::Html {
            lang,
            form: with_form,
            options: format!(
                "{base}\n{theme}\n{}\n{}",
                url.as_deref().unwrap_or(""),
                title.as_deref().unwrap_or("")
            ),
        },
    };
    let notifications = service::reply_notifications(state.mailer.is_some());
    let site_info = view::site_json(settings, notifications);
    let query_site = site.as_str().to_owned();
    let slug_text = slug.as_str().to_owned();
    // Read after a plain form's redirect: the poster's comment must be on it.
    let (page, cache) = cached_page(&state, key, Previous::Never, move |conn| {
        let page = with_conn!(conn, |c| service::read_thread(
            c, site_info, &site, &slug, sort, limit, after
        ))?;
        let json = serde_json::to_string(&page).map_err(ApiError::internal)?;
        let back = url.or_else(|| page.thread.url.clone());
        let action = {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("site", &query_site)
                .append_pair("slug", slug.as_str());
            format!("{base}/api/v1/comments/form?{}", s.finish())
        };
        let spec = FormSpec {
            action,
            notify: notifications,
            token: if checks_token {
                TOKEN_SLOT.to_owned()
            } else {
                String::new()
            },
            back: back.clone(),
            title: title.clone(),
        };
        let more = page.next.as_ref().map(|next| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("site", &query_site)
                .append_pair("slug", slug.as_str())
                .append_pair("sort", sort_name(sort))
                .append_pair("limit", &limit.get().to_string())
                .append_pair("after", next)
                .append_pair("lang", lang)
                .append_pair("form", if with_form { "1" } else { "0" })
                .append_pair("theme", theme);
            if let Some(b) = &back {
                s.append_pair("url", b);
            }
            format!("{base}/api/v1/comments.html?{}", s.finish())
        });
        let view = fragment::build(
            &page,
            fragment::script_json(&json),
            &fragment::Options {
                words: Words::new(lang),
                base: &base,
                form: with_form.then_some(&spec),
                more,
                sort: sort_name(sort),
                theme,
                feed: format!(
                    "{base}/feeds/{query_site}/thread.atom?slug={}",
                    url::form_urlencoded::byte_serialize(slug.as_str().as_bytes())
                        .collect::<String>()
                ),
            },
        );
        view.render()
            .map(crate::compress::keep)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("fragment template: {e}")))
    })
    .await?;
    let token = (checks_token && memchr_slot(page.content.identity())).then(|| {
        spam::form_token(
            &state.key,
            settings.id.as_str(),
            &slug_text,
            view::now_micros() / 1_000_000,
        )
    });
    // The token differs in every answer: the cached bytes get it filled in, under a weak
    // ETag (any token of the last days works as well as a fresh one).
    let filled;
    let content = match &token {
        Some(t) => {
            let body = String::from_utf8_lossy(page.content.identity()).replace(TOKEN_SLOT, t);
            filled = Compressed::new(
                Bytes::from(body),
                page.content.etag().to_owned(),
                Effort::Fast,
            );
            &filled
        }
        _ => &page.content,
    };
    let mut res = respond::cached(&req, content, "text/html; charset=utf-8", "no-cache");
    let h = res.headers_mut();
    if token.is_some() {
        let weak = h
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| HeaderValue::from_str(&format!("W/{v}")).ok());
        if let Some(v) = weak {
            h.insert(header::ETAG, v);
        }
    }
    h.insert(
        header::HeaderName::from_static("x-afterword-cache"),
        HeaderValue::from_static(cache),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FRAGMENT_CSP),
    );
    Ok(res)
}

fn sort_name(sort: Sort) -> &'static str {
    match sort {
        Sort::Oldest => "oldest",
        Sort::Newest => "newest",
        Sort::Top => "top",
    }
}

fn memchr_slot(body: &[u8]) -> bool {
    body.windows(TOKEN_SLOT.len())
        .any(|w| w == TOKEN_SLOT.as_bytes())
}

#[derive(Template)]
#[template(path = "fragment_page.html")]
struct ResultPage {
    words: Words,
    heading: String,
    message: String,
    form: Option<FormView>,
    back: Option<String>,
}

fn page(p: &ResultPage, status: StatusCode) -> HttpResponse {
    let body = match p.render() {
        Ok(b) => b,
        Err(e) => {
            return ApiError::internal(anyhow::anyhow!("page template: {e}")).error_response()
        }
    };
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::api::admin::ADMIN_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// What a plain form sent.
#[derive(Default)]
struct Posted {
    body: String,
    author: String,
    email: String,
    website: String,
    parent_id: String,
    notify_replies: bool,
    form_token: Option<String>,
    homepage: Option<String>,
    back: Option<String>,
    title: Option<String>,
    lang: Option<String>,
}

fn parse_form(bytes: &[u8]) -> Posted {
    let mut p = Posted::default();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        let v = v.into_owned();
        match k.as_ref() {
            "body" => p.body = v,
            "author" => p.author = v,
            "email" => p.email = v,
            "website" => p.website = v,
            "parent_id" => p.parent_id = v,
            "notify_replies" => p.notify_replies = !v.is_empty() && v != "0",
            "form_token" => p.form_token = Some(v),
            "homepage" => p.homepage = Some(v),
            "return" => p.back = Some(v),
            "title" => p.title = Some(v),
            "lang" => p.lang = Some(v),
            _ => {}
        }
    }
    p
}

/// The held notice after a plain form's `303`, and where a reader lands who reloads it.
#[utoipa::path(get, path = "/api/v1/comments/form", tag = "comments", params(super::comments::SiteSlugQuery,
        ("lang" = Option<String>, Query, description = "en, de, fr, es or zh"),
        ("return" = Option<String>, Query, description = "The post's address")),
    responses(
        (status = 200, description = "A page saying the comment awaits moderation", content_type = "text/html")))]
pub async fn held(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = QueryParams::parse(&req).ok();
    let get = |k: &str| q.as_ref().and_then(|q| q.get(k)).map(str::to_owned);
    let words =
        Words::new(&get("lang").unwrap_or_else(|| super::subscriptions::request_lang(&req).into()));
    let site = q
        .as_ref()
        .and_then(|q| site_and_slug(q, &state).ok())
        .map(|(s, _)| s);
    let back = match (site, get("return")) {
        (Some(s), Some(r)) => page_on_site(s, &r, "return").ok(),
        _ => None,
    };
    page(
        &ResultPage {
            words,
            heading: words.your_comment().to_owned(),
            message: words
                .get(if get("posted").is_some() {
                    "posted"
                } else {
                    "pending"
                })
                .to_owned(),
            form: None,
            back,
        },
        StatusCode::OK,
    )
}

/// A comment from a plain HTML form (`application/x-www-form-urlencoded`).
#[utoipa::path(post, path = "/api/v1/comments/form", tag = "comments", params(super::comments::SiteSlugQuery),
    request_body(content_type = "application/x-www-form-urlencoded", description = "body, author, email, website, parent_id, notify_replies, form_token, homepage, return (the post's address), title, lang"),
    responses(
        (status = 303, description = "Posted: back to the post at the comment, or to the held notice"),
        (status = 400, description = "Malformed query", content_type = "text/html"),
        (status = 403, description = "The page's origin is not allowed, or the author is banned", content_type = "text/html"),
        (status = 404, description = "Unknown site", content_type = "text/html"),
        (status = 409, description = "The thread is locked", content_type = "text/html"),
        (status = 413, description = "Form over 64 KiB", content_type = "text/html"),
        (status = 415, description = "Not a form", content_type = "text/html"),
        (status = 422, description = "A field fails validation (the page keeps what was written)", content_type = "text/html"),
        (status = 429, description = "Too many comments from this address", content_type = "text/html")))]
pub async fn submit(req: HttpRequest, state: web::Data<AppState>, bytes: Bytes) -> HttpResponse {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let posted = if form_type && bytes.len() <= MAX_FORM_BYTES {
        parse_form(&bytes)
    } else {
        Posted::default()
    };
    let words = Words::new(
        posted
            .lang
            .as_deref()
            .unwrap_or_else(|| super::subscriptions::request_lang(&req)),
    );
    let q = QueryParams::parse(&req);
    let located = q.and_then(|q| site_and_slug(&q, &state).map(|(s, slug)| (s.clone(), slug)));
    let outcome = match located {
        Err(e) => Err(e),
        Ok(_) if !form_type => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the form as application/x-www-form-urlencoded.",
        )),
        Ok(_) if bytes.len() > MAX_FORM_BYTES => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The form is over 64 KiB.",
        )),
        Ok((site, slug)) => post(&req, &state, site, slug, &posted).await,
    };
    match outcome {
        Ok(to) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => refused(&req, &state, words, posted, e),
    }
}

/// Posts, and says where to go next.
async fn post(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    site: SiteSettings,
    slug: crate::domain::Slug,
    p: &Posted,
) -> Result<String, ApiError> {
    let back = match p.back.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => Some(page_on_site(&site, b, "return")?),
        // No address given: the page the form was on, if it is the site's.
        None => req
            .headers()
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| page_on_site(&site, r, "return").ok()),
    };
    let parent_id = match p.parent_id.trim() {
        "" => None,
        s => Some(s.parse::<i64>().map_err(|_| {
            ApiError::unprocessable("invalid_parent", "parent_id must be a comment id.")
                .with_field("parent_id")
        })?),
    };
    let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let lang = p.lang.clone().unwrap_or_default();
    let site_id = site.id.as_str().to_owned();
    let slug_text = slug.as_str().to_owned();
    let input = CreateComment {
        body: p.body.clone(),
        author: given(&p.author),
        email: given(&p.email),
        website: given(&p.website),
        parent_id,
        notify_replies: Some(p.notify_replies),
        title: p.title.clone().filter(|t| !t.is_empty()),
        url: back.clone(),
        form_token: p.form_token.clone().filter(|t| !t.is_empty()),
        homepage: p.homepage.clone().filter(|h| !h.is_empty()),
        proof: None,
    };
    let created = post_comment(req, state, site, slug, input).await?;
    let back_to = |b: &str| {
        let mut u = b.to_owned();
        if let Some(i) = u.find('#') {
            u.truncate(i);
        }
        u
    };
    if created.comment.status == "approved" {
        if let Some(b) = &back {
            return Ok(format!(
                "{}#afterword-comment-{}",
                back_to(b),
                created.comment.id
            ));
        }
    }
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("site", &site_id)
        .append_pair("slug", &slug_text)
        .append_pair("lang", fragment::known(&lang).unwrap_or("en"));
    if let Some(b) = &back {
        s.append_pair("return", b);
    }
    let base = base_url(req, &state.settings);
    if created.comment.status == "approved" {
        // Published, but no page to go back to: say so.
        s.append_pair("posted", "1");
    }
    Ok(format!("{base}/api/v1/comments/form?{}", s.finish()))
}

/// The refusal as a page: the reason, and the form again with everything the reader wrote.
fn refused(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    words: Words,
    p: Posted,
    e: ApiError,
) -> HttpResponse {
    if e.status.is_server_error() {
        // Logged as any other: the page tells nothing of the cause.
        tracing::warn!(code = e.code, "a plain form's comment was not stored");
    }
    let q = QueryParams::parse(req).ok();
    let site = q.as_ref().and_then(|q| site_and_slug(q, state).ok());
    let back = match (&site, p.back.as_deref()) {
        (Some((s, _)), Some(b)) => page_on_site(s, b, "return").ok(),
        _ => None,
    };
    let form = site.map(|(s, slug)| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs
            .append_pair("site", s.id.as_str())
            .append_pair("slug", slug.as_str());
        let spec = FormSpec {
            action: format!(
                "{}/api/v1/comments/form?{}",
                base_url(req, &state.settings),
                pairs.finish()
            ),
            notify: service::reply_notifications(state.mailer.is_some()),
            // The token the reader sent, still good; else a fresh one.
            token: match p.form_token.clone().filter(|t| !t.is_empty()) {
                Some(t) => t,
                None if s.spam.form_token => spam::form_token(
                    &state.key,
                    s.id.as_str(),
                    slug.as_str(),
                    view::now_micros() / 1_000_000,
                ),
                None => String::new(),
            },
            back: back.clone(),
            title: p.title.clone(),
        };
        let parent = p.parent_id.trim().parse::<i64>().ok();
        let mut f = spec.form(words, "aw-p-".into(), parent);
        f.body = p.body.clone();
        f.author = p.author.clone();
        f.email = p.email.clone();
        f.website = p.website.clone();
        f.notify_checked = p.notify_replies;
        f.error = e.message.clone();
        f
    });
    let status = if e.status.is_client_error() || e.status.is_server_error() {
        e.status
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let message = if form.is_some() {
        String::new()
    } else {
        e.message.clone()
    };
    let mut res = page(
        &ResultPage {
            words,
            heading: words.not_posted().to_owned(),
            message,
            form,
            back,
        },
        status,
    );
    if let Some(secs) = e.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}
