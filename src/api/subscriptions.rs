//! `/mail/confirm` and `/mail/unsubscribe`: where the links in mail to commenters lead
//! (see `email::replies`). No login: the signed token or the unsubscribe key is the proof.
//! A `GET` only shows a page with a button, because mail scanners follow links; the
//! button's `POST` acts. The unsubscribe URL also takes the one-click `POST` of RFC 8058
//! (body `List-Unsubscribe=One-Click`), which stops all reply mail of the site.
//! `POST /api/v1/subscriptions` follows a whole thread by email.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::client::client_ip;
use crate::api::extract::{check_write_origin, JsonBody, QueryParams};
use crate::cache::ThreadKey;
use crate::db::models::NewThread;
use crate::db::subscriptions::SubscriberRow;
use crate::db::{Store, SubscriptionStore};
use crate::domain::Email;
use crate::email::i18n::{self, fill, Strings};
use crate::email::replies::{self, label, ConfirmToken};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Template)]
#[template(path = "subscription.html")]
pub(crate) struct Page<'a> {
    pub lang: &'a str,
    pub heading: &'a str,
    pub message: String,
    pub forms: Vec<Form>,
}

pub(crate) struct Form {
    pub action: String,
    pub fields: Vec<(&'static str, String)>,
    pub button: &'static str,
}

pub(crate) fn render(p: &Page<'_>, status: StatusCode) -> Result<HttpResponse, ApiError> {
    let body = p
        .render()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("template: {e}")))?;
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::api::admin::ADMIN_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The key is in the address: never send it on.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(res)
}

/// The language of mail to a reader, from their browser's `Accept-Language`.
pub(crate) fn request_lang(req: &HttpRequest) -> &'static str {
    i18n::pick(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// The page's language when there is no subscriber to ask: the browser's.
fn browser_strings(req: &HttpRequest) -> &'static Strings {
    i18n::strings(request_lang(req))
}

fn message(
    s: &Strings,
    status: StatusCode,
    heading: &str,
    text: String,
) -> Result<HttpResponse, ApiError> {
    render(
        &Page {
            lang: s.lang,
            heading,
            message: text,
            forms: Vec::new(),
        },
        status,
    )
}

fn bad_link(s: &Strings) -> Result<HttpResponse, ApiError> {
    message(
        s,
        StatusCode::BAD_REQUEST,
        s.page_bad_link,
        s.page_bad_link_text.to_owned(),
    )
}

fn now_secs() -> i64 {
    crate::view::now_micros() / 1_000_000
}

/// Reads the subscriber of an unsubscribe key on the read pool.
async fn subscriber_by_key(
    state: &web::Data<AppState>,
    key: String,
) -> Result<Option<SubscriberRow>, ApiError> {
    let st = state.clone();
    web::block(move || -> Result<_, ApiError> {
        let mut conn = st.pool.get()?;
        Ok(with_conn!(conn, |c| c.subscriber_by_key(&key)?))
    })
    .await?
}

