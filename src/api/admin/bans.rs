//! `/api/v1/admin/bans`: refuse or hold future comments from an email or an address.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::extract::{path_id, JsonBody};
use crate::auth::Moderator;
use crate::domain::{CommentId, Email, SiteId};
use crate::error::ApiError;
use crate::service::moderation::{self, Ban, BanTarget, NewBanInput};
use crate::state::AppState;
use crate::{on_conn, with_conn};

#[derive(Serialize, ToSchema)]
pub struct BanList {
    pub bans: Vec<Ban>,
}

#[derive(Serialize, ToSchema)]
pub struct BanEnvelope {
    pub ban: Ban,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// `email` or `ip`.
    #[schema(pattern = "^(email|ip)$")]
    pub kind: String,
    /// The email address, or an `ip_hash` shown with a comment. Or give `comment_id`.
    #[schema(max_length = 320)]
    pub value: Option<String>,
    /// Ban the email or address of this comment.
    #[schema(minimum = 1)]
    pub comment_id: Option<i64>,
    /// Only on this site; every site when absent.
    pub site: Option<String>,
    /// `refuse` (default): such comments are answered 403; `hold`: kept for moderation.
    #[schema(pattern = "^(refuse|hold)$")]
    pub action: Option<String>,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// Lifts itself after this many days; forever when absent.
    #[schema(minimum = 1, maximum = 36500)]
    pub days: Option<u32>,
}

fn invalid(code: &'static str, message: &str, field: &str) -> ApiError {
    ApiError::unprocessable(code, message.to_owned()).with_field(field)
}

fn parse_ban(b: BanRequest, state: &AppState) -> Result<NewBanInput, ApiError> {
    let from_comment = b
        .comment_id
        .map(|i| {
            CommentId::new(i).ok_or_else(|| {
                invalid(
                    "invalid_comment_id",
                    "comment_id must be a comment id.",
                    "comment_id",
                )
            })
        })
        .transpose()?;
    let value = b.value.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let target = match (b.kind.as_str(), value, from_comment) {
        ("email", Some(v), None) => BanTarget::Email(
            Email::parse(v)
                .map_err(|_| invalid("invalid_email", "value must be an email address.", "value"))?
                .ok_or_else(|| {
                    invalid("invalid_email", "value must be an email address.", "value")
                })?
                .as_str()
                .to_owned(),
        ),
        ("ip", Some(v), None) => {
            if v.len() != 24 || !v.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid(
                    "invalid_ip_hash",
                    "value must be an ip_hash as shown with a comment (24 hex digits).",
                    "value",
                ));
            }
            BanTarget::IpHash(v.to_ascii_lowercase())
        }
        ("email", None, Some(id)) => BanTarget::CommentEmail(id),
        ("ip", None, Some(id)) => BanTarget::CommentIp(id),
        ("email" | "ip", _, _) => {
            return Err(invalid(
                "ban_target",
                "Give either value or comment_id, not both.",
                "value",
            ))
        }
        _ => return Err(invalid("invalid_kind", "kind must be email or ip.", "kind")),
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
    let expires_at = match b.days {
        None => None,
        Some(d) if (1..=36500).contains(&d) => {
            Some(crate::view::now_micros() + i64::from(d) * 86_400_000_000)
        }
        Some(_) => return Err(invalid("invalid_days", "days must be 1 to 36500.", "days")),
    };
    Ok(NewBanInput {
        target,
        site,
        hold,
        reason,
        expires_at,
    })
}

/// Every ban, newest first.
#[utoipa::path(get, path = "/api/v1/admin/bans", tag = "admin",
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The bans", body = BanList),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody)))]
pub async fn list(
    _moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let bans = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| moderation::bans(c))
    })
    .await??;
    Ok(HttpResponse::Ok().json(BanList { bans }))
}

/// Bans an email address or a client address (by its hash) from commenting.
#[utoipa::path(post, path = "/api/v1/admin/bans", tag = "admin",
    request_body = BanRequest,
    security(("admin_session" = [])),
    responses(
        (status = 201, description = "Banned", body = BanEnvelope),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "No CSRF token, or a foreign Origin", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such comment", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Already banned", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A field fails validation", body = crate::api::openapi::ErrorBody)))]
pub async fn create(
    moderator: Moderator,
    state: web::Data<AppState>,
    body: JsonBody<BanRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = parse_ban(body.0, &state)?;
    let ban = state
        .pool
        .write_changing(None, move |conn| {
            let ban = on_conn!(conn, |c| moderation::add_ban(
                c,
                &moderator.username,
                &input
            ))?;
            Ok((ban, Vec::new()))
        })
        .await?;
    Ok(HttpResponse::Created().json(BanEnvelope { ban }))
}

/// Lifts a ban.
#[utoipa::path(delete, path = "/api/v1/admin/bans/{id}", tag = "admin",
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
        ApiError::not_found("ban_not_found", "There is no ban with this id.")
    })?;
    state
        .pool
        .write_changing(None, move |conn| {
            on_conn!(conn, |c| moderation::remove_ban(c, &moderator.username, id))?;
            Ok(((), Vec::new()))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
