//! Logs: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or as JSON
//! lines (`log_format`). Each request gets an id, in its log lines, in the `X-Request-Id`
//! header and in error answers, so a reader's report can be matched to a log line.

use std::io::IsTerminal;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing_actix_web::RequestId;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line, with the request's fields.
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Makes the id the tracing middleware gave the request known to what answers it (error
/// bodies) and to the client (`X-Request-Id`). Inside `TracingLogger`.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut res = REQUEST_ID.scope(id.clone(), next.call(req)).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    Ok(res)
}

/// An optional value shown as itself, or as nothing.
struct OrEmpty<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for OrEmpty<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => Ok(()),
        }
    }
}

/// The span of each request. Unlike tracing-actix-web's default, which believes any
/// `X-Forwarded-For`, it records the peer address only: logs must not carry an address
/// a client chose.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        // Formatted only when the span is recorded (not below `info`): the fields are
        // evaluated inside the macro's check of the level.
        let peer = request.peer_addr().map(|a| a.ip());
        let id = request.extensions().get::<RequestId>().copied();
        tracing::info_span!(
            "request",
            request_id = %OrEmpty(id),
            method = %request.method(),
            path = %request.path(),
            peer = %OrEmpty(peer),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        if let Ok(response) = outcome {
            let status = response.status().as_u16();
            span.record("status", status);
            // Every error answer gets a line a report can be matched to (a 5xx's cause is
            // logged where it happened); the others only at debug level.
            span.in_scope(|| match status {
                500.. => tracing::warn!(status, "failed"),
                400.. => tracing::info!(status, "refused"),
                _ => tracing::debug!(status, "answered"),
            });
        }
    }
}
