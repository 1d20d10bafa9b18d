//! `/admin/mail/action`: where the action links of a moderator mail lead. No session is
//! needed: the signed token is the proof. `GET` only shows what the link would do and
//! changes nothing (mail scanners follow links); the button on that page `POST`s the token
//! back, and only that acts, through the same service path as the admin page, so caches,
//! counts and the audit log follow. Each token works once (`used_tokens`). The pages speak
//! the comment's site's `language`, as its mail did; a link too broken to name a comment
//! gets the browser's language.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::api::extract::QueryParams;
use crate::db::{MailStore, ModerationStore, Store};
use crate::domain::CommentId;
use crate::email::compose::action_label;
use crate::email::i18n::{self, fill, Strings};
use crate::email::links::{ActionToken, Refused, VALID_FOR_SECS};
use crate::error::ApiError;
use crate::service::moderation;
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Template)]
#[template(path = "mail_action.html")]
struct ActionPage {
    s: &'static Strings,
    heading: String,
    message: String,
    /// The form to confirm with, when the link can still act.
    token: Option<String>,
    button: String,
    /// "comment #12 · now pending", with the comment, when there is one to show.
    comment: Option<Shown>,
}

struct Shown {
    state: String,
    author: String,
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
        .insert_header(("Content-Language", p.s.lang))
        .body(body))
}

fn message_page(
    s: &'static Strings,
    status: StatusCode,
    heading: &str,
    message: &str,
) -> Result<HttpResponse, ApiError> {
    page(
        &ActionPage {
            s,
            heading: heading.to_owned(),
            message: message.to_owned(),
            token: None,
            button: String::new(),
            comment: None,
        },
        status,
    )
}

fn refused(req: &HttpRequest, r: Refused) -> Result<HttpResponse, ApiError> {
    let s = i18n::strings(crate::api::subscriptions::request_lang(req));
    match r {
        Refused::Invalid => message_page(
            s,
            StatusCode::BAD_REQUEST,
            s.act_invalid,
            s.act_invalid_text,
        ),
        Refused::Expired => {
            let days = (VALID_FOR_SECS / 86_400).to_string();
            let text = fill(s.act_expired_text, &[("n", &days)]);
            message_page(s, StatusCode::GONE, s.act_expired, &text)
        }
    }
}

fn status_word(s: &Strings, status: &str) -> &'static str {
    match status {
        "approved" => s.status_approved,
        "spam" => s.status_spam,
        "deleted" => s.status_deleted,
        _ => s.status_pending,
    }
}

/// Whether the link's recipient is still one of the moderators of the comment's site: a
/// link mailed to someone since removed from `moderators` does nothing.
fn still_moderator(state: &AppState, site: Option<&str>, recipient: &str) -> bool {
    site.and_then(|s| state.settings.sites.get(s))
        .is_some_and(|site| {
            // A link from a webhook message: good while that site still has webhooks.
            if let Some(hooked) = recipient.strip_prefix("webhook:") {
                return hooked == site.id.as_str() && !site.webhooks.is_empty();
            }
            site.moderators
                .iter()
                .any(|m| m.as_str().eq_ignore_ascii_case(recipient))
        })
}

fn not_moderator(s: &'static Strings) -> Result<HttpResponse, ApiError> {
    message_page(
        s,
        StatusCode::FORBIDDEN,
        s.act_failed,
        s.act_not_moderator_text,
    )
}

fn now_secs() -> i64 {
    crate::view::now_micros() / 1_000_000
}

/// The words of the site the comment is on (its `language`); the browser's when the
/// comment is gone.
fn site_strings(state: &AppState, site: Option<&str>, req: &HttpRequest) -> &'static Strings {
    match site.and_then(|s| state.settings.sites.get(s)) {
        Some(site) => i18n::strings(site.language),
        None => i18n::strings(crate::api::subscriptions::request_lang(req)),
    }
}

