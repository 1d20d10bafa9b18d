//! `/api/v1/admin/hooks…`: webhook deliveries for moderators (queued, delivered, failed
//! with the receiver's answer), retry and drop, and a test event.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::positive;
use crate::api::extract::{path_id, JsonBody, QueryParams};
use crate::auth::Moderator;
use crate::error::ApiError;
use crate::service::hooks::{self, Delivery};
use crate::state::AppState;
use crate::{on_conn, with_conn};

/// One configured endpoint.
#[derive(Serialize, ToSchema)]
pub struct Endpoint {
    pub site: String,
    pub url: String,
    pub format: String,
    /// The events it is sent.
    pub events: Vec<String>,
    /// Whether its deliveries are signed (it has a secret).
    pub signed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    /// Every endpoint of the configuration.
    pub endpoints: Vec<Endpoint>,
    /// Newest first.
    pub deliveries: Vec<Delivery>,
    pub next: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryEnvelope {
    pub delivery: Delivery,
}

/// The configured endpoints, site by site.
pub fn endpoints(state: &AppState) -> Vec<Endpoint> {
    state
        .settings
        .sites
        .values()
        .flat_map(|s| {
            s.webhooks.iter().map(|w| Endpoint {
                site: s.id.as_str().to_owned(),
                url: w.url.clone(),
                format: w.format.as_str().to_owned(),
                events: w.events.iter().map(|k| k.as_str().to_owned()).collect(),
                signed: w.secret.is_some(),
            })
        })
        .collect()
}

/// Webhook deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/admin/hooks", tag = "admin",
    params(
        ("status" = Option<String>, Query, description = "`queued`, `delivered` or `failed`"),
        ("before" = Option<i64>, Query, description = "The `next` value of the previous page", minimum = 1)),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryList),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad status or cursor", body = crate::api::openapi::ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    _moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let before = positive(&q, "before")?;
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("queued" | "delivered" | "failed")) => Some(s.to_owned()),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_status",
                "status must be queued, delivered or failed.",
            )
            .with_field("status"))
        }
    };
    let st = state.clone();
    let (deliveries, next) = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| hooks::list(c, status.as_deref(), before))
    })
    .await??;
    Ok(HttpResponse::Ok().json(DeliveryList {
        endpoints: endpoints(&state),
        deliveries,
        next,
    }))
}

/// Queues a failed (or waiting) delivery again, due now.
#[utoipa::path(post, path = "/api/v1/admin/hooks/{id}/retry", tag = "admin",
    params(("id" = i64, Path, description = "Delivery id")),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "Queued again", body = DeliveryEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such delivery", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Delivered already, or being sent", body = crate::api::openapi::ErrorBody)))]
pub async fn retry(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, hooks::not_found)?;
    let delivery = state
        .pool
        .write_changing(None, move |conn| {
            let d = on_conn!(conn, |c| hooks::retry(c, &moderator.username, id))?;
            Ok((d, Vec::new()))
        })
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryEnvelope { delivery }))
}

/// Drops a delivery.
#[utoipa::path(delete, path = "/api/v1/admin/hooks/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Delivery id")),
    security(("admin_session" = [])),
    responses(
        (status = 204, description = "Dropped"),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such delivery", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Being sent right now", body = crate::api::openapi::ErrorBody)))]
pub async fn drop(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, hooks::not_found)?;
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| hooks::drop(c, &moderator.username, id))?;
            Ok(((), Vec::new()))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestEventRequest {
    /// The site whose webhook it is.
    pub site: String,
    /// The endpoint's URL, as configured.
    pub url: String,
}

/// Queues a test event (`webhook.test`) to one configured endpoint: it is sent at once,
/// signed like every delivery, and listed with the receiver's answer.
#[utoipa::path(post, path = "/api/v1/admin/hooks/test", tag = "admin",
    request_body = TestEventRequest,
    security(("admin_session" = [])),
    responses(
        (status = 202, description = "Queued, due now", body = DeliveryEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such webhook in the configuration", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A malformed request", body = crate::api::openapi::ErrorBody)))]
pub async fn test(
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<TestEventRequest>,
) -> Result<HttpResponse, ApiError> {
    let TestEventRequest { site, url } = body.0;
    let settings = std::sync::Arc::clone(&state.settings);
    let delivery = state
        .pool
        .write_changing(None, move |conn| {
            let d = on_conn!(conn, |c| hooks::test(
                c,
                &settings,
                &moderator.username,
                &site,
                &url
            ))?;
            Ok((d, Vec::new()))
        })
        .await?;
    Ok(HttpResponse::Accepted().json(DeliveryEnvelope { delivery }))
}
