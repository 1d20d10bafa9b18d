//! `/api/v1/admin/comments`: the moderation queue, every comment by filter, and what
//! moderators do to them.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::positive;
use crate::api::comments::comment_id;
use crate::api::extract::{JsonBody, QueryParams};
use crate::auth::Moderator;
use crate::db::moderation::CommentFilter;
use crate::domain::{CommentBody, CommentId, Slug};
use crate::error::ApiError;
use crate::service::moderation::{self, Acted, Action, AdminComment, BulkItem};
use crate::state::AppState;
use crate::{markdown, on_conn, with_conn};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CommentsQuery {
    /// `pending`, `approved`, `spam` or `deleted`; all when absent.
    #[param(pattern = "^(pending|approved|spam|deleted)$")]
    status: Option<String>,
    #[param(pattern = r"^[a-z0-9-]{1,64}$")]
    site: Option<String>,
    /// With `site`: one thread.
    #[param(max_length = 512)]
    slug: Option<String>,
    /// One thread, by its id.
    #[param(minimum = 1)]
    thread: Option<i64>,
    /// Text to find in the comment, the author's name or email (case-insensitive).
    #[param(max_length = 200)]
    q: Option<String>,
    /// The `next` value of the previous page.
    #[param(minimum = 1)]
    before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CommentList {
    /// Newest first.
    pub comments: Vec<AdminComment>,
    /// Pass as `before` for the next page; `null` on the last page.
    pub next: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminCommentEnvelope {
    pub comment: AdminComment,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeratorEdit {
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub body: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub action: Action,
    /// At most 500 comment ids.
    #[schema(min_items = 1, max_items = 500)]
    pub ids: Vec<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResponse {
    pub results: Vec<BulkItem>,
}

pub(super) fn parse_filter(q: &QueryParams) -> Result<CommentFilter, ApiError> {
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("pending" | "approved" | "spam" | "deleted")) => Some(s.to_owned()),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_status",
                "status must be pending, approved, spam or deleted.",
            )
            .with_field("status"))
        }
    };
    let site = super::site_param(q)?;
    let slug = q
        .get("slug")
        .filter(|s| !s.is_empty())
        .map(Slug::parse)
        .transpose()?
        .map(|s| s.as_str().to_owned());
    let text = q
        .get("q")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.chars().count() > 200 {
                Err(
                    ApiError::unprocessable("query_too_long", "q may have at most 200 characters.")
                        .with_field("q"),
                )
            } else {
                Ok(s.to_lowercase())
            }
        })
        .transpose()?;
    Ok(CommentFilter {
        site,
        slug,
        thread_id: positive(q, "thread")?,
        status,
        text,
        before: positive(q, "before")?,
    })
}

/// Comments by status, site, thread and text, newest first: `?status=pending` is the queue.
#[utoipa::path(get, path = "/api/v1/admin/comments", tag = "admin", params(CommentsQuery),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "A page of comments", body = CommentList),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A filter fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    _moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let filter = parse_filter(&QueryParams::parse(&req)?)?;
    let st = state.clone();
    let (comments, next) = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| moderation::list_comments(
            c,
            &st.settings,
            &filter
        ))
    })
    .await??;
    Ok(HttpResponse::Ok().json(CommentList { comments, next }))
}

/// One comment, as moderators see it.
#[utoipa::path(get, path = "/api/v1/admin/comments/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Comment id")),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The comment", body = AdminCommentEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such comment", body = crate::api::openapi::ErrorBody)))]
pub async fn get(
    req: HttpRequest,
    _moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = comment_id(&req)?;
    let st = state.clone();
    let comment = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| moderation::get_comment(c, &st.settings, id))
    })
    .await??;
    Ok(HttpResponse::Ok().json(AdminCommentEnvelope { comment }))
}

/// Approve, spam, delete, restore or purge (delete for good) one comment.
#[utoipa::path(post, path = "/api/v1/admin/comments/{id}/{action}", tag = "admin",
    params(("id" = i64, Path, description = "Comment id"),
           ("action" = String, Path, description = "approve, spam, delete, restore or purge")),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "Done: the comment's status now", body = Acted),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such comment or action", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Deleted by its author or erased: nothing to bring back", body = crate::api::openapi::ErrorBody)))]
pub async fn act(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = comment_id(&req)?;
    let action = req
        .match_info()
        .get("action")
        .and_then(Action::parse)
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_action",
                "The action must be approve, spam, delete, restore or purge.",
            )
        })?;
    let acted = state
        .pool
        .write_changing(None, move |conn| {
            let (acted, thread) = on_conn!(conn, |c| moderation::act(
                c,
                &moderator.username,
                id,
                action
            ))?;
            Ok((acted, vec![thread]))
        })
        .await?;
    Ok(HttpResponse::Ok().json(acted))
}

/// One action on many comments at once, in one transaction.
#[utoipa::path(post, path = "/api/v1/admin/comments/bulk", tag = "admin",
    request_body = BulkRequest,
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "What became of each comment", body = BulkResponse),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "No ids, too many, or an invalid one", body = crate::api::openapi::ErrorBody)))]
pub async fn bulk(
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<BulkRequest>,
) -> Result<HttpResponse, ApiError> {
    let BulkRequest { action, ids } = body.0;
    if ids.is_empty() || ids.len() > moderation::MAX_BULK {
        return Err(ApiError::unprocessable(
            "invalid_ids",
            format!("Give 1 to {} comment ids.", moderation::MAX_BULK),
        )
        .with_field("ids"));
    }
    let ids = ids
        .into_iter()
        .map(|i| {
            CommentId::new(i).ok_or_else(|| {
                ApiError::unprocessable("invalid_ids", "Each id must be a comment id (1 or more).")
                    .with_field("ids")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let results = state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| moderation::bulk(
                c,
                &moderator.username,
                &ids,
                action
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(BulkResponse { results }))
}

/// Changes a comment's text (the author's Markdown is replaced; the change is logged).
#[utoipa::path(patch, path = "/api/v1/admin/comments/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Comment id")),
    request_body = ModeratorEdit,
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The edited comment", body = AdminCommentEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such comment", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "The comment is deleted", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "The body fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn edit(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<ModeratorEdit>,
) -> Result<HttpResponse, ApiError> {
    let id = comment_id(&req)?;
    let parsed = CommentBody::parse(&body.0.body, CommentBody::DEFAULT_MAX_CHARS)?;
    let source = parsed.as_str().to_owned();
    let html = web::block(move || markdown::render(&source)).await?;
    let st = state.clone();
    let comment = state
        .pool
        .write_changing(None, move |conn| {
            let (comment, thread) = on_conn!(conn, |c| moderation::edit(
                c,
                &st.settings,
                &moderator.username,
                id,
                parsed.as_str(),
                &html
            ))?;
            Ok((comment, vec![thread]))
        })
        .await?;
    Ok(HttpResponse::Ok().json(AdminCommentEnvelope { comment }))
}
