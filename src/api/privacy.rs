//! A reader's own privacy request: `POST /api/v1/privacy` mails a link to the address
//! (double opt-in: only its owner can follow it); `/privacy?t=TOKEN` shows a page that
//! offers everything stored about the address as JSON, and to erase it (the comments
//! anonymized or deleted, as `[privacy] reader_erase` says). As for the mail links of
//! `subscriptions`, a `GET` only shows buttons; the `POST`s act.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::client::client_ip;
use crate::api::extract::{check_write_origin, JsonBody, QueryParams};
use crate::api::subscriptions::{render, Form, Page};
use crate::config::ReaderErase;
use crate::db::PrivacyStore;
use crate::error::ApiError;
use crate::service::privacy::{self, CommentsTo, RequestToken};
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyRequest {
    /// The address whose data the reader wants to see or erase: the link goes there.
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct PrivacyAnswer {
    /// Always `true`: the same answer whether the server knows the address or not.
    pub accepted: bool,
}

/// Asks for a link to one's own data, mailed to the address.
#[utoipa::path(post, path = "/api/v1/privacy", tag = "comments",
    params(("site" = String, Query, description = "The site id", pattern = r"^[a-z0-9-]{1,64}$")),
    request_body = PrivacyRequest,
    responses(
        (status = 202, description = "Accepted: a link to the data goes to the address, known or not", body = PrivacyAnswer),
        (status = 403, description = "The page's origin is not allowed for this site", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Email is off on this server (`notifications_off`)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "No valid email", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many requests from this address", body = crate::api::openapi::ErrorBody)))]
pub async fn request(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<PrivacyRequest>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let site = crate::domain::SiteId::parse(q.require("site")?)?;
    let site = state
        .settings
        .site(&site)
        .ok_or_else(ApiError::unknown_site)?;
    check_write_origin(&req, site)?;
    let email_key = privacy::email_key(&body.0.email)?;
    let Some(mailer) = state.mailer.clone() else {
        return Err(ApiError::conflict(
            "notifications_off",
            "This server sends no email, so it cannot mail the link; ask the site's owner.",
        ));
    };
    // Each request sends a mail: limited like new comments and subscriptions.
    if let Some(ip) = client_ip(&req, &state.settings.limits) {
        state
            .comment_limiter
            .check(ip)
            .map_err(ApiError::too_many_requests)?;
    }
    state
        .pool
        .write_changing(None, move |conn| {
            let now = crate::view::now_micros();
            let token = privacy::request_token(&mailer.key, &email_key, now);
            on_conn!(conn, |c| crate::email::privacy::queue_request_link(
                c, &mailer, &email_key, &token, now
            ))?;
            Ok(((), Vec::new()))
        })
        .await?;
    Ok(HttpResponse::Accepted().json(PrivacyAnswer { accepted: true }))
}

fn now_secs() -> i64 {
    crate::view::now_micros() / 1_000_000
}

fn page(
    heading: &str,
    message: String,
    forms: Vec<Form>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    render(
        &Page {
            lang: "en",
            heading,
            message,
            forms,
        },
        status,
    )
}

fn bad_link() -> Result<HttpResponse, ApiError> {
    page(
        "This link does not work",
        "It is incomplete or more than 24 hours old. Ask for a new one where you asked for this one.".to_owned(),
        Vec::new(),
        StatusCode::BAD_REQUEST,
    )
}

/// `GET /privacy?t=TOKEN`: what the reader can do, as buttons.
pub async fn page_for(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let Some(token) = RequestToken::decode(&state.key, q.get("t").unwrap_or(""), now_secs()) else {
        return bad_link();
    };
    let t = token.encode(&state.key);
    let erase_what = match state.settings.reader_erase {
        ReaderErase::Anonymize => "your comments stay, without your name, address or website",
        ReaderErase::Delete => "your comments are deleted",
    };
    page(
        "Your data",
        format!(
            "For {}: download everything this server stores about this address (JSON), or \
             erase it: {erase_what}, your reply-mail subscriptions and mail to you go.",
            token.email_key
        ),
        vec![
            Form {
                action: "/privacy/export".into(),
                fields: vec![("t", t.clone())],
                button: "Download my data",
            },
            Form {
                action: "/privacy/erase".into(),
                fields: vec![("t", t)],
                button: "Erase my data",
            },
        ],
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct TokenForm {
    t: String,
}

/// `POST /privacy/export` with `t=TOKEN`: the JSON of `afterword privacy export`.
pub async fn export(
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = RequestToken::decode(&state.key, &form.t, now_secs()) else {
        return bad_link();
    };
    let st = state.clone();
    let data = web::block(move || -> Result<_, ApiError> {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| privacy::export(c, &st.key, &token.email_key))
    })
    .await??;
    let mut res = HttpResponse::Ok().json(data);
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"my-data.json\""),
    );
    Ok(res)
}

/// `POST /privacy/erase` with `t=TOKEN`: erases the address, as the CLI does.
pub async fn erase(
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = RequestToken::decode(&state.key, &form.t, now_secs()) else {
        return bad_link();
    };
    let to = match state.settings.reader_erase {
        ReaderErase::Anonymize => CommentsTo::Anonymize,
        ReaderErase::Delete => CommentsTo::Delete,
    };
    let key = state.key.clone();
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| privacy::erase_as(
                c,
                &key,
                privacy::READER,
                &token.email_key,
                to
            ))
        })
        .await?;
    // Old versions of what was erased leave SQLite's write-ahead log too.
    let st = state.clone();
    web::block(move || -> Result<_, ApiError> {
        let mut conn = st.pool.get()?;
        Ok(with_conn!(conn, |c| c.forget_old_versions())?)
    })
    .await??;
    tracing::info!("a reader erased their data");
    page(
        "Erased",
        "What this server stored about your address is gone.".to_owned(),
        Vec::new(),
        StatusCode::OK,
    )
}
