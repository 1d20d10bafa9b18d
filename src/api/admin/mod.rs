//! `/api/v1/admin/…`: the moderators' JSON API, behind a session cookie and a CSRF token
//! (see `crate::auth`). The admin page (`/admin`) uses it.

pub mod audit;
pub mod bans;
pub mod comments;
pub mod hooks;
pub mod mail;
pub mod outbox;
pub mod overview;
pub mod page;
pub mod remote_bans;
pub mod replies;
pub mod session;
pub mod threads;
pub mod transfer;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

use crate::api::extract::QueryParams;
use crate::domain::SiteId;
use crate::error::ApiError;

/// No inline script or style, nothing from elsewhere, never in a frame.
pub const ADMIN_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The headers every admin response carries, errors included.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ADMIN_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(res)
}

/// Whether a path belongs to the admin side (no CORS there: only its own pages call it).
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin"
        || path.starts_with("/admin/")
        || path == "/api/v1/admin"
        || path.starts_with("/api/v1/admin/")
}

/// An optional positive integer parameter (ids, cursors).
pub(crate) fn positive(q: &QueryParams, name: &'static str) -> Result<Option<i64>, ApiError> {
    match q.get(name).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "invalid_number",
                    format!("{name} must be a positive integer."),
                )
                .with_field(name)
            }),
    }
}

/// The optional `site` filter.
pub(crate) fn site_param(q: &QueryParams) -> Result<Option<String>, ApiError> {
    Ok(q.get("site")
        .filter(|s| !s.is_empty())
        .map(SiteId::parse)
        .transpose()?
        .map(|s| s.as_str().to_owned()))
}

/// What the threads list is filtered by: `site`, text `q` (lower-cased) and the cursor.
pub(crate) struct ThreadFilter {
    pub site: Option<String>,
    /// As typed, for the page's search box.
    pub typed: String,
    pub text: Option<String>,
    pub before: Option<i64>,
}

pub(crate) fn thread_filter(q: &QueryParams) -> Result<ThreadFilter, ApiError> {
    let typed: String = q.get("q").unwrap_or("").trim().chars().take(200).collect();
    Ok(ThreadFilter {
        site: site_param(q)?,
        text: Some(typed.to_lowercase()).filter(|t| !t.is_empty()),
        typed,
        before: positive(q, "before")?,
    })
}
