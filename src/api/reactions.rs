//! `/api/v1/reactions`: toggle a reaction on a post or a comment, read a thread's.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::comments::site_and_slug;
use super::extract::{check_write_origin, client_ip, JsonBody, QueryParams};
use crate::cache::ThreadKey;
use crate::domain::{CommentId, ReactionKind, VisitorId};
use crate::error::ApiError;
use crate::service::reactions::{self, TargetReactions, ThreadReactions, Toggle};
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReactionsQuery {
    #[param(pattern = r"^[a-z0-9-]{1,64}$", example = "default")]
    site: String,
    #[param(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    slug: String,
    /// The reader's opaque id, to mark their own reactions in `mine`.
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"
    )]
    visitor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionRequest {
    /// One of the site's reactions (`site.reactions` in a thread read).
    #[schema(example = "👍")]
    pub kind: String,
    /// React to this comment of the thread; without it, to the post itself.
    #[schema(minimum = 1)]
    pub comment_id: Option<i64>,
    /// The reader's opaque id, kept by the embed in localStorage. Only its keyed hash is stored.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub visitor: String,
    /// `true` to react, `false` to take the reaction back. Repeating either changes nothing.
    pub active: bool,
}

/// Turns one of the reader's reactions on or off. The first reaction creates the thread.
#[utoipa::path(post, path = "/api/v1/reactions", tag = "reactions",
    params(super::comments::SiteSlugQuery),
    request_body = ReactionRequest,
    responses(
        (status = 200, description = "The target's counts and this reader's reactions", body = TargetReactions),
        (status = 400, description = "Malformed JSON", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "The page's origin is not allowed for this site", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site, or no visible comment with this id in the thread", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "The thread is locked", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::api::openapi::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "Unknown kind (the message names the allowed ones), or a missing or invalid visitor", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many reactions from this address", body = crate::api::openapi::ErrorBody)))]
pub async fn toggle(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<ReactionRequest>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let (site, slug) = site_and_slug(&q, &state)?;
    let site = site.clone();
    check_write_origin(&req, &site)?;
    let b = body.0;
    let kind = ReactionKind::parse(&b.kind, &site.reactions)?;
    let visitor = VisitorId::parse(&b.visitor)?;
    let comment_id = match b.comment_id {
        None => None,
        Some(id) => Some(CommentId::new(id).ok_or_else(|| {
            ApiError::not_found(
                "comment_not_found",
                "There is no visible comment with this id in this thread.",
            )
        })?),
    };
    if let Some(ip) = client_ip(&req, &state.settings.limits) {
        state
            .reaction_limiter
            .check(ip)
            .map_err(ApiError::too_many_requests)?;
    }
    let thread = ThreadKey::new(&site.id, &slug);
    let input = Toggle {
        slug,
        comment_id,
        kind,
        visitor_hash: state.key.hash_visitor(visitor.as_str()),
        active: b.active,
    };
    let answer = state
        .pool
        .write(thread, move |conn| {
            on_conn!(conn, |c| reactions::toggle(c, &site, &input))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// Every reaction count of a thread (the post's and each comment's), and which are this
/// reader's. An unknown thread has none.
#[utoipa::path(get, path = "/api/v1/reactions", tag = "reactions", params(ReactionsQuery),
    responses(
        (status = 200, description = "The thread's reactions", body = ThreadReactions),
        (status = 400, description = "Malformed query", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A parameter fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let (site, slug) = site_and_slug(&q, &state)?;
    let site = site.clone();
    let visitor_hash = q
        .get("visitor")
        .map(VisitorId::parse)
        .transpose()?
        .map(|v| state.key.hash_visitor(v.as_str()));
    let st = state.clone();
    let answer = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| reactions::thread_reactions(
            c,
            &site,
            &slug,
            visitor_hash.as_deref()
        ))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
