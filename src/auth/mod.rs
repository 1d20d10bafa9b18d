//! Who may moderate: accounts, passwords, sessions, CSRF.
//!
//! A moderator logs in with a username and password (argon2id), and gets a session cookie
//! (`HttpOnly`, `SameSite=Strict`, `__Host-`/`Secure` over HTTPS). Every state-changing
//! request must also carry the session's CSRF token in `X-CSRF-Token` and must not come
//! from a foreign `Origin`; GET never changes anything.

pub mod accounts;
pub mod limiter;
pub mod password;
pub mod session;

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::config::Settings;
use crate::error::ApiError;
use crate::state::AppState;

/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A logged-in moderator, with a live session. As an extractor it also enforces the CSRF
/// and Origin rules on every method that can change state.
#[derive(Debug, Clone)]
pub struct Moderator {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// The keyed hash of the session token (the database's key for the session).
    pub session: String,
    pub csrf_token: String,
}

pub fn not_logged_in() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "not_logged_in",
        "Log in at /admin first (or your session has expired).",
    )
}

fn csrf_refused() -> ApiError {
    ApiError::forbidden(
        "csrf_token_invalid",
        "This request lacks the session's CSRF token (header X-CSRF-Token); reload the page.",
    )
}

/// Refuses a request that a browser sent from another site. Requests without `Origin`
/// (command-line clients) pass: they still need the CSRF token, which only our pages hold.
pub fn check_same_origin(req: &HttpRequest, settings: &Settings) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return match req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
        {
            Some("cross-site") | Some("same-site") => Err(foreign_origin()),
            _ => Ok(()),
        };
    };
    let origin = origin.to_str().map_err(|_| foreign_origin())?;
    if is_own_origin(req, settings, origin) {
        Ok(())
    } else {
        Err(foreign_origin())
    }
}

fn is_own_origin(req: &HttpRequest, settings: &Settings, origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    if let Some(public) = &settings.public_url {
        if public.origin() == url.origin() {
            return true;
        }
    }
    // Without a reverse proxy the browser's Host is ours.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let with_port = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return false,
    };
    !host.is_empty() && host.eq_ignore_ascii_case(&with_port)
}

fn foreign_origin() -> ApiError {
    ApiError::forbidden(
        "origin_refused",
        "Moderation requests must come from the admin page itself.",
    )
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

impl FromRequest for Moderator {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let name = session::cookie_name(&state.settings);
            let token = req.cookie(name).map(|c| c.value().to_owned());
            let live = match token {
                Some(t) => session::find(&state, &t).await?,
                None => None,
            };
            let live = live.ok_or_else(not_logged_in)?;
            let csrf_token = state.key.csrf_token(&live.token_hash);
            if !is_safe(req.method()) {
                check_same_origin(&req, &state.settings)?;
                let presented = req
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !state.key.verify_csrf_token(&live.token_hash, presented) {
                    return Err(csrf_refused());
                }
            }
            if live.stale {
                session::touch(&state, live.token_hash.clone()).await?;
            }
            Ok(Moderator {
                id: live.admin.id,
                username: live.admin.username,
                display_name: live.admin.display_name,
                session: live.token_hash,
                csrf_token,
            })
        })
    }
}
