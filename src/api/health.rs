use actix_web::{web, HttpResponse};

use crate::db::Store;
use crate::error::ApiError;
use crate::state::AppState;
use crate::with_conn;

/// `200` when the server and its database answer and the writer runs.
#[utoipa::path(method(get, head), path = "/healthz", tag = "service",
    responses((status = 200, description = "Server and database answer"),
              (status = 503, description = "The database does not answer, or the writer has stopped", body = crate::api::openapi::ErrorBody)))]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.pool.writer_alive() {
        return Err(ApiError::unavailable(anyhow::anyhow!(
            "the database writer has stopped"
        )));
    }
    web::block(move || -> Result<(), ApiError> {
        let mut conn = state.pool.get()?;
        with_conn!(conn, |c| c.ping()).map_err(ApiError::unavailable)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({"status": "ok"})))
}
