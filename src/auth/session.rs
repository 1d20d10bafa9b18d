//! Moderator sessions: a random token in a cookie, only its keyed hash in the database,
//! with an idle and an absolute expiry.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};

use crate::config::Settings;
use crate::db::admins::SessionRow;
use crate::db::AdminStore;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{on_conn, with_conn};

/// A session unused this long is over.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session ends this long after login, used or not.
pub const ABSOLUTE: Duration = Duration::from_secs(7 * 24 * 3600);
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY: i64 = 60 * 1_000_000;

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The cookie's name: `__Host-` when served over HTTPS, which binds it to this host and
/// path `/` with `Secure`.
pub fn cookie_name(settings: &Settings) -> &'static str {
    if is_https(settings) {
        "__Host-afterword_session"
    } else {
        "afterword_session"
    }
}

pub fn is_https(settings: &Settings) -> bool {
    settings
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https")
}

pub fn cookie(settings: &Settings, token: &str) -> Cookie<'static> {
    Cookie::build(cookie_name(settings), token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(is_https(settings))
        .finish()
}

/// A cookie that makes the browser forget the session.
pub fn removal(settings: &Settings) -> Cookie<'static> {
    let mut c = cookie(settings, "");
    c.make_removal();
    c
}

/// A session as the database knows it, checked for expiry.
pub struct Live {
    pub token_hash: String,
    pub admin: crate::db::admins::AdminRow,
    /// Whether `last_seen_at` is old enough to be written again.
    pub stale: bool,
}

/// Looks the cookie's token up; `None` when there is no such session or it has expired.
pub async fn find(
    state: &actix_web::web::Data<AppState>,
    token: &str,
) -> Result<Option<Live>, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let token_hash = state.key.hash_session_token(token);
    let st = state.clone();
    let lookup = token_hash.clone();
    let found = actix_web::web::block(move || {
        let mut conn = st.pool.get()?;
        Ok::<_, ApiError>(with_conn!(conn, |c| c.session(&lookup))?)
    })
    .await??;
    let Some((session, admin)) = found else {
        return Ok(None);
    };
    let now = crate::view::now_micros();
    if expired(&session, now) {
        end(state, token_hash).await?;
        return Ok(None);
    }
    Ok(Some(Live {
        token_hash,
        admin,
        stale: now - session.last_seen_at >= TOUCH_EVERY,
    }))
}

fn expired(s: &SessionRow, now: i64) -> bool {
    now - s.last_seen_at >= micros(IDLE) || now - s.created_at >= micros(ABSOLUTE)
}

/// Starts a session for the account; returns the token for the cookie.
pub async fn start(state: &AppState, admin_id: i64) -> Result<String, ApiError> {
    let token = crate::security::new_token();
    let now = crate::view::now_micros();
    let row = SessionRow {
        token_hash: state.key.hash_session_token(&token),
        admin_id,
        created_at: now,
        last_seen_at: now,
    };
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| {
                // Expired sessions go as new ones come: the table stays small.
                c.delete_expired_sessions(now - micros(IDLE), now - micros(ABSOLUTE))?;
                c.insert_session(&row)?;
            });
            Ok(((), Vec::new()))
        })
        .await?;
    Ok(token)
}

/// Records that the session is in use (it keeps it from idling out).
pub async fn touch(state: &AppState, token_hash: String) -> Result<(), ApiError> {
    let now = crate::view::now_micros();
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| c.touch_session(&token_hash, now))?;
            Ok(((), Vec::new()))
        })
        .await
}

/// Ends the session on the server: its cookie is worthless from now on.
pub async fn end(state: &AppState, token_hash: String) -> Result<(), ApiError> {
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| c.delete_session(&token_hash))?;
            Ok(((), Vec::new()))
        })
        .await
}
