//! `/admin`: the moderation page, rendered on the server (askama templates in
//! `admin/templates`). Reading is plain HTML and links; every change goes through the JSON
//! API from `admin/static/admin.js`, with the session's CSRF token.

use std::ops::Deref;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::audit::{site_infos, SiteInfo};
use super::comments::parse_filter;
use super::positive;
use super::session::authenticate;
use crate::api::extract::QueryParams;
use crate::auth::{session, Moderator};
use crate::db::moderation::CommentFilter;
use crate::db::ModerationStore;
use crate::error::ApiError;
use crate::service::moderation::{self, AdminComment, AdminThread, AuditEntry, Ban};
use crate::state::AppState;
use crate::with_conn;

const ADMIN_JS: &str = include_str!("../../../admin/static/admin.js");
const ADMIN_CSS: &str = include_str!("../../../admin/static/admin.css");

/// What every page's frame shows.
pub struct Chrome {
    csrf: String,
    tab: &'static str,
    pending: i64,
    pending_label: String,
    display_name: String,
    username: String,
}

macro_rules! framed {
    ($t:ty) => {
        impl Deref for $t {
            type Target = Chrome;
            fn deref(&self) -> &Chrome {
                &self.chrome
            }
        }
    };
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    username: String,
}

#[derive(Template)]
#[template(path = "comments.html")]
struct CommentsPage {
    chrome: Chrome,
    heading: &'static str,
    here: &'static str,
    sites: Vec<SiteInfo>,
    statuses: &'static [&'static str],
    filter_site: String,
    filter_status: String,
    filter_slug: String,
    filter_q: String,
    filter_thread: Option<i64>,
    comments: Vec<AdminComment>,
    next: Option<String>,
    /// On the queue tab only.
    overview: Option<super::overview::Overview>,
}
framed!(CommentsPage);

#[derive(Template)]
#[template(path = "threads.html")]
struct ThreadsPage {
    chrome: Chrome,
    sites: Vec<SiteInfo>,
    filter_site: String,
    filter_q: String,
    threads: Vec<AdminThread>,
    next: Option<String>,
}
framed!(ThreadsPage);

#[derive(Template)]
#[template(path = "bans.html")]
struct BansPage {
    chrome: Chrome,
    sites: Vec<SiteInfo>,
    bans: Vec<Ban>,
    /// Of accounts and domains elsewhere (replies from Mastodon, Bluesky, webmentions).
    remote_bans: Vec<crate::service::federation::RemoteBan>,
}
framed!(BansPage);

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditEntry>,
    next: Option<String>,
}
framed!(AuditPage);

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    email_on: bool,
    status: String,
    messages: Vec<crate::service::outbox::OutboxMessage>,
    next: Option<String>,
}
framed!(OutboxPage);

#[derive(Template)]
#[template(path = "hooks.html")]
struct HooksPage {
    chrome: Chrome,
    status: String,
    endpoints: Vec<crate::api::admin::hooks::Endpoint>,
    deliveries: Vec<crate::service::hooks::Delivery>,
    next: Option<String>,
}
framed!(HooksPage);

#[derive(Template)]
#[template(path = "transfer.html")]
struct TransferPage {
    chrome: Chrome,
    sites: Vec<String>,
}
framed!(TransferPage);

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
}
framed!(AccountPage);

