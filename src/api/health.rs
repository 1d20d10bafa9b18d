use std::time::Duration;

use actix_web::{web, HttpResponse};

use crate::db::Store;
use crate::error::ApiError;
use crate::state::AppState;
use crate::with_conn;

/// A database that takes longer than this to answer a ping is not fit to serve.
const PING_WITHIN: Duration = Duration::from_secs(2);

/// `200 {"status":"ok"}` when the database answers and writes can be made; else `503`
/// with `status` `degraded`, the `reason`, and the usual error body.
#[utoipa::path(method(get, head), path = "/healthz", tag = "service",
    responses((status = 200, description = "Server and database answer, writes can be made"),
              (status = 503, description = "Degraded: the database does not answer, writes cannot be made, or the writer has stopped; `reason` says which", body = crate::api::openapi::ErrorBody)))]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match check(state).await {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({"status": "ok"})),
        Err(reason) => {
            let e = ApiError::unavailable(anyhow::anyhow!("{reason}"));
            HttpResponse::ServiceUnavailable()
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Retry-After", "1"))
                .json(serde_json::json!({
                    "status": "degraded",
                    "reason": reason,
                    "error": {"code": e.code, "message": e.message},
                }))
        }
    }
}

async fn check(state: web::Data<AppState>) -> Result<(), String> {
    state.pool.writer_health()?;
    let ping = web::block(move || -> Result<(), ApiError> {
        let mut conn = state.pool.get()?;
        with_conn!(conn, |c| c.ping()).map_err(ApiError::unavailable)
    });
    match tokio::time::timeout(PING_WITHIN, ping).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("the database does not answer: {e}")),
        Ok(Err(e)) => Err(format!("the database does not answer: {e}")),
        Err(_) => Err(format!(
            "the database did not answer within {} s",
            PING_WITHIN.as_secs()
        )),
    }
}