/// `GET /mail/confirm?t=TOKEN`: a button that confirms.
pub async fn confirm_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let t = q.get("t").unwrap_or("");
    let Some(token) = ConfirmToken::decode(&state.key, t, now_secs()) else {
        return bad_link(browser_strings(&req));
    };
    let st = state.clone();
    let found = web::block(move || -> Result<_, ApiError> {
        let mut conn = st.pool.get()?;
        Ok(with_conn!(
            conn,
            |c| match c.subscriber_by_id(token.subscriber)? {
                Some(sub) if sub.created_at == token.created_at => {
                    let follows = token.thread == 0 || c.follows_thread(sub.id, token.thread)?;
                    Some((sub, follows))
                }
                _ => None,
            }
        ))
    })
    .await??;
    let Some((sub, follows)) = found else {
        return bad_link(browser_strings(&req));
    };
    let s = i18n::strings(token.lang);
    if sub.confirmed_at.is_some() && follows && sub.lang == token.lang {
        return message(
            s,
            StatusCode::OK,
            s.page_confirmed,
            s.page_confirmed_text.to_owned(),
        );
    }
    render(
        &Page {
            lang: s.lang,
            heading: s.page_confirm_heading,
            message: fill(s.page_confirm_text, &[("email", &sub.email)]),
            forms: vec![Form {
                action: "/mail/confirm".into(),
                fields: vec![("t", token.encode(&state.key))],
                button: s.page_confirm_button,
            }],
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    t: String,
}

/// `POST /mail/confirm` with `t=TOKEN`: confirms the address.
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = ConfirmToken::decode(&state.key, &form.t, now_secs()) else {
        return bad_link(browser_strings(&req));
    };
    let now = crate::view::now_micros();
    let sub = state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| {
                c.confirm_subscriber(token.subscriber, token.created_at, now)?;
                let sub = c
                    .subscriber_by_id(token.subscriber)?
                    .filter(|s| s.created_at == token.created_at && s.confirmed_at.is_some());
                // What the mail asked them to agree to, and only that.
                if let Some(sub) = &sub {
                    c.set_subscriber_lang(sub.id, token.lang)?;
                    if token.thread != 0
                        && diesel::OptionalExtension::optional(c.thread_by_id(token.thread))?
                            .is_some()
                    {
                        c.follow_thread(sub.id, token.thread, now)?;
                    }
                }
                Ok((sub, Vec::new()))
            })
        })
        .await?;
    let Some(sub) = sub else {
        return bad_link(browser_strings(&req));
    };
    tracing::info!(subscriber = sub.id, site = %sub.site, thread = token.thread, "reply mail confirmed");
    let s = i18n::strings(token.lang);
    message(
        s,
        StatusCode::OK,
        s.page_confirmed,
        s.page_confirmed_text.to_owned(),
    )
}

/// The key and the optional thread of an unsubscribe link.
fn unsubscribe_params(req: &HttpRequest) -> Result<(String, Option<i64>), ApiError> {
    let q = QueryParams::parse(req)?;
    let key = q.get("k").unwrap_or("").to_owned();
    let thread = crate::api::admin::positive(&q, "thread")?;
    Ok((key, thread))
}

fn unsubscribed(s: &Strings, thread_only: bool) -> Result<HttpResponse, ApiError> {
    let text = if thread_only {
        s.page_unsubscribed_thread
    } else {
        s.page_unsubscribed_all
    };
    message(s, StatusCode::OK, s.page_unsubscribed, text.to_owned())
}

/// `GET /mail/unsubscribe?k=KEY[&thread=ID]`: buttons to stop this thread's mail or all.
pub async fn unsubscribe_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (key, thread) = unsubscribe_params(&req)?;
    if key.is_empty() || key.len() > 100 {
        return bad_link(browser_strings(&req));
    }
    let Some(sub) = subscriber_by_key(&state, key.clone()).await? else {
        // Gone: they unsubscribed from everything already, and no mail goes to them.
        return unsubscribed(browser_strings(&req), false);
    };
    let s = i18n::strings(&sub.lang);
    let action = |scope_thread: Option<i64>| match scope_thread {
        Some(t) => format!("/mail/unsubscribe?k={key}&thread={t}"),
        None => format!("/mail/unsubscribe?k={key}"),
    };
    let mut forms = Vec::new();
    if let Some(t) = thread {
        forms.push(Form {
            action: action(Some(t)),
            fields: vec![("scope", "thread".into())],
            button: label(s.unsubscribe_thread),
        });
    }
    forms.push(Form {
        action: action(None),
        fields: vec![("scope", "all".into())],
        button: label(s.unsubscribe_all),
    });
    render(
        &Page {
            lang: s.lang,
            heading: s.page_unsub_heading,
            message: fill(s.page_unsub_text, &[("email", &sub.email)]),
            forms,
        },
        StatusCode::OK,
    )
}

