//! `/admin/mail/action`: where the action links of a moderator mail lead. No session is
//! needed: the signed token is the proof. `GET` only shows what the link would do and
//! changes nothing (mail scanners follow links); the button on that page `POST`s the token
//! back, and only that acts, through the same service path as the admin page, so caches,
//! counts and the audit log follow. Each token works once (`used_tokens`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::api::extract::QueryParams;
use crate::db::{MailStore, ModerationStore};
use crate::domain::CommentId;
use crate::email::links::{ActionToken, Refused};
use crate::error::ApiError;
use crate::service::moderation;
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Template)]
#[template(path = "mail_action.html")]
struct ActionPage {
    heading: String,
    message: String,
    /// The form to confirm with, when the link can still act.
    token: Option<String>,
    button: String,
    comment: Option<Shown>,
}

struct Shown {
    id: i64,
    author: String,
    status: String,
    body: String,
}

#[derive(Deserialize)]
pub struct ActionForm {
    t: String,
}

fn page(p: &ActionPage, status: StatusCode) -> Result<HttpResponse, ApiError> {
    let body = p
        .render()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("template: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

fn message_page(
    status: StatusCode,
    heading: &str,
    message: &str,
) -> Result<HttpResponse, ApiError> {
    page(
        &ActionPage {
            heading: heading.to_owned(),
            message: message.to_owned(),
            token: None,
            button: String::new(),
            comment: None,
        },
        status,
    )
}

fn refused(r: Refused) -> Result<HttpResponse, ApiError> {
    match r {
        Refused::Invalid => message_page(
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            "The link is incomplete or was changed. Open it again from the mail, or moderate \
             on the moderation page.",
        ),
        Refused::Expired => message_page(
            StatusCode::GONE,
            "This link has expired",
            "Links in moderation mail work for 7 days. Moderate this comment on the \
             moderation page instead.",
        ),
    }
}

fn verb(action: &str) -> (&'static str, &'static str) {
    match action {
        "approve" => ("Approve", "approved"),
        "spam" => ("Mark as spam", "marked as spam"),
        _ => ("Delete", "deleted"),
    }
}

fn now_secs() -> i64 {
    crate::view::now_micros() / 1_000_000
}

/// `GET /admin/mail/action?t=TOKEN`: what the link would do, and a button to do it.
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let token = match ActionToken::decode(&state.key, q.get("t").unwrap_or(""), now_secs()) {
        Ok(t) => t,
        Err(r) => return refused(r),
    };
    let st = state.clone();
    let (id, nonce) = (token.comment.0, token.nonce.clone());
    let (row, used) = web::block(move || -> Result<_, ApiError> {
        let mut conn = st.pool.get()?;
        Ok(with_conn!(conn, |c| (
            c.mod_comment(id)?,
            c.nonce_used(&nonce)?
        )))
    })
    .await??;
    if used {
        return message_page(
            StatusCode::CONFLICT,
            "This link has already been used",
            "Each link in a moderation mail works once. See the comment on the moderation page.",
        );
    }
    let Some(row) = row else {
        return message_page(
            StatusCode::NOT_FOUND,
            "This comment is gone",
            "It was deleted for good.",
        );
    };
    let (button, _) = verb(&token.action);
    page(
        &ActionPage {
            heading: format!("{button} comment #{id}?"),
            message: "Nothing changes until you confirm.".into(),
            token: Some(token.encode(&state.key)),
            button: button.to_owned(),
            comment: Some(Shown {
                id,
                author: row.author.unwrap_or_else(|| "Anonymous".into()),
                status: row.status,
                body: row.body,
            }),
        },
        StatusCode::OK,
    )
}

/// `POST /admin/mail/action` with `t=TOKEN`: does it, once.
pub async fn act(
    state: web::Data<AppState>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, ApiError> {
    let token = match ActionToken::decode(&state.key, &form.t, now_secs()) {
        Ok(t) => t,
        Err(r) => return refused(r),
    };
    let Some(action) = token.action() else {
        return refused(Refused::Invalid);
    };
    let label = token.moderator_label();
    let nonce = token.nonce.clone();
    let id: CommentId = token.comment;
    let now = crate::view::now_micros();
    let moderator = label.clone();
    let done = state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| {
                if !c.use_nonce(&nonce, now)? {
                    return Err(ApiError::conflict(
                        "link_used",
                        "Each link in a moderation mail works once; this one has been used.",
                    ));
                }
                let (acted, thread) = moderation::act(c, &moderator, id, action)?;
                Ok((acted, vec![thread]))
            })
        })
        .await;
    match done {
        Ok(_) => {
            let (_, past) = verb(&token.action);
            tracing::info!(comment = id.0, moderator = %label, action = %token.action, "moderated from a mail link");
            message_page(
                StatusCode::OK,
                &format!("Comment #{} {past}", id.0),
                "Done. The moderation page shows it, and the audit log records it.",
            )
        }
        Err(e) if e.status.is_client_error() => {
            message_page(e.status, "This could not be done", &e.message)
        }
        Err(e) => Err(e),
    }
}
