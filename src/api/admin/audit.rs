//! `/api/v1/admin/audit` (who did what, when) and `/api/v1/admin/sites`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::positive;
use crate::api::extract::QueryParams;
use crate::auth::Moderator;
use crate::error::ApiError;
use crate::service::moderation::{self, AuditEntry};
use crate::state::AppState;
use crate::with_conn;

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    pub next: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin",
    params(("before" = Option<i64>, Query, description = "The `next` value of the previous page", minimum = 1)),
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "A page of the log", body = AuditList),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad cursor", body = crate::api::openapi::ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    _moderator: Moderator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let before = positive(&QueryParams::parse(&req)?, "before")?;
    let st = state.clone();
    let (entries, next) = web::block(move || {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| moderation::audit_log(c, before))
    })
    .await??;
    Ok(HttpResponse::Ok().json(AuditList { entries, next }))
}

#[derive(Serialize, ToSchema)]
pub struct SiteInfo {
    pub id: String,
    /// `none`, `first-time` or `all`.
    pub moderation: &'static str,
    /// `["*"]` when any origin may embed it.
    pub origins: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SiteList {
    pub sites: Vec<SiteInfo>,
}

/// The configured sites.
#[utoipa::path(get, path = "/api/v1/admin/sites", tag = "admin",
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "The sites", body = SiteList),
        (status = 401, description = "Not logged in", body = crate::api::openapi::ErrorBody)))]
pub async fn sites(_moderator: Moderator, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(SiteList {
        sites: site_infos(&state.settings),
    })
}

pub fn site_infos(settings: &crate::config::Settings) -> Vec<SiteInfo> {
    let mut sites: Vec<SiteInfo> = settings
        .sites
        .values()
        .map(|s| SiteInfo {
            id: s.id.as_str().to_owned(),
            moderation: s.moderation.as_str(),
            origins: match &s.origins {
                crate::config::Origins::Any => vec!["*".to_owned()],
                crate::config::Origins::List(l) => {
                    let mut v: Vec<String> = l.iter().cloned().collect();
                    v.sort();
                    v
                }
            },
        })
        .collect();
    sites.sort_by(|a, b| a.id.cmp(&b.id));
    sites
}
