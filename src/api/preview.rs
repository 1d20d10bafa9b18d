//! `POST /api/v1/preview`: a comment's Markdown as the server would store it, sanitized,
//! so that what a reader previews is what will be shown.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::comments::{render_markdown, SiteQuery};
use super::extract::{check_write_origin, client_ip, JsonBody, QueryParams};
use crate::domain::{CommentBody, SiteId};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// Markdown, at most the site's `max_comment_length` characters.
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewAnswer {
    /// The sanitized HTML a comment with this body would show.
    pub html: String,
}

/// Renders a comment's Markdown without storing anything.
#[utoipa::path(post, path = "/api/v1/preview", tag = "comments", params(SiteQuery),
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The HTML the comment would show", body = PreviewAnswer),
        (status = 400, description = "Malformed JSON", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "The page's origin is not allowed for this site", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::api::openapi::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "The body fails validation", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many previews from this address", body = crate::api::openapi::ErrorBody)))]
pub async fn preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<PreviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let site = SiteId::parse(q.require("site")?)?;
    let site = state
        .settings
        .site(&site)
        .ok_or_else(ApiError::unknown_site)?;
    check_write_origin(&req, site)?;
    let body = CommentBody::parse(&body.0.body, site.max_comment_length)?;
    // Rendering costs what an edit does: counted like one.
    if let Some(ip) = client_ip(&req, &state.settings.limits) {
        state
            .edit_limiter
            .check(ip)
            .map_err(ApiError::too_many_requests)?;
    }
    let html = render_markdown(&body).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(PreviewAnswer { html }))
}