fn html(t: &impl Template, status: actix_web::http::StatusCode) -> Result<HttpResponse, ApiError> {
    let body = t
        .render()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("template: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

fn ok(t: &impl Template) -> Result<HttpResponse, ApiError> {
    html(t, actix_web::http::StatusCode::OK)
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// Runs a read on a pooled connection, off the async workers.
async fn read<T: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(&mut crate::db::DbConn, &AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let st = state.clone();
    web::block(move || {
        let mut conn = st.pool.get()?;
        f(&mut conn, &st)
    })
    .await?
}

async fn chrome(
    state: &web::Data<AppState>,
    m: &Moderator,
    tab: &'static str,
) -> Result<Chrome, ApiError> {
    let pending = read(state, |conn, _| {
        Ok(with_conn!(conn, |c| c.count_status("pending"))?)
    })
    .await?;
    Ok(Chrome {
        csrf: m.csrf_token.clone(),
        tab,
        pending,
        pending_label: if pending > 999 {
            "999+".into()
        } else {
            pending.to_string()
        },
        display_name: m.display_name.clone(),
        username: m.username.clone(),
    })
}

/// The link to the next page: the same filters, older rows.
fn next_link(path: &str, pairs: &[(&str, String)], next: Option<i64>) -> Option<String> {
    let next = next?;
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    q.append_pair("before", &next.to_string());
    Some(format!("{path}?{}", q.finish()))
}

/// `GET /admin/login`
pub async fn login_form(moderator: Option<Moderator>) -> Result<HttpResponse, ApiError> {
    if moderator.is_some() {
        return Ok(see_other("/admin"));
    }
    ok(&LoginPage {
        error: None,
        username: String::new(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// `POST /admin/login`: the form, for browsers and password managers.
pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let LoginForm { username, password } = form.into_inner();
    match authenticate(&req, &state, &username, password).await {
        Ok(admin) => {
            let token = session::start(&state, admin.id).await?;
            Ok(HttpResponse::SeeOther()
                .cookie(session::cookie(&state.settings, &token))
                .insert_header((header::LOCATION, "/admin"))
                .finish())
        }
        Err(e) if e.status.is_client_error() => {
            let mut res = html(
                &LoginPage {
                    error: Some(e.message.clone()),
                    username,
                },
                e.status,
            )?;
            if let Some(secs) = e.retry_after {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            }
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

/// `GET /admin`: the moderation queue. `GET /admin/comments`: every comment, filtered.
async fn comments_page(
    req: HttpRequest,
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
    queue: bool,
) -> Result<HttpResponse, ApiError> {
    let Some(m) = moderator else {
        return Ok(see_other("/admin/login"));
    };
    let q = QueryParams::parse(&req)?;
    let mut filter: CommentFilter = parse_filter(&q)?;
    if queue {
        filter.status = Some("pending".into());
    }
    let pairs = [
        ("site", filter.site.clone().unwrap_or_default()),
        ("slug", filter.slug.clone().unwrap_or_default()),
        (
            "status",
            if queue {
                String::new()
            } else {
                filter.status.clone().unwrap_or_default()
            },
        ),
        ("q", q.get("q").unwrap_or("").trim().to_owned()),
        (
            "thread",
            filter.thread_id.map(|t| t.to_string()).unwrap_or_default(),
        ),
    ];
    let f = filter.clone();
    let (comments, next) = read(&state, move |conn, st| {
        with_conn!(conn, |c| moderation::list_comments(c, &st.settings, &f))
    })
    .await?;
    let here = if queue { "/admin" } else { "/admin/comments" };
    let page = CommentsPage {
        chrome: chrome(&state, &m, if queue { "queue" } else { "comments" }).await?,
        heading: if queue { "Waiting for you" } else { "Comments" },
        here,
        sites: site_infos(&state.settings),
        statuses: &["pending", "approved", "spam", "deleted"],
        filter_site: filter.site.unwrap_or_default(),
        filter_status: filter.status.unwrap_or_default(),
        filter_slug: filter.slug.unwrap_or_default(),
        filter_q: pairs[3].1.clone(),
        filter_thread: filter.thread_id,
        comments,
        next: next_link(here, &pairs, next),
        overview: if queue {
            Some(super::overview::load(&state).await?)
        } else {
            None
        },
    };
    ok(&page)
}

pub async fn queue(
    req: HttpRequest,
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    comments_page(req, moderator, state, true).await
}

pub async fn comments(
    req: HttpRequest,
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    comments_page(req, moderator, state, false).await
}

/// `GET /admin/threads`
pub async fn threads(
    req: HttpRequest,
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(m) = moderator else {
        return Ok(see_other("/admin/login"));
    };
    let super::ThreadFilter {
        site,
        typed: text,
        text: lowered,
        before,
    } = super::thread_filter(&QueryParams::parse(&req)?)?;
    let s2 = site.clone();
    let (threads, next) = read(&state, move |conn, st| {
        with_conn!(conn, |c| moderation::list_threads(
            c,
            &st.settings,
            s2.as_deref(),
            lowered.as_deref(),
            before
        ))
    })
    .await?;
    let site = site.unwrap_or_default();
    let next = next_link(
        "/admin/threads",
        &[("site", site.clone()), ("q", text.clone())],
        next,
    );
    ok(&ThreadsPage {
        chrome: chrome(&state, &m, "threads").await?,
        sites: site_infos(&state.settings),
        filter_site: site,
        filter_q: text,
        threads,
        next,
    })
}

/// `GET /admin/bans`
pub async fn bans(
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(m) = moderator else {
        return Ok(see_other("/admin/login"));
    };
    let (bans, remote_bans) = read(&state, |conn, _| {
        with_conn!(conn, |c| Ok((
            moderation::bans(c)?,
            crate::service::federation::remote_bans(c)?
        )))
    })
    .await?;
    ok(&BansPage {
        chrome: chrome(&state, &m, "bans").await?,
        sites: site_infos(&state.settings),
        bans,
        remote_bans,
    })
}

/// `GET /admin/audit`
pub async fn audit(
    req: HttpRequest,
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(m) = moderator else {
        return Ok(see_other("/admin/login"));
    };
    let before = positive(&QueryParams::parse(&req)?, "before")?;
    let (entries, next) = read(&state, move |conn, _| {
        with_conn!(conn, |c| moderation::audit_log(c, before))
    })
    .await?;
    ok(&AuditPage {
        chrome: chrome(&state, &m, "audit").await?,
        entries,
        next: next_link("/admin/audit", &[], next),
    })
}

/// `GET /admin/mail`: the outbox, and a test mail.
pub async fn outbox(
    req: HttpRequest,
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(m) = moderator else {
        return Ok(see_other("/admin/login"));
    };
    let q = QueryParams::parse(&req)?;
    let before = positive(&q, "before")?;
    let status = q
        .get("status")
        .filter(|s| matches!(*s, "queued" | "sent" | "failed"))
        .unwrap_or("")
        .to_owned();
    let filter = (!status.is_empty()).then(|| status.clone());
    let (messages, next) = read(&state, move |conn, _| {
        with_conn!(conn, |c| crate::service::outbox::list(
            c,
            filter.as_deref(),
            before
        ))
    })
    .await?;
    ok(&OutboxPage {
        chrome: chrome(&state, &m, "mail").await?,
        email_on: state.mailer.is_some(),
        next: next_link("/admin/mail", &[("status", status.clone())], next),
        status,
        messages,
    })
}

/// `GET /admin/hooks`: the webhook deliveries, and a test event.
pub async fn hooks(
    req: HttpRequest,
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(m) = moderator else {
        return Ok(see_other("/admin/login"));
    };
    let q = QueryParams::parse(&req)?;
    let before = positive(&q, "before")?;
    let status = q
        .get("status")
        .filter(|s| matches!(*s, "queued" | "delivered" | "failed"))
        .unwrap_or("")
        .to_owned();
    let filter = (!status.is_empty()).then(|| status.clone());
    let (deliveries, next) = read(&state, move |conn, _| {
        with_conn!(conn, |c| crate::service::hooks::list(
            c,
            filter.as_deref(),
            before
        ))
    })
    .await?;
    ok(&HooksPage {
        chrome: chrome(&state, &m, "hooks").await?,
        endpoints: crate::api::admin::hooks::endpoints(&state),
        next: next_link("/admin/hooks", &[("status", status.clone())], next),
        status,
        deliveries,
    })
}

/// `GET /admin/account`
pub async fn account(
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(m) = moderator else {
        return Ok(see_other("/admin/login"));
    };
    ok(&AccountPage {
        chrome: chrome(&state, &m, "account").await?,
    })
}

/// `/admin/transfer`: import a file from another system, export a site.
pub async fn transfer(
    moderator: Option<Moderator>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(m) = moderator else {
        return Ok(see_other("/admin/login"));
    };
    ok(&TransferPage {
        chrome: chrome(&state, &m, "transfer").await?,
        sites: state.settings.sites.keys().cloned().collect(),
    })
}

/// `/admin/static/admin.js` and `admin.css`, embedded in the binary.
pub async fn asset(req: HttpRequest) -> HttpResponse {
    let (body, ctype) = match req.match_info().get("file") {
        Some("admin.js") => (ADMIN_JS, "text/javascript; charset=utf-8"),
        Some("admin.css") => (ADMIN_CSS, "text/css; charset=utf-8"),
        _ => {
            return actix_web::ResponseError::error_response(&ApiError::not_found(
                "not_found",
                "There is no such file.",
            ))
        }
    };
    HttpResponse::Ok().content_type(ctype).body(body)
}
