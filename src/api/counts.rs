//! `/api/v1/counts`: approved comments per thread, for index pages. One query for all slugs.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{parse_json, QueryParams, RawJson};
use super::respond;
use crate::cache::{Tally, ThreadKey};
use crate::compress::{Compressed, Effort};
use crate::domain::{SiteId, Slug};
use crate::error::ApiError;
use crate::service;
use crate::state::AppState;
use crate::with_conn;

pub const MAX_SLUGS: usize = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CountsQuery {
    #[param(pattern = r"^[a-z0-9-]{1,64}$", example = "default")]
    site: String,
    /// Repeat for each thread, 1 to 1000 times.
    #[param(min_items = 1, max_items = 1000)]
    slug: Vec<String>,
    /// `1` (or `true`) adds `reactions`: the reactions on each post.
    #[param(pattern = "^(0|1|true|false)$")]
    reactions: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountsRequest {
    #[schema(pattern = r"^[a-z0-9-]{1,64}$", example = "default")]
    pub site: String,
    /// 1 to 1000 slugs.
    #[schema(min_items = 1, max_items = 1000)]
    pub slugs: Vec<String>,
    /// Also answer `reactions`: the reactions on each post.
    pub reactions: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct CountsResponse {
    /// Every slug asked for, with its number of approved comments (0 for unknown threads).
    #[schema(value_type = BTreeMap<String, i64>)]
    pub counts: BTreeMap<String, i64>,
    /// Asked with `reactions`: every slug with the number of reactions on the post itself
    /// (not on its comments).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, i64>>)]
    pub reactions: Option<BTreeMap<String, i64>>,
}

/// Comment counts for up to 1000 threads (query string).
#[utoipa::path(get, path = "/api/v1/counts", tag = "counts", params(CountsQuery),
    responses(
        (status = 200, body = CountsResponse),
        (status = 400, description = "Malformed query string", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "Too many or invalid slugs", body = crate::api::openapi::ErrorBody)))]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Index pages ask the same question on every view: answer it from memory while no
    // thread of the site has changed.
    let raw = req.query_string();
    if let Some(answer) = state.cache.counts_answer(raw) {
        return Ok(counts_response(&req, &answer.content));
    }
    // The database cannot be reached: the answer kept from before, marked stale, at once.
    let stale = || stale_answer(&req, &state, raw);
    if state.pool.writer_health().is_err() {
        if let Some(res) = stale() {
            return Ok(res);
        }
    }
    let q = QueryParams::parse(&req)?;
    let site = q.require("site")?.to_owned();
    let generation = state.cache.site_generation(&site);
    let slugs: Vec<String> = q.all("slug").map(str::to_owned).collect();
    let reactions = match q.get("reactions") {
        None | Some("0" | "false") => false,
        Some("1" | "true") => true,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_reactions",
                "reactions must be 1 (or true) to add reaction totals, or 0.",
            )
            .with_field("reactions"))
        }
    };
    let counts = match answer(&state, &site, slugs, "slug", reactions).await {
        Ok(counts) => counts,
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => return stale().ok_or(e),
        Err(e) => return Err(e),
    };
    let body = serialize(&counts)?;
    let answer = state
        .cache
        .insert_counts_answer(raw.to_owned(), &site, generation, body);
    Ok(counts_response(&req, &answer.content))
}

/// Comment counts for up to 1000 threads (JSON body).
#[utoipa::path(post, path = "/api/v1/counts", tag = "counts", request_body = CountsRequest,
    responses(
        (status = 200, body = CountsResponse),
        (status = 400, description = "Malformed JSON", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::api::openapi::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "Too many or invalid slugs", body = crate::api::openapi::ErrorBody)))]
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: RawJson,
) -> Result<HttpResponse, ApiError> {
    // Index pages with many posts ask by POST (the embed does past a 2,000-character URL),
    // the same question on every view: the answer is kept under the body's exact text, as
    // a GET's is under its query string, while no thread of the site changes. A newline
    // starts no query string, so the two never share a key.
    let key = std::str::from_utf8(&body.0)
        .ok()
        .map(|text| format!("\npost\n{text}"));
    if let Some(answer) = key.as_deref().and_then(|k| state.cache.counts_answer(k)) {
        return Ok(counts_response(&req, &answer.content));
    }
    let stale = || key.as_deref().and_then(|k| stale_answer(&req, &state, k));
    if state.pool.writer_health().is_err() {
        if let Some(res) = stale() {
            return Ok(res);
        }
    }
    let CountsRequest {
        site,
        slugs,
        reactions,
    } = parse_json(&body.0)?;
    let generation = state.cache.site_generation(&site);
    let counts = match answer(&state, &site, slugs, "slugs", reactions.unwrap_or(false)).await {
        Ok(counts) => counts,
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => return stale().ok_or(e),
        Err(e) => return Err(e),
    };
    let body = serialize(&counts)?;
    match key {
        Some(key) => {
            let answer = state
                .cache
                .insert_counts_answer(key, &site, generation, body);
            Ok(counts_response(&req, &answer.content))
        }
        // Not reached: a body that is not UTF-8 is refused by `parse_json`.
        None => {
            let etag = crate::cache::etag_of(&body);
            Ok(counts_response(
                &req,
                &Compressed::new(body, etag, Effort::Fast),
            ))
        }
    }
}

