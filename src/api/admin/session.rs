//! Logging in and out, who am I, changing one's password.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::extract::{client_ip, JsonBody};
use crate::auth::accounts::Username;
use crate::auth::password::Password;
use crate::auth::{self, session, Moderator};
use crate::db::AdminStore;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    #[schema(max_length = 1024, format = Password)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    pub username: String,
    pub display_name: String,
    /// Send it as `X-CSRF-Token` with every request that changes something.
    pub csrf_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(max_length = 1024, format = Password)]
    pub current_password: String,
    #[schema(min_length = 8, max_length = 1024, format = Password)]
    pub new_password: String,
}

fn wrong_credentials() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "Wrong username or password.",
    )
}

/// The account a login names, if its password matches; rate-limited per account and
/// per address. Shared by the JSON API and the login form.
pub async fn authenticate(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    username: &str,
    password: String,
) -> Result<crate::db::admins::AdminRow, ApiError> {
    auth::check_same_origin(req, &state.settings)?;
    let ip = client_ip(req, &state.settings.limits);
    // An invalid name is simply a wrong one: the answer must not tell them apart.
    let name = Username::parse(username).ok();
    let limit_key = name
        .as_ref()
        .map_or_else(|| username.to_ascii_lowercase(), |n| n.as_str().to_owned());
    // Counted as a failure from here on, unless the password turns out right.
    let attempt = state.login_limiter.begin(&limit_key, ip).map_err(|secs| {
        let mut e = ApiError::too_many_requests(secs);
        e.message = format!("Too many failed logins; try again in {secs} s.");
        e
    })?;
    let password = Password::presented(password)?;
    let st = state.clone();
    let lookup = name.clone();
    let checked = async {
        let account = web::block(move || -> Result<_, ApiError> {
            let Some(name) = lookup else { return Ok(None) };
            let mut conn = st.pool.get()?;
            Ok(with_conn!(conn, |c| c.admin_by_username(name.as_str()))?)
        })
        .await??;
        let phc = account.as_ref().map(|a| a.password_hash.clone());
        Ok::<_, ApiError>((state.hasher.verify(password, phc).await?, account))
    };
    let (ok, account) = match checked.await {
        Ok(found) => found,
        Err(e) => {
            attempt.undecided();
            return Err(e);
        }
    };
    match account {
        Some(a) if ok => {
            attempt.succeeded();
            Ok(a)
        }
        _ => {
            tracing::warn!(ip = ?ip, "failed moderator login");
            Err(wrong_credentials())
        }
    }
}

/// Logs a moderator in: sets the session cookie and returns the CSRF token.
#[utoipa::path(post, path = "/api/v1/admin/login", tag = "admin",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = SessionInfo),
        (status = 401, description = "Wrong username or password", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "Sent from another site", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "Password over 1 KiB", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many failed logins for this account or address", body = crate::api::openapi::ErrorBody)))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { username, password } = body.0;
    let admin = authenticate(&req, &state, &username, password).await?;
    let token = session::start(&state, admin.id).await?;
    let hash = state.key.hash_session_token(&token);
    Ok(HttpResponse::Ok()
        .cookie(session::cookie(&state.settings, &token))
        .json(SessionInfo {
            username: admin.username,
            display_name: admin.display_name,
            csrf_token: state.key.csrf_token(&hash),
        }))
}

/// Ends the session on the server and clears the cookie.
#[utoipa::path(post, path = "/api/v1/admin/logout", tag = "admin",
    security(("admin_session" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody)))]
pub async fn logout(
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    session::end(&state, moderator.session).await?;
    Ok(HttpResponse::NoContent()
        .cookie(session::removal(&state.settings))
        .finish())
}

/// Who is logged in, with the session's CSRF token.
#[utoipa::path(get, path = "/api/v1/admin/session", tag = "admin",
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The logged-in moderator", body = SessionInfo),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody)))]
pub async fn whoami(moderator: Moderator) -> HttpResponse {
    HttpResponse::Ok().json(SessionInfo {
        username: moderator.username,
        display_name: moderator.display_name,
        csrf_token: moderator.csrf_token,
    })
}

/// Changes one's password: every session of the account ends, this one is replaced.
#[utoipa::path(post, path = "/api/v1/admin/password", tag = "admin",
    request_body = PasswordChange,
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "Changed; a new session cookie is set", body = SessionInfo),
        (status = 401, description = "Not logged in, or the current password is wrong", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "The new password is too short or too long", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts", body = crate::api::openapi::ErrorBody)))]
pub async fn change_password(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.0;
    let new_password = Password::new_choice(new_password)?;
    let admin = authenticate(&req, &state, &moderator.username, current_password).await?;
    let hash = state.hasher.hash(new_password).await?;
    let now = crate::view::now_micros();
    let id = admin.id;
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| c.set_password(id, &hash, now))?;
            Ok(((), Vec::new()))
        })
        .await?;
    let token = session::start(&state, id).await?;
    let hash = state.key.hash_session_token(&token);
    Ok(HttpResponse::Ok()
        .cookie(session::cookie(&state.settings, &token))
        .json(SessionInfo {
            username: admin.username,
            display_name: admin.display_name,
            csrf_token: state.key.csrf_token(&hash),
        }))
}
