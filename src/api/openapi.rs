//! `/api/v1/openapi.json`, generated from the handlers' annotations.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use bytes::Bytes;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: `{"error": {"code", "message", "field"?, "request_id"?}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// snake_case, stable: switch on it.
    pub code: String,
    /// A sentence a person can act on.
    pub message: String,
    /// The field at fault, when there is one.
    pub field: Option<String>,
    /// The request's id in the server's log (also in the `X-Request-Id` header): quote it
    /// when reporting a problem.
    pub request_id: Option<String>,
}

struct EditToken;

impl Modify for EditToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "edit_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The edit_token returned when the comment was created"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "afterword_session",
                "The moderator's session cookie, set by POST /api/v1/admin/login (named \
                 __Host-afterword_session over HTTPS). Requests that change anything must \
                 also send the session's csrf_token as the X-CSRF-Token header.",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Afterword API", version = "1", description = "Comments and reactions for static blogs."),
    paths(
        crate::api::comments::list,
        crate::api::comments::create,
        crate::api::fragment::html,
        crate::api::fragment::held,
        crate::api::fragment::submit,
        crate::api::preview::preview,
        crate::api::comments::edit,
        crate::api::comments::delete,
        crate::api::comments::mine,
        crate::api::subscriptions::follow,
        crate::api::privacy::request,
        crate::api::counts::get,
        crate::api::counts::post,
        crate::api::reactions::list,
        crate::api::reactions::toggle,
        crate::api::health::healthz,
        crate::api::assets::embed_js,
        crate::api::assets::embed_css,
        crate::api::assets::embed_write_js,
        crate::api::assets::embed_elsewhere_js,
        crate::api::assets::embed_refusals_js,
        crate::api::assets::count_js,
        spec,
        crate::api::admin::session::login,
        crate::api::admin::session::logout,
        crate::api::admin::session::whoami,
        crate::api::admin::session::change_password,
        crate::api::admin::comments::list,
        crate::api::admin::comments::get,
        crate::api::admin::comments::edit,
        crate::api::admin::comments::act,
        crate::api::admin::comments::bulk,
        crate::api::admin::replies::reply,
        crate::api::admin::replies::comment,
        crate::api::admin::threads::list,
        crate::api::admin::transfer::import,
        crate::api::admin::transfer::export,
        crate::api::admin::threads::edit,
        crate::api::admin::threads::lock,
        crate::api::admin::threads::unlock,
        crate::api::admin::bans::list,
        crate::api::admin::bans::create,
        crate::api::admin::bans::delete,
        crate::api::admin::audit::list,
        crate::api::admin::audit::sites,
        crate::api::admin::outbox::list,
        crate::api::admin::outbox::retry,
        crate::api::admin::outbox::drop,
        crate::api::admin::outbox::test,
        crate::api::admin::hooks::list,
        crate::api::admin::hooks::retry,
        crate::api::admin::hooks::drop,
        crate::api::admin::hooks::test,
        crate::api::webmention::receive,
        crate::api::admin::remote_bans::list,
        crate::api::admin::remote_bans::create,
        crate::api::admin::remote_bans::delete,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&EditToken),
    tags((name = "comments"), (name = "counts"), (name = "reactions"), (name = "embed"), (name = "service"),
        (name = "webmention", description = "The Webmention receiver (W3C Recommendation)"),
        (name = "admin", description = "Moderation: behind a session cookie and a CSRF token"))
)]
pub struct ApiDoc;

static SPEC: LazyLock<Bytes> = LazyLock::new(|| {
    Bytes::from(
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".into()),
    )
});

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI 3 description of this API")))]
pub async fn spec() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", "application/json"))
        .body(SPEC.clone())
}