/// `GET /admin/mail/action?t=TOKEN`: what the link would do, and a button to do it.
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let token = match ActionToken::decode(&state.key, q.get("t").unwrap_or(""), now_secs()) {
        Ok(t) => t,
        Err(r) => return refused(&req, r),
    };
    let st = state.clone();
    let (id, nonce) = (token.comment.0, token.nonce.clone());
    let (row, site, used) = web::block(move || -> Result<_, ApiError> {
        let mut conn = st.pool.get()?;
        Ok(with_conn!(conn, |c| {
            let row = c.mod_comment(id)?;
            let site = match &row {
                Some(r) => Some(c.thread_by_id(r.thread_id)?.site),
                None => None,
            };
            (row, site, c.nonce_used(&nonce)?)
        }))
    })
    .await??;
    let s = site_strings(&state, site.as_deref(), &req);
    if used {
        return message_page(s, StatusCode::CONFLICT, s.act_used, s.act_used_text);
    }
    let Some(row) = row else {
        return message_page(s, StatusCode::NOT_FOUND, s.act_gone, s.act_gone_text);
    };
    if !still_moderator(&state, site.as_deref(), &token.recipient) {
        return not_moderator(s);
    }
    let id_text = id.to_string();
    let heading = match token.action.as_str() {
        "approve" => s.act_ask_approve,
        "spam" => s.act_ask_spam,
        _ => s.act_ask_delete,
    };
    page(
        &ActionPage {
            s,
            heading: fill(heading, &[("id", &id_text)]),
            message: s.act_ask_text.to_owned(),
            token: Some(token.encode(&state.key)),
            button: action_label(s, &token.action).to_owned(),
            comment: Some(Shown {
                state: fill(
                    s.act_state,
                    &[("id", &id_text), ("status", status_word(s, &row.status))],
                ),
                author: row.author.unwrap_or_else(|| s.anonymous.to_owned()),
                body: row.body,
            }),
        },
        StatusCode::OK,
    )
}

/// `POST /admin/mail/action` with `t=TOKEN`: does it, once.
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, ApiError> {
    let token = match ActionToken::decode(&state.key, &form.t, now_secs()) {
        Ok(t) => t,
        Err(r) => return refused(&req, r),
    };
    let Some(action) = token.action() else {
        return refused(&req, Refused::Invalid);
    };
    let label = token.moderator_label();
    let nonce = token.nonce.clone();
    let id: CommentId = token.comment;
    let now = crate::view::now_micros();
    let moderator = label.clone();
    // The site, for the page's language: read first, as a deleted comment has none after.
    let st = state.clone();
    let site = web::block(move || -> Result<_, ApiError> {
        let mut conn = st.pool.get()?;
        Ok(with_conn!(conn, |c| match c.mod_comment(id.0)? {
            Some(r) => Some(c.thread_by_id(r.thread_id)?.site),
            None => None,
        }))
    })
    .await??;
    let s = site_strings(&state, site.as_deref(), &req);
    // A comment already gone is told as such below.
    if site.is_some() && !still_moderator(&state, site.as_deref(), &token.recipient) {
        return not_moderator(s);
    }
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
            tracing::info!(comment = id.0, moderator = %label, action = %token.action, "moderated from a mail link");
            let heading = match token.action.as_str() {
                "approve" => s.act_done_approve,
                "spam" => s.act_done_spam,
                _ => s.act_done_delete,
            };
            let heading = fill(heading, &[("id", &id.0.to_string())]);
            message_page(s, StatusCode::OK, &heading, s.act_done_text)
        }
        Err(e) if e.code == "link_used" => message_page(s, e.status, s.act_used, s.act_used_text),
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            message_page(s, e.status, s.act_gone, s.act_gone_text)
        }
        Err(e) if e.status.is_client_error() => message_page(s, e.status, s.act_failed, &e.message),
        Err(e) => Err(e),
    }
}
