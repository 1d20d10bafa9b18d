//! `/api/v1/admin/outbox…`: the mail outbox for moderators (queued, sent, failed with the
//! SMTP server's answer), retry and drop, and a test mail sent at once.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::positive;
use crate::api::extract::{path_id, JsonBody, QueryParams};
use crate::auth::Moderator;
use crate::error::ApiError;
use crate::service::outbox::{self, OutboxMessage};
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Serialize, ToSchema)]
pub struct OutboxList {
    /// Whether email is on (`[smtp]`): without it nothing is queued or sent.
    pub email_on: bool,
    /// Newest first.
    pub messages: Vec<OutboxMessage>,
    pub next: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct OutboxEnvelope {
    pub message: OutboxMessage,
}

/// The outbox, newest first.
#[utoipa::path(get, path = "/api/v1/admin/outbox", tag = "admin",
    params(
        ("status" = Option<String>, Query, description = "`queued`, `sent` or `failed`"),
        ("before" = Option<i64>, Query, description = "The `next` value of the previous page", minimum = 1)),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "A page of the outbox", body = OutboxList),
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
        Some(s @ ("queued" | "sent" | "failed")) => Some(s.to_owned()),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_status",
                "status must be queued, sent or failed.",
            )
            .with_field("status"))
        }
    };
    let st = state.clone();
    let (messages, next) = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| outbox::list(c, status.as_deref(), before))
    })
    .await??;
    Ok(HttpResponse::Ok().json(OutboxList {
        email_on: state.mailer.is_some(),
        messages,
        next,
    }))
}

/// Queues a failed (or waiting) message again, due now.
#[utoipa::path(post, path = "/api/v1/admin/outbox/{id}/retry", tag = "admin",
    params(("id" = i64, Path, description = "Message id")),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "Queued again", body = OutboxEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such message", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Sent already, or being sent", body = crate::api::openapi::ErrorBody)))]
pub async fn retry(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, outbox::not_found)?;
    let key = state.key.clone();
    let message = state
        .pool
        .write_changing(None, move |conn| {
            let m = on_conn!(conn, |c| outbox::retry(c, &key, &moderator.username, id))?;
            Ok((m, Vec::new()))
        })
        .await?;
    Ok(HttpResponse::Ok().json(OutboxEnvelope { message }))
}

/// Drops a message from the outbox.
#[utoipa::path(delete, path = "/api/v1/admin/outbox/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Message id")),
    security(("admin_session" = [])),
    responses(
        (status = 204, description = "Dropped"),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such message", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Being sent right now", body = crate::api::openapi::ErrorBody)))]
pub async fn drop(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, outbox::not_found)?;
    let key = state.key.clone();
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| outbox::drop(c, &key, &moderator.username, id))?;
            Ok(((), Vec::new()))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMailRequest {
    /// Where to send it.
    pub to: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestMailAnswer {
    /// What the SMTP server answered (`250 …`).
    pub answer: String,
}

/// Sends a test message at once (not through the outbox) and answers with what the SMTP
/// server said.
#[utoipa::path(post, path = "/api/v1/admin/outbox/test", tag = "admin",
    request_body = TestMailRequest,
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The SMTP server accepted it", body = TestMailAnswer),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Email is off (no [smtp])", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "Not an email address", body = crate::api::openapi::ErrorBody),
        (status = 502, description = "The SMTP server refused it or could not be reached; the message says why", body = crate::api::openapi::ErrorBody)))]
pub async fn test(
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<TestMailRequest>,
) -> Result<HttpResponse, ApiError> {
    let (Some(mailer), Some(transport)) = (state.mailer.clone(), state.smtp.clone()) else {
        return Err(ApiError::conflict(
            "email_off",
            "Email is off: add an [smtp] section to the configuration.",
        ));
    };
    let to = body.0.to.trim().to_owned();
    if to.parse::<lettre::Address>().is_err() {
        return Err(
            ApiError::unprocessable("invalid_email", "to must be an email address.")
                .with_field("to"),
        );
    }
    let addr = to.clone();
    let sent = web::block(move || crate::email::send_test(&transport, &mailer, &addr)).await?;
    // The audit log keeps a keyed hash, not the address (see `service::outbox::audit`).
    let logged = crate::email::redact(
        &match &sent {
            Ok(a) => a.clone(),
            Err(e) => format!("failed: {e}"),
        },
        &to,
    );
    let user = moderator.username.clone();
    let to_log = state.key.person_key(&to);
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| outbox::log_test(c, &user, &to_log, &logged))?;
            Ok(((), Vec::new()))
        })
        .await?;
    match sent {
        Ok(answer) => Ok(HttpResponse::Ok().json(TestMailAnswer { answer })),
        Err(e) => Err(ApiError::new(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "smtp_failed",
            format!("The SMTP server did not take the message: {e}"),
        )),
    }
}
