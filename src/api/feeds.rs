//! Atom feeds of the latest comments: `/feeds/{site}.atom` (the site),
//! `/feeds/{site}/thread.atom?slug=…` (one thread), and `/admin/feeds/{site}.atom` (the
//! site with the comments still held, for a logged-in moderator).
//!
//! The public feeds are kept in memory like thread pages, dropped when any thread of their
//! site changes, and answered with `ETag`/`Last-Modified` and `304 Not Modified`.

use std::time::{Duration, SystemTime};

use actix_web::http::header::{self, HttpDate};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

use super::extract::QueryParams;
use super::respond;
use crate::auth::Moderator;
use crate::cache::CachedCountsAnswer;
use crate::config::SiteSettings;
use crate::db::DbConn;
use crate::domain::{SiteId, Slug};
use crate::error::ApiError;
use crate::service::feeds::{self, Audience, FeedContext, Scope};
use crate::state::AppState;
use crate::with_conn;

pub const ATOM: &str = "application/atom+xml; charset=utf-8";

/// `/feeds/{site}.atom`: the site's latest approved comments.
pub async fn site(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let settings = site_named(&state, path.strip_suffix(".atom"))?;
    let self_url = address(&state, &format!("feeds/{}.atom", settings.id.as_str()));
    let key = format!("site\n{}", settings.id.as_str());
    public(&req, &state, settings, key, self_url, None).await
}

/// `/feeds/{site}/thread.atom?slug=…`: one thread's latest approved comments (an empty
/// feed for a thread with none yet).
pub async fn thread(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let settings = site_named(&state, Some(path.as_str()))?;
    let q = QueryParams::parse(&req)?;
    let slug =
        Slug::parse(q.require("slug")?)?.on_site("slug", |u| settings.origins.allows_url(u))?;
    let mut self_url = url::Url::parse(&address(
        &state,
        &format!("feeds/{}/thread.atom", settings.id.as_str()),
    ))
    .map_err(ApiError::internal)?;
    self_url
        .query_pairs_mut()
        .append_pair("slug", slug.as_str());
    let key = format!("thread\n{}\n{}", settings.id.as_str(), slug.as_str());
    public(
        &req,
        &state,
        settings,
        key,
        self_url.to_string(),
        Some(slug),
    )
    .await
}

/// `/admin/feeds/{site}.atom`: the site's latest comments, held ones included, for the
/// moderator whose session this is (a feed reader in the same browser).
pub async fn moderators(
    path: web::Path<String>,
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if moderator.is_none() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/admin/login"))
            .finish());
    }
    let settings = site_named(&state, path.strip_suffix(".atom"))?.clone();
    let self_url = address(
        &state,
        &format!("admin/feeds/{}.atom", settings.id.as_str()),
    );
    let admin_url = address(&state, "admin");
    let st = state.clone();
    let (body, _) = web::block(move || {
        let mut conn = st.pool.get()?;
        let cx = FeedContext {
            site: &settings,
            key: &st.key,
            self_url,
            admin_url: Some(admin_url),
        };
        write(&mut conn, &cx, &Scope::Site, Audience::Moderators)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, ATOM))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body))
}

fn site_named<'a>(state: &'a AppState, id: Option<&str>) -> Result<&'a SiteSettings, ApiError> {
    let id = id.ok_or_else(ApiError::unknown_site)?;
    let id = SiteId::parse(id).map_err(|_| ApiError::unknown_site())?;
    state.settings.site(&id).ok_or_else(ApiError::unknown_site)
}

/// An address on this server: under `public_url`, else the listen address. Never the
/// request's `Host`: feeds are cached and shared between readers.
fn address(state: &AppState, path: &str) -> String {
    match &state.settings.public_url {
        Some(base) => format!("{}/{path}", base.as_str().trim_end_matches('/')),
        None => format!("http://{}/{path}", state.settings.listen),
    }
}

fn write(
    conn: &mut DbConn,
    cx: &FeedContext<'_>,
    scope: &Scope<'_>,
    audience: Audience,
) -> Result<(Bytes, i64), ApiError> {
    let (body, updated) = with_conn!(conn, |c| feeds::read(c, cx, scope, audience))?;
    Ok((crate::compress::keep(body), updated))
}

async fn public(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    settings: &SiteSettings,
    key: String,
    self_url: String,
    slug: Option<Slug>,
) -> Result<HttpResponse, ApiError> {
    if let Some(feed) = state.cache.feed(&key) {
        return Ok(answer(req, &feed));
    }
    let site = settings.id.as_str().to_owned();
    let generation = state.cache.site_generation(&site);
    let settings = settings.clone();
    let st = state.clone();
    let (body, updated) = web::block(move || {
        let mut conn = st.pool.get()?;
        let cx = FeedContext {
            site: &settings,
            key: &st.key,
            self_url,
            admin_url: None,
        };
        let scope = match &slug {
            Some(s) => Scope::Thread(s.as_str()),
            None => Scope::Site,
        };
        write(&mut conn, &cx, &scope, Audience::Public)
    })
    .await??;
    let feed = state
        .cache
        .insert_feed(key, &site, generation, body, updated);
    Ok(answer(req, &feed))
}

/// The feed, or `304` when the reader's copy is current by its ETag or, failing one, its
/// date.
fn answer(req: &HttpRequest, feed: &CachedCountsAnswer) -> HttpResponse {
    let modified = (feed.updated > 0).then(|| {
        let micros = u64::try_from(feed.updated).unwrap_or(0);
        SystemTime::UNIX_EPOCH + Duration::from_micros(micros)
    });
    let has_etag = req.headers().contains_key(header::IF_NONE_MATCH);
    if let (false, Some(modified)) = (has_etag, modified) {
        let since = req
            .headers()
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<HttpDate>().ok())
            .map(SystemTime::from);
        // HTTP dates have whole seconds: the feed is unchanged if it changed within the
        // second the reader's copy carries, or before.
        if since.is_some_and(|s| modified < s + Duration::from_secs(1)) {
            let mut res = HttpResponse::NotModified();
            res.insert_header((header::ETAG, feed.content.etag().to_owned()))
                .insert_header((header::LAST_MODIFIED, HttpDate::from(modified)))
                .insert_header((header::CACHE_CONTROL, "no-cache"));
            return res.finish();
        }
    }
    let mut res = respond::cached(req, &feed.content, ATOM, "no-cache");
    if let Some(m) = modified {
        if let Ok(v) = header::HeaderValue::from_str(&HttpDate::from(m).to_string()) {
            res.headers_mut().insert(header::LAST_MODIFIED, v);
        }
    }
    res
}
