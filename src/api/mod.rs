//! The one route table, CORS, and JSON answers for unknown routes and methods.

pub mod admin;
pub mod assets;
pub mod client;
pub mod comments;
pub mod counts;
pub mod extract;
pub mod feeds;
pub mod fragment;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod preview;
pub mod privacy;
pub mod reactions;
pub mod respond;
pub mod subscriptions;
pub mod webmention;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpResponse, ResponseError};

use crate::config::Settings;
use crate::domain::SiteId;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/comments")
            .route(web::get().to(comments::list))
            .route(web::post().to(comments::create))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/v1/comments.html")
            .route(web::get().to(fragment::html))
            .default_service(method_not_allowed("GET")),
    )
    // Before `{id}`, which would otherwise take `form` for an id.
    .service(
        web::resource("/api/v1/comments/form")
            .route(web::get().to(fragment::held))
            .route(web::post().to(fragment::submit))
            .default_service(method_not_allowed("GET, POST")),
    )
    // Before `{id}`, which would otherwise take `mine` for an id.
    .service(
        web::resource("/api/v1/comments/mine")
            .route(web::post().to(comments::mine))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/api/v1/comments/{id}")
            .route(web::patch().to(comments::edit))
            .route(web::delete().to(comments::delete))
            .default_service(method_not_allowed("PATCH, DELETE")),
    )
    .service(
        web::resource("/api/v1/counts")
            .route(web::get().to(counts::get))
            .route(web::post().to(counts::post))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/v1/reactions")
            .route(web::get().to(reactions::list))
            .route(web::post().to(reactions::toggle))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/v1/preview")
            .route(web::post().to(preview::preview))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/api/v1/openapi.json")
            .route(web::get().to(openapi::spec))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/embed.js")
            .route(web::get().to(assets::embed_js))
            .route(web::head().to(assets::embed_js))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/embed-write.js")
            .route(web::get().to(assets::embed_write_js))
            .route(web::head().to(assets::embed_write_js))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/embed-elsewhere.js")
            .route(web::get().to(assets::embed_elsewhere_js))
            .route(web::head().to(assets::embed_elsewhere_js))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/embed-refusals.js")
            .route(web::get().to(assets::embed_refusals_js))
            .route(web::head().to(assets::embed_refusals_js))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/embed.css")
            .route(web::get().to(assets::embed_css))
            .route(web::head().to(assets::embed_css))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/count.js")
            .route(web::get().to(assets::count_js))
            .route(web::head().to(assets::count_js))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/feeds/{file}")
            .route(web::get().to(feeds::site))
            .route(web::head().to(feeds::site))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/feeds/{site}/thread.atom")
            .route(web::get().to(feeds::thread))
            .route(web::head().to(feeds::thread))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/api/v1/subscriptions")
            .route(web::post().to(subscriptions::follow))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/api/v1/privacy")
            .route(web::post().to(privacy::request))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/privacy")
            .route(web::get().to(privacy::page_for))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/privacy/export")
            .route(web::post().to(privacy::export))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/privacy/erase")
            .route(web::post().to(privacy::erase))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/webmention")
            .route(web::post().to(webmention::receive))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/mail/confirm")
            .route(web::get().to(subscriptions::confirm_page))
            .route(web::post().to(subscriptions::confirm))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/mail/unsubscribe")
            .route(web::get().to(subscriptions::unsubscribe_page))
            .route(web::post().to(subscriptions::unsubscribe))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/")
            .route(web::get().to(assets::demo))
            .route(web::head().to(assets::demo))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::scope("/admin")
            .wrap(from_fn(admin::security_headers))
            .service(
                web::resource(["", "/"])
                    .route(web::get().to(admin::page::queue))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/login")
                    .route(web::get().to(admin::page::login_form))
                    .route(web::post().to(admin::page::login_submit))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/comments")
                    .route(web::get().to(admin::page::comments))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/threads")
                    .route(web::get().to(admin::page::threads))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/bans")
                    .route(web::get().to(admin::page::bans))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/mail")
                    .route(web::get().to(admin::page::outbox))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/hooks")
                    .route(web::get().to(admin::page::hooks))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/feeds/{file}")
                    .route(web::get().to(feeds::moderators))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/audit")
                    .route(web::get().to(admin::page::audit))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/account")
                    .route(web::get().to(admin::page::account))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/transfer")
                    .route(web::get().to(admin::page::transfer))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/mail/action")
                    .route(web::get().to(admin::mail::confirm))
                    .route(web::post().to(admin::mail::act))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/static/{file}")
                    .route(web::get().to(admin::page::asset))
                    .default_service(method_not_allowed("GET")),
            )
            .default_service(web::to(not_found)),
    )
    .service(
        web::scope("/api/v1/admin")
            .wrap(from_fn(admin::security_headers))
            .service(
                web::resource("/login")
                    .route(web::post().to(admin::session::login))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/logout")
                    .route(web::post().to(admin::session::logout))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/session")
                    .route(web::get().to(admin::session::whoami))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/password")
                    .route(web::post().to(admin::session::change_password))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/import")
                    .route(web::post().to(admin::transfer::import))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/export")
                    .route(web::get().to(admin::transfer::export))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/comments")
                    .route(web::get().to(admin::comments::list))
                    .default_service(method_not_allowed("GET")),
            )
            // Before `{id}`.
            .service(
                web::resource("/comments/bulk")
                    .route(web::post().to(admin::comments::bulk))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/comments/{id}")
                    .route(web::get().to(admin::comments::get))
                    .route(web::patch().to(admin::comments::edit))
                    .default_service(method_not_allowed("GET, PATCH")),
            )
            // Before `{id}/{action}`, which would otherwise take `reply` for an action.
            .service(
                web::resource("/comments/{id}/reply")
                    .route(web::post().to(admin::replies::reply))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/comments/{id}/{action}")
                    .route(web::post().to(admin::comments::act))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/threads")
                    .route(web::get().to(admin::threads::list))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/threads/{id}")
                    .route(web::patch().to(admin::threads::edit))
                    .default_service(method_not_allowed("PATCH")),
            )
            .service(
                web::resource("/threads/{id}/comments")
                    .route(web::post().to(admin::replies::comment))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/threads/{id}/lock")
                    .route(web::post().to(admin::threads::lock))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/threads/{id}/unlock")
                    .route(web::post().to(admin::threads::unlock))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/bans")
                    .route(web::get().to(admin::bans::list))
                    .route(web::post().to(admin::bans::create))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/remote-bans")
                    .route(web::get().to(admin::remote_bans::list))
                    .route(web::post().to(admin::remote_bans::create))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/remote-bans/{id}")
                    .route(web::delete().to(admin::remote_bans::delete))
                    .default_service(method_not_allowed("DELETE")),
            )
            .service(
                web::resource("/bans/{id}")
                    .route(web::delete().to(admin::bans::delete))
                    .default_service(method_not_allowed("DELETE")),
            )
            .service(
                web::resource("/audit")
                    .route(web::get().to(admin::audit::list))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/sites")
                    .route(web::get().to(admin::audit::sites))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/outbox")
                    .route(web::get().to(admin::outbox::list))
                    .default_service(method_not_allowed("GET")),
            )
            // Before `{id}`, which would otherwise take `test` for an id.
            .service(
                web::resource("/outbox/test")
                    .route(web::post().to(admin::outbox::test))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/outbox/{id}")
                    .route(web::delete().to(admin::outbox::drop))
                    .default_service(method_not_allowed("DELETE")),
            )
            .service(
                web::resource("/outbox/{id}/retry")
                    .route(web::post().to(admin::outbox::retry))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/hooks")
                    .route(web::get().to(admin::hooks::list))
                    .default_service(method_not_allowed("GET")),
            )
            // Before `{id}`, which would otherwise take `test` for an id.
            .service(
                web::resource("/hooks/test")
                    .route(web::post().to(admin::hooks::test))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/hooks/{id}")
                    .route(web::delete().to(admin::hooks::drop))
                    .default_service(method_not_allowed("DELETE")),
            )
            .service(
                web::resource("/hooks/{id}/retry")
                    .route(web::post().to(admin::hooks::retry))
                    .default_service(method_not_allowed("POST")),
            )
            .default_service(web::to(not_found)),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics::metrics))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(health::healthz))
            // Load balancers often probe with HEAD.
            .route(web::head().to(health::healthz))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .default_service(web::to(not_found));
}

