//! `/api/v1/admin/comments/{id}/reply` and `/api/v1/admin/threads/{id}/comments`: the
//! site owner's voice. A moderator's comment is published at once under their display
//! name and marked `"moderator": true`; it may go into a locked thread.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::comments::comment_id;
use crate::api::comments::CommentEnvelope;
use crate::api::extract::{path_id, JsonBody};
use crate::auth::Moderator;
use crate::cache::ThreadKey;
use crate::db::Store;
use crate::domain::{CommentBody, CommentId, SiteId, Slug};
use crate::error::ApiError;
use crate::service::replies::{self, Poster, Reply};
use crate::state::AppState;
use crate::{markdown, on_conn, service, with_conn};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeratorComment {
    /// Markdown, as for any comment.
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub body: String,
}

fn no_thread() -> ApiError {
    ApiError::not_found("thread_not_found", "There is no thread with this id.")
}

/// Posts the moderator's comment into the thread `(site, slug)`.
async fn post(
    state: web::Data<AppState>,
    moderator: Moderator,
    site: SiteId,
    slug: Slug,
    parent_id: Option<CommentId>,
    body: ModeratorComment,
) -> Result<HttpResponse, ApiError> {
    let site = state
        .settings
        .site(&site)
        .ok_or_else(ApiError::unknown_site)?
        .clone();
    let body = CommentBody::parse(&body.body, site.max_comment_length)?;
    let source = body.as_str().to_owned();
    let html = web::block(move || markdown::render(&source)).await?;
    let key = state.key.clone();
    let thread = ThreadKey::new(&site.id, &slug);
    let bytes = body.as_str().len() + html.len();
    let comment = state
        .pool
        .write_sized(thread, bytes, move |conn| {
            let poster = Poster {
                id: moderator.id,
                username: &moderator.username,
                display_name: &moderator.display_name,
            };
            let reply = Reply {
                slug,
                parent_id,
                body,
                html,
            };
            on_conn!(conn, |c| replies::post_as_moderator(
                c, &site, &key, &poster, reply
            ))
        })
        .await?;
    Ok(HttpResponse::Created().json(CommentEnvelope { comment }))
}

/// Replies to a comment as the logged-in moderator.
#[utoipa::path(post, path = "/api/v1/admin/comments/{id}/reply", tag = "admin",
    params(("id" = i64, Path, description = "The comment replied to")),
    request_body = ModeratorComment,
    security(("admin_session" = [])),
    responses(
        (status = 201, description = "Published at once, marked as a moderator's", body = CommentEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such comment, or its site is no longer served", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "The body fails validation, or the comment is not published", body = crate::api::openapi::ErrorBody)))]
pub async fn reply(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<ModeratorComment>,
) -> Result<HttpResponse, ApiError> {
    let id = comment_id(&req)?;
    let st = state.clone();
    let owned = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| service::locate_comment(c, id))
    })
    .await??;
    post(state, moderator, owned.site, owned.slug, Some(id), body.0).await
}

/// Posts a top-level comment into a thread as the logged-in moderator.
#[utoipa::path(post, path = "/api/v1/admin/threads/{id}/comments", tag = "admin",
    params(("id" = i64, Path, description = "Thread id")),
    request_body = ModeratorComment,
    security(("admin_session" = [])),
    responses(
        (status = 201, description = "Published at once, marked as a moderator's", body = CommentEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such thread, or its site is no longer served", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "The body fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn comment(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<ModeratorComment>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, no_thread)?;
    let st = state.clone();
    let thread = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| match c.thread_by_id(id) {
            Ok(t) => Ok(t),
            Err(diesel::result::Error::NotFound) => Err(no_thread()),
            Err(e) => Err(ApiError::from(e)),
        })
    })
    .await??;
    let site = SiteId::parse(&thread.site).map_err(|_| no_thread())?;
    let slug = Slug::parse(&thread.slug).map_err(|_| no_thread())?;
    post(state, moderator, site, slug, None, body.0).await
}