fn serialize(counts: &CountsResponse) -> Result<Bytes, ApiError> {
    serde_json::to_vec(counts)
        .map(crate::compress::keep)
        .map_err(ApiError::internal)
}

fn counts_response(req: &HttpRequest, content: &Compressed) -> HttpResponse {
    respond::cached(req, content, "application/json", "no-cache")
}

/// The answer kept under `key` from before the database became unreachable, marked
/// `X-Afterword-Cache: stale`.
fn stale_answer(req: &HttpRequest, state: &AppState, key: &str) -> Option<HttpResponse> {
    state.cache.counts_answer_stale(key).map(|answer| {
        let mut res = counts_response(req, &answer.content);
        res.headers_mut().insert(
            header::HeaderName::from_static("x-afterword-cache"),
            header::HeaderValue::from_static("stale"),
        );
        res
    })
}

/// `field` names where the slugs came from: `slug` (query) or `slugs` (body).
async fn answer(
    state: &web::Data<AppState>,
    site: &str,
    slugs: Vec<String>,
    field: &'static str,
    with_reactions: bool,
) -> Result<CountsResponse, ApiError> {
    let site = SiteId::parse(site)?;
    let Some(settings) = state.settings.site(&site) else {
        return Err(ApiError::unknown_site());
    };
    if slugs.is_empty() {
        return Err(
            ApiError::unprocessable("required", "Ask for at least one slug.").with_field(field),
        );
    }
    if slugs.len() > MAX_SLUGS {
        return Err(ApiError::unprocessable(
            "too_many_slugs",
            format!(
                "Ask for at most {MAX_SLUGS} slugs at once; this asked for {}.",
                slugs.len()
            ),
        )
        .with_field(field));
    }
    let parsed = slugs
        .into_iter()
        .map(|s| {
            Slug::parse_field(field, &s)
                .and_then(|p| p.on_site(field, |u| settings.origins.allows_url(u)))
                .map(|p| (s, p))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keys: Vec<ThreadKey> = parsed
        .iter()
        .map(|(_, slug)| ThreadKey::new(&site, slug))
        .collect();
    let counts = tally(state, &site, &parsed, &keys, Tally::Comments).await?;
    let reactions = if with_reactions {
        Some(tally(state, &site, &parsed, &keys, Tally::Reactions).await?)
    } else {
        None
    };
    Ok(CountsResponse { counts, reactions })
}

/// One number per slug, from memory where it is current, else in one query for the rest.
async fn tally(
    state: &web::Data<AppState>,
    site: &SiteId,
    parsed: &[(String, Slug)],
    keys: &[ThreadKey],
    what: Tally,
) -> Result<BTreeMap<String, i64>, ApiError> {
    let cached = state.cache.cached_tallies(what, keys);
    let mut counts = BTreeMap::new();
    // Misses: the slugs to ask the database for, and where to file each answer.
    let mut wanted = Vec::new();
    let mut pending = Vec::new();
    for ((asked, slug), (key, hit)) in parsed.iter().zip(keys.iter().zip(cached)) {
        match hit {
            Ok(n) => {
                counts.insert(asked.clone(), n);
            }
            Err(generation) => {
                wanted.push((asked.clone(), slug.clone()));
                pending.push((asked.clone(), key.clone(), generation));
            }
        }
    }
    if !wanted.is_empty() {
        let site = site.clone();
        let found = state
            .pool
            .read(move |conn| {
                with_conn!(conn, |c| match what {
                    Tally::Comments => service::counts(c, &site, &wanted),
                    Tally::Reactions => service::reactions::reaction_totals(c, &site, &wanted),
                })
            })
            .await?;
        for (asked, key, generation) in pending {
            let n = found.get(&asked).copied().unwrap_or(0);
            state.cache.insert_tally(what, key, generation, n);
            counts.insert(asked, n);
        }
    }
    Ok(counts)
}