pub(crate) async fn not_found() -> HttpResponse {
    ApiError::not_found(
        "not_found",
        "There is nothing at this address; see /api/v1/openapi.json.",
    )
    .error_response()
}

/// 405 with the `Allow` header naming what the address takes.
fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move {
        let mut r = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("This address takes {allow}; see /api/v1/openapi.json."),
        )
        .error_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        r
    })
}

/// Is `origin` allowed for this request? The site in the query decides when there is one;
/// otherwise (edits by id, counts by body) any configured site's origin passes here and the
/// handler checks the precise site.
fn origin_allowed(settings: &Settings, query: &str, origin: &str) -> (bool, bool) {
    let site = extract::QueryParams::parse_str(query)
        .ok()
        .and_then(|q| q.get("site").and_then(|s| SiteId::parse(s).ok()))
        .and_then(|id| settings.site(&id));
    match site {
        Some(s) => (s.origins.allows(origin), true),
        None => (
            settings.sites.values().any(|s| s.origins.allows(origin)),
            false,
        ),
    }
}

/// Headers every answer carries: `nosniff` everywhere, and on JSON a CSP that lets it do
/// nothing if a browser is ever tricked into rendering it. Pages set their own CSP.
pub async fn hardening(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let json = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json && !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    Ok(res)
}

/// Per-site CORS: only a site's `origins` get CORS headers, preflights included, and
/// browser writes from other origins are refused before they reach a handler.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let admin = admin::is_admin_path(req.path());
    let (Some(origin), Some(state), false) = (
        origin,
        req.app_data::<web::Data<AppState>>().cloned(),
        admin,
    ) else {
        // No CORS for the admin side: only its own pages call it. Answers differ by
        // Origin, so shared caches must key on it even when it is absent.
        let mut res = next.call(req).await?;
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        return Ok(res.map_into_left_body());
    };
    let (allowed, site_known) = origin_allowed(&state.settings, req.query_string(), &origin);
    let method = req.method().clone();

    if method == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let resp = if allowed {
            HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    "GET, POST, PATCH, DELETE, OPTIONS",
                ))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "Content-Type, Authorization, If-None-Match",
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
                .insert_header((header::VARY, "Origin"))
                .finish()
        } else {
            let mut r = extract::origin_refused().error_response();
            r.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Origin"));
            r
        };
        return Ok(req.into_response(resp).map_into_right_body());
    }

    let is_write = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if is_write && site_known && !allowed {
        let mut r = extract::origin_refused().error_response();
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
        return Ok(req.into_response(r).map_into_right_body());
    }

    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed {
        if let Ok(v) = HeaderValue::from_str(&origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("ETag, Retry-After, Afterword-Form"),
            );
        }
    }
    Ok(res.map_into_left_body())
}
