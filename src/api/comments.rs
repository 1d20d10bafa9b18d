//! `/api/v1/comments`: read a thread, post, edit and delete.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{
    bearer_token, check_write_origin, client_ip, path_id, user_agent, JsonBody, QueryParams,
};
use super::respond;
use crate::cache::{Build, CachedPage, PageFormat, PageKey, ThreadKey};
use crate::config::SiteSettings;
use crate::domain::{
    AuthorName, CommentBody, CommentId, Cursor, Email, Limit, PageUrl, SiteId, Slug, Sort, Title,
    Website,
};
use crate::error::ApiError;
use crate::security::ServerKey;
use crate::service::{self, spam, NewCommentInput};
use crate::state::AppState;
use crate::view::{self, CommentJson};
use crate::{markdown, on_conn, with_conn};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ThreadQuery {
    /// The site id.
    #[param(pattern = r"^[a-z0-9-]{1,64}$", example = "default")]
    site: String,
    /// The post's slug, usually its path: 1 to 512 bytes, no control characters.
    #[param(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    slug: String,
    /// `oldest` (default), `newest` or `top` (most reactions first).
    #[param(pattern = "^(oldest|newest|top)$")]
    sort: Option<String>,
    /// Top-level comments per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next` value of the previous page.
    after: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SiteSlugQuery {
    #[param(pattern = r"^[a-z0-9-]{1,64}$", example = "default")]
    site: String,
    #[param(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    slug: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SiteQuery {
    #[param(pattern = r"^[a-z0-9-]{1,64}$", example = "default")]
    site: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    /// Markdown, at most the site's `max_comment_length` characters (default 10,000).
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub body: String,
    #[schema(max_length = 100)]
    pub author: Option<String>,
    /// Kept for reply notifications; never shown.
    pub email: Option<String>,
    /// An http(s) address.
    pub website: Option<String>,
    /// Reply to this comment of the same thread.
    #[schema(minimum = 1)]
    pub parent_id: Option<i64>,
    /// Email me replies (needs `email`).
    pub notify_replies: Option<bool>,
    /// The post's title, recorded with the thread's first comment.
    pub title: Option<String>,
    /// The post's address, recorded with the thread's first comment.
    pub url: Option<String>,
    /// The token the thread's answer carried in its `Afterword-Form` header. Sites check
    /// it by default (`[spam] form_token`): without it, or sooner than `min_seconds` after
    /// it was handed out, the comment is filed as spam.
    #[schema(max_length = 200)]
    pub form_token: Option<String>,
    /// A field people never see: the embed sends it only if something filled it in, and
    /// then the comment is filed as spam (`[spam] honeypot`). Leave it out.
    pub homepage: Option<String>,
    /// Proof that this browser wrote an earlier approved comment with the same `email` on
    /// this site: its id and edit token. Only then does the address count as known (its
    /// avatar, and approval at once under first-time moderation); without it the author
    /// is a new commenter, whatever the address.
    pub proof: Option<OwnComment>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditComment {
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedComment {
    pub comment: CommentJson,
    /// Lets the author edit or delete the comment within the site's edit window. Shown once.
    pub edit_token: String,
    /// True whenever `notify_replies` was asked for and the server sends email: a
    /// confirmation mail goes to the address unless it was confirmed already. It says the
    /// same for every address, so it tells nothing about one. The embed says "if this is
    /// your first time, check your mail".
    pub confirmation_sent: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnCommentsRequest {
    /// The comments this reader posted in the thread, each with its edit token (at most 100).
    #[schema(max_items = 100)]
    pub comments: Vec<OwnComment>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnComment {
    #[schema(minimum = 1)]
    pub id: i64,
    /// The `edit_token` returned when the comment was posted.
    #[schema(min_length = 1, max_length = 256)]
    pub edit_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct OwnCommentsResponse {
    /// Those still pending or approved, with their current state; any other is left out.
    pub comments: Vec<CommentJson>,
}

#[derive(Serialize, ToSchema)]
pub struct CommentEnvelope {
    pub comment: CommentJson,
}

/// The site (its settings) and the slug a request names.
pub(super) fn site_and_slug<'a>(
    q: &QueryParams,
    state: &'a AppState,
) -> Result<(&'a SiteSettings, Slug), ApiError> {
    let site = SiteId::parse(q.require("site")?)?;
    let slug = Slug::parse(q.require("slug")?)?;
    let settings = state
        .settings
        .site(&site)
        .ok_or_else(ApiError::unknown_site)?;
    let slug = slug.on_site("slug", |u| settings.origins.allows_url(u))?;
    Ok((settings, slug))
}

/// The thread: one page of top-level comments, each with all its replies.
#[utoipa::path(get, path = "/api/v1/comments", tag = "comments", params(ThreadQuery),
    responses(
        (status = 200, description = "A page of the thread (empty for an unknown thread)", body = crate::view::ThreadPage),
        (status = 304, description = "Unchanged since the ETag given in If-None-Match"),
        (status = 400, description = "Malformed query", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A parameter fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let (settings, slug) = site_and_slug(&q, &state)?;
    let site = settings.id.clone();
    let (sort, limit, after) = page_params(&q)?;
    // Only for a site that checks it: the one cost it adds to a thread read.
    let form_token = settings
        .spam
        .form_token
        .then(|| form_token_header(&state, &site, &slug));
    let key = PageKey {
        thread: ThreadKey::new(&site, &slug),
        sort,
        limit,
        after,
        format: PageFormat::Json,
    };
    let site_info = view::site_json(
        settings,
        service::reply_notifications(state.mailer.is_some()),
    );
    let (page, cache) = cached_page(&state, key, Previous::WhileRebuilding, move |conn| {
        let page = with_conn!(conn, |c| service::read_thread(
            c, site_info, &site, &slug, sort, limit, after
        ))?;
        serde_json::to_vec(&page)
            .map(crate::compress::keep)
            .map_err(ApiError::internal)
    })
    .await?;
    Ok(page_response(&req, &page, cache, form_token.flatten()))
}

/// Which page of a thread a query asks for: `sort` (oldest first by default), `limit` and
/// the `after` cursor of the page before. Shared by the JSON and the HTML answers.
pub(super) fn page_params(q: &QueryParams) -> Result<(Sort, Limit, Option<Cursor>), ApiError> {
    let sort = q
        .get("sort")
        .map(Sort::parse)
        .transpose()?
        .unwrap_or(Sort::Oldest);
    let limit = q
        .get("limit")
        .map(Limit::parse)
        .transpose()?
        .unwrap_or(Limit::DEFAULT);
    let after = q.get("after").map(|a| Cursor::parse(a, sort)).transpose()?;
    Ok((sort, limit, after))
}

/// Whether a reader may get the page from before a change while it is rebuilt.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Previous {
    /// Yes, for at most [`REBUILD_GRACE`] (the embed shows its reader's own new comment
    /// from the answer to the post).
    WhileRebuilding,
    /// No: wait for the rebuild.
    Never,
}

/// How long readers of a page being rebuilt after a change get the page from before the
/// change instead of waiting: a rebuild takes a few milliseconds; one slower than this
/// (a slow database) makes them wait for it, as the first readers of a page always do.
pub(super) const REBUILD_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// A page from memory, else built by `build` on a pooled connection and kept, with what
/// answered (`hit`, `miss`, `rebuilding`: the page from before the latest change while
/// another request rebuilds it, for at most [`REBUILD_GRACE`], or `stale`: kept from
/// before the database became unreachable, see `ThreadCache::get_stale`). One request
/// rebuilds a changed page while the others read the previous one, instead of all of them
/// queueing behind the rebuild: on a thread being written to, those queues were most of
/// the time (reads fell to 0.43 of plain reads with 1 request in 100 a post). Bounded:
/// after a few waits for other builders of the same page, it builds it itself. With the
/// cache off (PostgreSQL listener down) waiting would gain nothing. `Previous::Never` for
/// answers whose reader cannot show their own new comment by themselves (the HTML
/// fragment, read after a no-JavaScript post's redirect): those always wait.
pub(super) async fn cached_page<F>(
    state: &web::Data<AppState>,
    key: PageKey,
    previous: Previous,
    build: F,
) -> Result<(std::sync::Arc<CachedPage>, &'static str), ApiError>
where
    F: FnOnce(&mut crate::db::DbConn) -> Result<Bytes, ApiError> + Send + 'static,
{
    let mut guard = None;
    let rounds = if state.cache.is_enabled() { 3 } else { 0 };
    for _ in 0..rounds {
        if let Some(page) = state.cache.get(&key) {
            return Ok((page, "hit"));
        }
        match state.cache.begin_build(&key) {
            Build::Mine(g) => {
                guard = Some(g);
                break;
            }
            Build::Wait(mut rx, began) => {
                if previous == Previous::WhileRebuilding && began.elapsed() < REBUILD_GRACE {
                    if let Some(page) = state.cache.previous(&key) {
                        return Ok((page, "rebuilding"));
                    }
                }
                let _ = rx.changed().await;
            }
        }
    }
    // The database cannot be reached: what was kept is answered at once, marked stale,
    // rather than after the read's timeout.
    if state.pool.writer_health().is_err() {
        if let Some(page) = state.cache.get_stale(&key) {
            return Ok((page, "stale"));
        }
    }
    let generation = state.cache.generation(&key.thread);
    let body = match state.pool.read(build).await {
        Ok(body) => body,
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => {
            return state.cache.get_stale(&key).map(|p| (p, "stale")).ok_or(e);
        }
        Err(e) => return Err(e),
    };
    let page = state.cache.insert(key, generation, body);
    drop(guard);
    Ok((page, "miss"))
}

/// The `Afterword-Form` header of a thread read: a token signed for this thread and this
/// second. Each worker thread keeps the last one it signed, so a busy thread is signed
/// once a second per worker rather than on every read (an HMAC and its formatting were a
/// few per cent of a cached read).
fn form_token_header(state: &AppState, site: &SiteId, slug: &Slug) -> Option<header::HeaderValue> {
    type Last = Option<(i64, String, String, header::HeaderValue)>;
    thread_local! {
        static LAST: std::cell::RefCell<Last> = const { std::cell::RefCell::new(None) };
    }
    let now = view::now_micros() / 1_000_000;
    LAST.with_borrow_mut(|last| {
        if let Some((at, s, p, value)) = last.as_ref() {
            if *at == now && s == site.as_str() && p == slug.as_str() {
                return Some(value.clone());
            }
        }
        let token = spam::form_token(&state.key, site.as_str(), slug.as_str(), now);
        let value = header::HeaderValue::from_str(&token).ok()?;
        *last = Some((
            now,
            site.as_str().to_owned(),
            slug.as_str().to_owned(),
            value.clone(),
        ));
        Some(value)
    })
}

/// `X-Afterword-Cache` tells operators (and the benchmark) whether memory answered:
/// `hit`, `miss`, `rebuilding` (the page from before a change, while it is rebuilt), or
/// `stale` (kept from before the database became unreachable).
/// Each answer, cached page or not, carries a fresh form token for the spam checks (when
/// the site checks it).
fn page_response(
    req: &HttpRequest,
    page: &CachedPage,
    cache: &'static str,
    form_token: Option<header::HeaderValue>,
) -> HttpResponse {
    let mut res = respond::cached(req, &page.content, "application/json", "no-cache");
    let headers = res.headers_mut();
    headers.insert(
        header::HeaderName::from_static("x-afterword-cache"),
        header::HeaderValue::from_static(cache),
    );
    if let Some(v) = form_token {
        headers.insert(header::HeaderName::from_static(spam::FORM_TOKEN_HEADER), v);
    }
    res
}

/// Posts a comment or a reply. The first comment creates the thread.
#[utoipa::path(post, path = "/api/v1/comments", tag = "comments", params(SiteSlugQuery),
    request_body = CreateComment,
    responses(
        (status = 201, description = "Stored; `edit_token` is shown only now", body = CreatedComment),
        (status = 400, description = "Malformed JSON", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "The page's origin is not allowed for this site", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "The thread is locked", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::api::openapi::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A field fails validation", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many comments from this address", body = crate::api::openapi::ErrorBody)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<CreateComment>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let (site, slug) = site_and_slug(&q, &state)?;
    let created = post_comment(&req, &state, site.clone(), slug, body.0).await?;
    // It carries the edit token: no cache may keep it.
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedComment {
            comment: created.comment,
            edit_token: created.edit_token,
            confirmation_sent: created.confirmation_sent,
        }))
}

/// Every check a new comment passes (origin, spam, duplicates, rate limit, then in the
/// write bans, names, locks and moderation) and its storing: the JSON endpoint and the
/// plain HTML form (`api::fragment`) both post through here.
pub(super) async fn post_comment(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    site: SiteSettings,
    slug: Slug,
    b: CreateComment,
) -> Result<service::Created, ApiError> {
    let req = req.clone();
    let site_id = site.id.clone();
    check_write_origin(&req, &site)?;
    let email = b.email.as_deref().map(Email::parse).transpose()?.flatten();
    let notify_replies = b.notify_replies.unwrap_or(false);
    if notify_replies && email.is_none() {
        return Err(ApiError::unprocessable(
            "email_required",
            "notify_replies needs an email address to write to.",
        )
        .with_field("notify_replies"));
    }
    let parent_id = match b.parent_id {
        None => None,
        Some(id) => Some(CommentId::new(id).ok_or_else(|| {
            ApiError::unprocessable("invalid_parent", "parent_id must be a comment id.")
                .with_field("parent_id")
        })?),
    };
    let body_md = CommentBody::parse(&b.body, site.max_comment_length)?;
    let ip = client_ip(&req, &state.settings.limits);
    let client = ip.map(|i| i.to_string());
    let now = view::now_micros();
    let mut verdict = spam::check(
        &site.spam,
        &state.key,
        &spam::Submission {
            site: site_id.as_str(),
            slug: slug.as_str(),
            body: body_md.as_str(),
            author: b.author.as_deref(),
            email: b.email.as_deref(),
            website: b.website.as_deref(),
            honeypot: b.homepage.as_deref(),
            form_token: b.form_token.as_deref(),
        },
        now / 1_000_000,
    );
    // Hashed once: checked now, remembered once the comment is stored.
    let text_key = state.recent_texts.key(&spam::Posted {
        site: site_id.as_str(),
        slug: slug.as_str(),
        client: client.as_deref(),
        body: body_md.as_str(),
    });
    if verdict == spam::Verdict::Clean {
        verdict = state
            .recent_texts
            .check(site.spam.duplicates, &text_key, now);
    }
    crate::metrics::spam_verdict(&verdict);
    let mut input = NewCommentInput {
        slug: slug.clone(),
        html: String::new(),
        body: body_md,
        author: b
            .author
            .as_deref()
            .map(AuthorName::parse)
            .transpose()?
            .flatten(),
        email,
        website: b
            .website
            .as_deref()
            .map(Website::parse)
            .transpose()?
            .flatten(),
        parent_id,
        notify_replies,
        title: b.title.as_deref().map(Title::parse).transpose()?.flatten(),
        url: b.url.as_deref().map(PageUrl::parse).transpose()?.flatten(),
        ip: client,
        user_agent: user_agent(&req),
        moderator_id: None,
        email_on: state.mailer.is_some(),
        spam: verdict,
        lang: super::subscriptions::request_lang(&req),
        proof: b.proof.map(|p| (p.id, p.edit_token)),
        author_checked: None,
    };
    if let Some(ip) = ip {
        state
            .comment_limiter
            .check(ip)
            .map_err(ApiError::too_many_requests)?;
    }
    input.html = render_markdown(&input.body).await?;
    // On PostgreSQL names and bans are read here, beside the writer rather than in it,
    // where each would be a round trip. On SQLite a read in the writer costs less than
    // this hop to a read connection (measured: 7 % fewer comments a second).
    // Bounded like every read: on a database that does not answer, 503 within the write
    // timeout, nothing stored.
    if state.pool.is_postgres() {
        let key = state.key.clone();
        let checked_site = site.clone();
        let (held, back) = state
            .pool
            .read(move |conn| {
                let held = with_conn!(conn, |c| service::check_author_early(
                    c,
                    &checked_site,
                    &key,
                    &input,
                    now
                ))?;
                Ok((held, input))
            })
            .await?;
        input = back;
        input.author_checked = Some(held);
    }
    let key = state.key.clone();
    let mailer = state.mailer.clone();
    // What the queue holds for it: the text twice (Markdown and HTML) and the rest.
    let bytes = input.body.as_str().len() + input.html.len() + 1024;
    let created = state
        .pool
        .write_sized(ThreadKey::new(&site_id, &slug), bytes, move |conn| {
            on_conn!(conn, |c| {
                let created = service::create_comment(c, &site, &key, &input)?;
                // The confirmation of a request for reply mail answers the commenter's
                // own request: queued at once, in the comment's write.
                if let (Some(mailer), Some(r)) = (&mailer, &created.reply_mail) {
                    crate::email::replies::subscribe(
                        c,
                        mailer,
                        &r.thread,
                        &r.email_key,
                        r.lang,
                        crate::email::replies::Follow::Replies,
                        r.at,
                    )?;
                }
                Ok(created)
            })
        })
        .await?;
    // Only a stored comment counts as posted: one refused (or lost to a failed write) may
    // be sent again as it was.
    state.recent_texts.record(text_key, now);
    Ok(created)
}

/// The state of the reader's own comments in a thread, proven by their edit tokens: how
/// the embed keeps showing a comment that awaits moderation to its author, and learns when
/// it was approved (it is in the thread) or refused (it is left out).
#[utoipa::path(post, path = "/api/v1/comments/mine", tag = "comments", params(SiteSlugQuery),
    request_body = OwnCommentsRequest,
    responses(
        (status = 200, description = "The reader's pending and approved comments among those asked about", body = OwnCommentsResponse),
        (status = 400, description = "Malformed JSON", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "The page's origin is not allowed for this site", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::api::openapi::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "Too many comments, or an invalid id or token", body = crate::api::openapi::ErrorBody)))]
pub async fn mine(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<OwnCommentsRequest>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let (site, slug) = site_and_slug(&q, &state)?;
    let site_id = site.id.clone();
    check_write_origin(&req, site)?;
    let asked = body.0.comments;
    if asked.len() > service::MAX_OWN_COMMENTS {
        return Err(ApiError::unprocessable(
            "too_many_comments",
            format!(
                "Ask about at most {} comments at once; this asked about {}.",
                service::MAX_OWN_COMMENTS,
                asked.len()
            ),
        )
        .with_field("comments"));
    }
    let claims = asked
        .into_iter()
        .map(|c| {
            let id = CommentId::new(c.id).ok_or_else(|| {
                ApiError::unprocessable("invalid_id", "Each id must be a comment id (1 or more).")
                    .with_field("comments")
            })?;
            if c.edit_token.is_empty() || c.edit_token.len() > 256 {
                return Err(ApiError::unprocessable(
                    "invalid_token",
                    "Each edit_token must be the token returned when the comment was posted.",
                )
                .with_field("comments"));
            }
            Ok((id, c.edit_token))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let st = state.clone();
    let comments = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| service::own_comments(
            c, &st.key, &site_id, &slug, &claims
        ))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(OwnCommentsResponse { comments }))
}

/// Markdown to HTML off the async workers (and off the database writer).
pub(super) async fn render_markdown(body: &CommentBody) -> Result<String, ApiError> {
    let source = body.as_str().to_owned();
    Ok(web::block(move || markdown::render(&source)).await?)
}

/// What an edit or a delete starts with: the comment, its thread and site, the token,
/// and a page allowed to change comments of that site.
struct AuthorRequest {
    id: CommentId,
    token: String,
    owned: service::Owned,
    site: SiteSettings,
}

impl AuthorRequest {
    fn thread(&self) -> ThreadKey {
        ThreadKey::new(&self.owned.site, &self.owned.slug)
    }

    fn action<'a>(&'a self, key: &'a ServerKey) -> service::AuthorAction<'a> {
        service::AuthorAction {
            key,
            site: &self.site,
            owned: &self.owned,
            id: self.id,
            token: &self.token,
        }
    }
}

async fn author_request(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<AuthorRequest, ApiError> {
    let id = comment_id(req)?;
    let token = bearer_token(req)?;
    if let Some(ip) = client_ip(req, &state.settings.limits) {
        state
            .edit_limiter
            .check(ip)
            .map_err(ApiError::too_many_requests)?;
    }
    let st = state.clone();
    let owned = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| service::locate_comment(c, id))
    })
    .await??;
    let site = state
        .settings
        .site(&owned.site)
        .ok_or_else(ApiError::comment_not_found)?
        .clone();
    check_write_origin(req, &site)?;
    Ok(AuthorRequest {
        id,
        token,
        owned,
        site,
    })
}

