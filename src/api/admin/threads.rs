//! `/api/v1/admin/threads`: threads with their counts; lock, unlock, title and address.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::extract::{path_id, JsonBody, QueryParams};
use crate::auth::Moderator;
use crate::domain::{PageUrl, RemotePost, Title};
use crate::error::ApiError;
use crate::service::federation;
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
    /// The post's title; empty or null clears it. Sent without `url` too (when either is
    /// sent, both are replaced).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    /// The post's address, on one of the site's origins; empty or null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub url: Option<Option<String>>,
    /// The post's announcement elsewhere, whose replies become comments: a Mastodon
    /// status (`https://instance.example/@name/123`) or a Bluesky post
    /// (`https://bsky.app/profile/name.example/post/3k...`). Empty or null unlinks it;
    /// absent leaves it as it is.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub fediverse_url: Option<Option<String>>,
}

/// A field that is present, even as `null`: `Some(None)`; absent: `None` (by default).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
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

/// Sets a thread's title and address (both replaced when either is sent; the address
/// must be on the site), and links it to its announcement on Mastodon or Bluesky.
#[utoipa::path(patch, path = "/api/v1/admin/threads/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Thread id")),
    request_body = ThreadPatch,
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The thread now", body = ThreadEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such thread", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad title, an address not on the site, or a fediverse_url that is not a Mastodon status or Bluesky post", body = crate::api::openapi::ErrorBody)))]
pub async fn edit(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<ThreadPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = thread_id(&req)?;
    let patch = body.0;
    let meta = patch.title.is_some() || patch.url.is_some();
    let title = patch
        .title
        .flatten()
        .as_deref()
        .map(Title::parse)
        .transpose()?
        .flatten();
    let url = patch
        .url
        .flatten()
        .as_deref()
        .map(PageUrl::parse)
        .transpose()?
        .flatten();
    let link = patch
        .fediverse_url
        .map(|f| f.as_deref().map(RemotePost::parse).transpose())
        .transpose()?
        .map(Option::flatten);
    let st = state.clone();
    let thread = state
        .pool
        .write_changing(None, move |conn| {
            let (t, key) = on_conn!(conn, |c| {
                if let Some(link) = &link {
                    federation::link_thread(
                        c,
                        &moderator.username,
                        id,
                        link.as_ref(),
                        crate::view::now_micros(),
                    )?;
                }
                if meta {
                    moderation::set_thread_meta(
                        c,
                        &st.settings,
                        &moderator.username,
                        id,
                        title.as_ref(),
                        url.as_ref(),
                    )
                } else {
                    moderation::thread_meta(c, &st.settings, id)
                }
            })?;
            Ok((t, vec![key]))
        })
        .await?;
    Ok(HttpResponse::Ok().json(ThreadEnvelope { thread }))
}
