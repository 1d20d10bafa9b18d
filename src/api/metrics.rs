//! `GET /metrics`: the Prometheus text format, for the operator's scraper only.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::db::stats::StatsStore;
use crate::error::ApiError;
use crate::state::AppState;
use crate::with_conn;

/// Counts every answer by route pattern (never the raw path: one series per route).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !crate::metrics::enabled() {
        return next.call(req).await;
    }
    let started = Instant::now();
    let method = req.method().clone();
    // `{id}` written `:id`: some Prometheus text parsers stumble on braces in values.
    let route = req
        .match_pattern()
        .map(|p| p.replace('{', ":").replace('}', ""))
        .unwrap_or_else(|| "unmatched".to_owned());
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    crate::metrics::http_request(
        &route,
        method.as_str(),
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// Who may read the metrics on the main listener: the bearer of `[metrics] token`, or
/// without one a client on this machine that no proxy forwarded (a proxy on this machine
/// connects from loopback for anyone on the internet).
fn allowed(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let m = &state.settings.metrics;
    if let Some(token) = &m.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        use subtle::ConstantTimeEq;
        return if bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "metrics_token",
                "/metrics wants `Authorization: Bearer TOKEN` with [metrics] token.",
            ))
        };
    }
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| req.headers().contains_key(*h));
    let local = req
        .peer_addr()
        .is_some_and(|a| a.ip().to_canonical().is_loopback());
    if local && !forwarded {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "metrics_local_only",
            "/metrics answers only this machine; set [metrics] token or listen to read it from elsewhere.",
        ))
    }
}

/// On the main listener: there only when enabled without a listener of its own.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let m = &state.settings.metrics;
    if !m.enabled || m.listen.is_some() {
        return Err(ApiError::not_found(
            "not_found",
            "There is nothing at this address; see /api/v1/openapi.json.",
        ));
    }
    allowed(&req, &state)?;
    render(state).await
}

/// The figures read at scrape time (outbox, cache), then everything.
pub async fn render(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let cache_bytes = state.cache.bytes();
    let outbox = web::block(move || -> Result<_, ApiError> {
        let mut conn = state.pool.get()?;
        Ok(with_conn!(conn, |c| c.outbox_by_status())?)
    })
    .await??;
    crate::metrics::cache_bytes(cache_bytes);
    crate::metrics::set_outbox(&outbox, crate::view::now_micros());
    let body = crate::metrics::render()
        .ok_or_else(|| ApiError::not_found("not_found", "Metrics are off on this server."))?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
