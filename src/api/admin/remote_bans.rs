//! `/api/v1/admin/remote-bans`: refuse or hold replies from elsewhere, by remote account
//! or by instance or domain (see docs/replies-from-elsewhere.md).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::extract::{path_id, JsonBody};
use crate::auth::Moderator;
use crate::domain::SiteId;
use crate::error::ApiError;
use crate::service::federation::{self, NewRemoteBanInput, RemoteBan, RemoteBanTarget};
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Serialize, ToSchema)]
pub struct RemoteBanList {
    pub bans: Vec<RemoteBan>,
}

#[derive(Serialize, ToSchema)]
pub struct RemoteBanEnvelope {
    pub ban: RemoteBan,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteBanRequest {
    /// `account` or `domain`.
    #[schema(pattern = "^(account|domain)$")]
    pub kind: String,
    /// The account as shown in `remote_account` terms (`mastodon:ann@example.social`,
    /// `bluesky:did:plc:...`, `web:example.org`), or a domain (`example.social`). Or give
    /// `comment_id`.
    #[schema(max_length = 300)]
    pub value: Option<String>,
    /// Ban the account (or its domain) of this comment from elsewhere.
    #[schema(minimum = 1)]
    pub comment_id: Option<i64>,
    /// Only on this site; every site when absent.
    pub site: Option<String>,
    /// `refuse` (default): replies from it are not stored; `hold`: kept for moderation.
    #[schema(pattern = "^(refuse|hold)$")]
    pub action: Option<String>,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

fn invalid(code: &'static str, message: &str, field: &str) -> ApiError {
    ApiError::unprocessable(code, message.to_owned()).with_field(field)
}

fn is_domain(v: &str) -> bool {
    (1..=253).contains(&v.len())
        && v.contains('.')
        && v.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_account(v: &str) -> bool {
    let ok_chars = |s: &str| {
        !s.is_empty()
            && s.len() <= 300
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@' | b':' | b'%')
            })
    };
    match v.split_once(':') {
        Some(("mastodon", rest)) => rest
            .split_once('@')
            .is_some_and(|(u, d)| ok_chars(u) && is_domain(d)),
        Some(("bluesky", rest)) => rest.starts_with("did:") && ok_chars(rest),
        Some(("web", rest)) => is_domain(rest),
        _ => false,
    }
}

fn parse(b: RemoteBanRequest, state: &AppState) -> Result<NewRemoteBanInput, ApiError> {
    let value = b
        .value
        .as_deref()
        .map(|v| v.trim().to_lowercase())
        .filter(|v| !v.is_empty());
    let comment = match b.comment_id {
        Some(i) if i >= 1 => Some(i),
        Some(_) => {
            return Err(invalid(
                "invalid_comment_id",
                "comment_id must be a comment id.",
                "comment_id",
            ))
        }
        None => None,
    };
    let target = match (b.kind.as_str(), value, comment) {
        ("account", Some(v), None) if is_account(&v) => RemoteBanTarget::Account(v),
        ("account", Some(_), None) => {
            return Err(invalid(
                "invalid_account",
                "value must be an account like mastodon:ann@example.social, \
                 bluesky:did:plc:abc or web:example.org.",
                "value",
            ))
        }
        ("domain", Some(v), None) if is_domain(&v) => RemoteBanTarget::Domain(v),
        ("domain", Some(_), None) => {
            return Err(invalid(
                "invalid_domain",
                "value must be a domain like example.social.",
                "value",
            ))
        }
        ("account", None, Some(id)) => RemoteBanTarget::CommentAccount(id),
        ("domain", None, Some(id)) => RemoteBanTarget::CommentDomain(id),
        ("account" | "domain", _, _) => {
            return Err(invalid(
                "ban_target",
                "Give either value or comment_id, not both.",
                "value",
            ))
        }
        _ => {
            return Err(invalid(
                "invalid_kind",
                "kind must be account or domain.",
                "kind",
            ))
        }
    };
    let site = match b.site.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let id = SiteId::parse(s)?;
            if state.settings.site(&id).is_none() {
                return Err(invalid(
                    "unknown_site",
                    "There is no site with this id.",
                    "site",
                ));
            }
            Some(id.as_str().to_owned())
        }
    };
    let hold = match b.action.as_deref() {
        None | Some("refuse") => false,
        Some("hold") => true,
        Some(_) => {
            return Err(invalid(
                "invalid_action",
                "action must be refuse or hold.",
                "action",
            ))
        }
    };
    let reason = b
        .reason
        .map(|r| r.trim().chars().take(500).collect::<String>())
        .filter(|r| !r.is_empty());
    Ok(NewRemoteBanInput {
        target,
        site,
        hold,
        reason,
    })
}

/// Every ban of a remote account or domain, newest first.
#[utoipa::path(get, path = "/api/v1/admin/remote-bans", tag = "admin",
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The bans", body = RemoteBanList),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody)))]
pub async fn list(
    _moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let bans = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| federation::remote_bans(c))
    })
    .await??;
    Ok(HttpResponse::Ok().json(RemoteBanList { bans }))
}

/// Bans a remote account, or an instance or domain, from replying here.
#[utoipa::path(post, path = "/api/v1/admin/remote-bans", tag = "admin",
    request_body = RemoteBanRequest,
    security(("admin_session" = [])),
    responses(
        (status = 201, description = "Banned", body = RemoteBanEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such comment", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Already banned", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A field fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn create(
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<RemoteBanRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = parse(body.0, &state)?;
    let ban = state
        .pool
        .write_changing(None, move |conn| {
            let ban = on_conn!(conn, |c| federation::add_remote_ban(
                c,
                &moderator.username,
                &input
            ))?;
            Ok((ban, Vec::new()))
        })
        .await?;
    Ok(HttpResponse::Created().json(RemoteBanEnvelope { ban }))
}

/// Lifts a remote ban.
#[utoipa::path(delete, path = "/api/v1/admin/remote-bans/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Ban id")),
    security(("admin_session" = [])),
    responses(
        (status = 204, description = "Lifted"),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such ban", body = crate::api::openapi::ErrorBody)))]
pub async fn delete(
    req: HttpRequest,
    moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, || {
        ApiError::not_found("ban_not_found", "There is no remote ban with this id.")
    })?;
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| federation::delete_remote_ban(
                c,
                &moderator.username,
                id
            ))?;
            Ok(((), Vec::new()))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
