//! `/api/v1/admin/threads`: threads with their counts; lock, unlock, title and address.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::extract::{path_id, JsonBody, QueryParams};
use crate::auth::Moderator;
use crate::domain::{PageUrl, Title};
use crate::error::ApiError;
use crate::service::moderation::{self, AdminThread};
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ThreadsQuery {
    #[param(pattern = r"^[a-z0-9-]{1,64}$")]
    site: Option<String>,
    /// Text to find in the slug or the title.
    #[param(max_length = 200)]
    q: Option<String>,
    #[param(minimum = 1)]
    before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ThreadList {
    /// Newest first.
    pub threads: Vec<AdminThread>,
    pub next: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ThreadEnvelope {
    pub thread: AdminThread,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadPatch {
    /// The post's title; empty or null clears it.
    pub title: Option<String>,
    /// The post's address, on one of the site's origins; empty or null clears it.
    pub url: Option<String>,
}

/// Threads with their comments by status, newest first.
#[utoipa::path(get, path = "/api/v1/admin/threads", tag = "admin", params(ThreadsQuery),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "A page of threads", body = ThreadList),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A filter fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    _moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let super::ThreadFilter {
        site, text, before, ..
    } = super::thread_filter(&QueryParams::parse(&req)?)?;
    let st = state.clone();
    let (threads, next) = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| moderation::list_threads(
            c,
            &st.settings,
            site.as_deref(),
            text.as_deref(),
            before
        ))
    })
    .await??;
    Ok(HttpResponse::Ok().json(ThreadList { threads, next }))
}

fn thread_id(req: &HttpRequest) -> Result<i64, ApiError> {
    path_id(req, || {
        ApiError::not_found("thread_not_found", "There is no thread with this id.")
    })
}

async fn set_locked(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
    locked: bool,
) -> Result<HttpResponse, ApiError> {
    let id = thread_id(&req)?;
    let st = state.clone();
    let thread = state
        .pool
        .write_changing(None, move |conn| {
            let (t, key) = on_conn!(conn, |c| moderation::set_locked(
                c,
                &st.settings,
                &moderator.username,
                id,
                locked
            ))?;
            Ok((t, vec![key]))
        })
        .await?;
    Ok(HttpResponse::Ok().json(ThreadEnvelope { thread }))
}

/// Locks a thread: no new comments, reactions or author edits (409).
#[utoipa::path(post, path = "/api/v1/admin/threads/{id}/lock", tag = "admin",
    params(("id" = i64, Path, description = "Thread id")),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "Locked", body = ThreadEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such thread", body = crate::api::openapi::ErrorBody)))]
pub async fn lock(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_locked(req, moderator, state, true).await
}

/// Unlocks a thread.
#[utoipa::path(post, path = "/api/v1/admin/threads/{id}/unlock", tag = "admin",
    params(("id" = i64, Path, description = "Thread id")),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "Unlocked", body = ThreadEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such thread", body = crate::api::openapi::ErrorBody)))]
pub async fn unlock(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_locked(req, moderator, state, false).await
}

/// Sets a thread's title and address (both replaced; the address must be on the site).
#[utoipa::path(patch, path = "/api/v1/admin/threads/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Thread id")),
    request_body = ThreadPatch,
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The thread now", body = ThreadEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such thread", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad title, or an address not on the site", body = crate::api::openapi::ErrorBody)))]
pub async fn edit(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<ThreadPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = thread_id(&req)?;
    let title = body
        .0
        .title
        .as_deref()
        .map(Title::parse)
        .transpose()?
        .flatten();
    let url = body
        .0
        .url
        .as_deref()
        .map(PageUrl::parse)
        .transpose()?
        .flatten();
    let st = state.clone();
    let thread = state
        .pool
        .write_changing(None, move |conn| {
            let (t, key) = on_conn!(conn, |c| moderation::set_thread_meta(
                c,
                &st.settings,
                &moderator.username,
                id,
                title.as_ref(),
                url.as_ref()
            ))?;
            Ok((t, vec![key]))
        })
        .await?;
    Ok(HttpResponse::Ok().json(ThreadEnvelope { thread }))
}
