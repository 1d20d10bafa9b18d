//! `POST /webmention`: the Webmention receiver (W3C Recommendation). Takes `source` and
//! `target` (form-encoded), checks what can be checked at once and answers `202`; the
//! source is fetched and read later, by the federation worker (crate::federation).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Origins;
use crate::error::ApiError;
use crate::state::AppState;
use crate::with_conn;

#[derive(Serialize, ToSchema)]
pub struct WebmentionQueued {
    /// Always `queued`: the source is verified later.
    pub status: &'static str,
    pub source: String,
    pub target: String,
}

/// The form fields, as sent (`application/x-www-form-urlencoded`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebmentionForm {
    /// The page that mentions the target (http or https).
    source: String,
    /// A page of one of the site's origins.
    target: String,
}

fn bad(code: &'static str, field: &'static str, message: &str) -> ApiError {
    ApiError::bad_request(code, message.to_owned()).with_field(field)
}

fn http_url(field: &'static str, raw: Option<&str>) -> Result<url::Url, ApiError> {
    let raw = raw
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            bad(
                if field == "source" {
                    "missing_source"
                } else {
                    "missing_target"
                },
                field,
                &format!("{field} is required."),
            )
        })?;
    let url = url::Url::parse(raw).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.username().is_empty()
            && u.password().is_none()
            && raw.len() <= 2048
    });
    url.ok_or_else(|| {
        bad(
            if field == "source" {
                "invalid_source"
            } else {
                "invalid_target"
            },
            field,
            &format!("{field} must be an http or https URL of at most 2048 characters."),
        )
    })
}

/// Receives a webmention: `source` says it mentions `target`. Answers 202 at once; the
/// source is fetched and checked later (it must link to the target).
#[utoipa::path(post, path = "/webmention", tag = "webmention",
    request_body(content = WebmentionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 202, description = "Queued for verification", body = WebmentionQueued),
        (status = 400, description = "A missing or bad source or target, or a target that is not a page of a site", body = crate::api::openapi::ErrorBody),
        (status = 415, description = "Not form-encoded", body = crate::api::openapi::ErrorBody),
        (status = 429, description = "Too many webmentions from the source's domain", body = crate::api::openapi::ErrorBody)))]
pub async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form_encoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send source and target form-encoded (application/x-www-form-urlencoded).",
        ));
    }
    let mut source = None;
    let mut target = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "source" if source.is_none() => source = Some(v.into_owned()),
            "target" if target.is_none() => target = Some(v.into_owned()),
            _ => {}
        }
    }
    let source = http_url("source", source.as_deref())?;
    let target = http_url("target", target.as_deref())?;
    let bare = |u: &url::Url| {
        let mut u = u.clone();
        u.set_fragment(None);
        u
    };
    if bare(&source) == bare(&target) {
        return Err(bad(
            "same_source_and_target",
            "source",
            "source and target must be different pages.",
        ));
    }
    // The site whose own origins hold the target (a site open to any origin cannot tell).
    let origin = target.origin().ascii_serialization();
    let site = state
        .settings
        .sites
        .values()
        .find(|s| matches!(&s.origins, Origins::List(l) if l.contains(&origin)))
        .ok_or_else(|| {
            bad(
                "target_not_on_site",
                "target",
                "target must be a page on one of the origins of a site served here.",
            )
        })?;
    if crate::federation::webmention::target_thread(site.id.as_str(), &target).is_none() {
        return Err(bad(
            "invalid_target",
            "target",
            "target's path cannot name a thread.",
        ));
    }
    let domain = source.host_str().unwrap_or("").to_lowercase();
    state.webmention_limiter.check(&domain).map_err(|secs| {
        let mut e = ApiError::new(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many webmentions from {domain}; try again in {secs} s."),
        );
        e.retry_after = Some(secs);
        e
    })?;
    let (site_id, src, tgt) = (
        site.id.as_str().to_owned(),
        source.to_string(),
        target.to_string(),
    );
    let st = state.clone();
    let (s2, t2) = (src.clone(), tgt.clone());
    web::block(move || -> Result<(), ApiError> {
        let mut conn = st.pool.get()?;
        with_conn!(conn, |c| crate::db::FederationStore::queue_webmention(
            c,
            &site_id,
            &s2,
            &t2,
            crate::view::now_micros()
        ))?;
        Ok(())
    })
    .await??;
    Ok(HttpResponse::Accepted().json(WebmentionQueued {
        status: "queued",
        source: src,
        target: tgt,
    }))
}