pub(super) fn comment_id(req: &HttpRequest) -> Result<CommentId, ApiError> {
    path_id(req, ApiError::comment_not_found).map(CommentId)
}

/// Edits one's own comment within the site's edit window.
#[utoipa::path(patch, path = "/api/v1/comments/{id}", tag = "comments",
    params(("id" = i64, Path, description = "Comment id")),
    request_body = EditComment,
    security(("edit_token" = [])),
    responses(
        (status = 200, description = "The edited comment", body = CommentEnvelope),
        (status = 400, description = "Malformed JSON", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::api::openapi::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::api::openapi::ErrorBody),
        (status = 401, description = "No edit token", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "Wrong token, closed edit window or foreign origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such comment", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "The thread is locked", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "The body fails validation", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many edits from this address", body = crate::api::openapi::ErrorBody)))]
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<EditComment>,
) -> Result<HttpResponse, ApiError> {
    let request = author_request(&req, &state).await?;
    let new_body = CommentBody::parse(&body.0.body, request.site.max_comment_length)?;
    let html = render_markdown(&new_body).await?;
    let key = state.key.clone();
    let bytes = new_body.as_str().len() + html.len();
    let comment = state
        .pool
        .write_sized(request.thread(), bytes, move |conn| {
            let action = request.action(&key);
            on_conn!(conn, |c| service::edit_comment(
                c, &action, &new_body, &html
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(CommentEnvelope { comment }))
}

/// Deletes one's own comment within the edit window. With replies it stays as a placeholder.
#[utoipa::path(delete, path = "/api/v1/comments/{id}", tag = "comments",
    params(("id" = i64, Path, description = "Comment id")),
    security(("edit_token" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No edit token", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "Wrong token, closed edit window or foreign origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such comment", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "The thread is locked", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many deletes from this address", body = crate::api::openapi::ErrorBody)))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = author_request(&req, &state).await?;
    let key = state.key.clone();
    state
        .pool
        .write(request.thread(), move |conn| {
            let action = request.action(&key);
            on_conn!(conn, |c| service::delete_comment(c, &action))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