/// `POST /mail/unsubscribe?k=KEY[&thread=ID]`: `scope=thread` stops this thread's mail;
/// anything else (the one-click body included) stops all reply mail of the site.
pub async fn unsubscribe(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (key, thread) = unsubscribe_params(&req)?;
    if key.is_empty() || key.len() > 100 {
        return bad_link(browser_strings(&req));
    }
    let scope_thread =
        url::form_urlencoded::parse(&body).any(|(k, v)| k == "scope" && v == "thread");
    let thread = thread.filter(|_| scope_thread);
    let done = state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| {
                let Some(sub) = c.subscriber_by_key(&key)? else {
                    return Ok((None, Vec::new()));
                };
                match thread {
                    Some(t) => c.unsubscribe_thread(&sub, t)?,
                    None => c.unsubscribe_all(&sub)?,
                }
                Ok((Some(sub), Vec::new()))
            })
        })
        .await?;
    let s = match &done {
        Some(sub) => {
            tracing::info!(subscriber = sub.id, site = %sub.site, thread, "reply mail unsubscribed");
            i18n::strings(&sub.lang)
        }
        None => browser_strings(&req),
    };
    unsubscribed(s, thread.is_some())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowRequest {
    /// Where to mail the thread's new comments.
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct FollowAnswer {
    /// Always `true`: the same answer whether the address was confirmed already or a
    /// confirmation mail was sent, so it tells a stranger nothing about the address.
    pub accepted: bool,
}

/// Follows a whole thread by email: every new approved comment is mailed (as digests),
/// once the address has confirmed following this thread through the link mailed to it.
#[utoipa::path(post, path = "/api/v1/subscriptions", tag = "comments",
    params(crate::api::comments::SiteSlugQuery),
    request_body = FollowRequest,
    responses(
        (status = 202, description = "Accepted: a confirmation mail for this thread goes out unless the address follows it already; nothing changes until its link is followed", body = FollowAnswer),
        (status = 403, description = "The page's origin is not allowed for this site", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown site", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Email is off on this server (`notifications_off`)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "No valid email", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many requests from this address", body = crate::api::openapi::ErrorBody)))]
pub async fn follow(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<FollowRequest>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::parse(&req)?;
    let (site, slug) = crate::api::comments::site_and_slug(&q, &state)?;
    check_write_origin(&req, site)?;
    let email = Email::parse(&body.0.email)?.ok_or_else(|| {
        ApiError::unprocessable("email_required", "email is required to follow a thread.")
            .with_field("email")
    })?;
    let Some(mailer) = state.mailer.clone() else {
        return Err(ApiError::conflict(
            "notifications_off",
            "This server sends no email, so threads cannot be followed.",
        ));
    };
    // Each request may send a confirmation mail: limited like new comments.
    if let Some(ip) = client_ip(&req, &state.settings.limits) {
        state
            .comment_limiter
            .check(ip)
            .map_err(ApiError::too_many_requests)?;
    }
    let lang = request_lang(&req);
    let site_id = site.id.clone();
    let email_key = email.as_str().to_lowercase();
    let key = ThreadKey::new(&site_id, &slug);
    state
        .pool
        .write(key, move |conn| {
            on_conn!(conn, |c| {
                let now = crate::view::now_micros();
                let thread = c.upsert_thread(
                    &NewThread {
                        site: site_id.as_str(),
                        slug: slug.as_str(),
                        title: None,
                        url: None,
                        locked: false,
                        comment_count: 0,
                        created_at: now,
                    },
                    0,
                )?;
                replies::subscribe(
                    c,
                    &mailer,
                    &thread,
                    &email_key,
                    lang,
                    replies::Follow::Thread,
                    now,
                )
            })
        })
        .await?;
    Ok(HttpResponse::Accepted().json(FollowAnswer { accepted: true }))
}
