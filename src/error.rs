//! The one error type of the HTTP layer: the JSON shape of API.md, the right status,
//! an opaque body for 5xx and the full cause chain in the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

use crate::domain::ValidationError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
    source: Option<anyhow::Error>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// The id of the request in the server's log (an extension of API.md's shape).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            source: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many requests from your address; try again in {retry_after} s."),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn unknown_site() -> Self {
        Self::not_found(
            "unknown_site",
            "No site with this id is configured on this server.",
        )
        .with_field("site")
    }

    /// No such comment, or one its author deleted: the same answer for both.
    pub fn comment_not_found() -> Self {
        Self::not_found("comment_not_found", "There is no comment with this id.")
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on the server; the error was logged.",
        );
        e.source = Some(source.into());
        e
    }

    pub fn unavailable(source: impl Into<anyhow::Error>) -> Self {
        crate::metrics::database_error("unavailable");
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "The database is busy or unreachable; try again shortly.",
        );
        e.retry_after = Some(1);
        e.source = Some(source.into());
        e
    }

    /// The JSON body for this error, as bytes.
    pub fn body_bytes(&self) -> Vec<u8> {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
                request_id: crate::telemetry::current_request_id(),
            },
        };
        serde_json::to_vec(&body).unwrap_or_else(|_| {
            b"{\"error\":{\"code\":\"internal_error\",\"message\":\"error\"}}".to_vec()
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.code,
            self.message
        )?;
        if let Some(source) = &self.source {
            write!(f, ": {source:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut resp = HttpResponse::build(self.status);
        resp.insert_header((header::CONTENT_TYPE, "application/json"));
        resp.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(secs) = self.retry_after {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        resp.body(self.body_bytes())
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::unprocessable(e.code, e.message).with_field(e.field)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::not_found("not_found", "Nothing was found here."),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::conflict("conflict", "This conflicts with data already stored.")
            }
            e if is_transient(&e) => ApiError::unavailable(e),
            other => {
                crate::metrics::database_error("error");
                ApiError::internal(other)
            }
        }
    }
}

/// Errors that say nothing about the request, only that the database could not do it
/// now: the same request may well succeed in a moment (503 with `Retry-After`).
/// PostgreSQL's deadlocks and cancelled statements have no kind of their own in diesel,
/// so their (English) messages are matched.
pub fn is_transient(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const MESSAGES: [&str; 9] = [
        // PostgreSQL 40P01, 57014 (statement_timeout), 55P03, 57P01-57P03, 53300.
        "deadlock detected",
        "canceling statement due to",
        "could not obtain lock",
        "terminating connection",
        "the database system is",
        "too many clients",
        // A connection lost mid-statement, in libpq's words.
        "server closed the connection",
        // SQLite, busy past busy_timeout.
        "database is locked",
        "database table is locked",
    ];
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            MESSAGES.iter().any(|t| m.contains(t))
        }
        _ => false,
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        ApiError::unavailable(e)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// An error with its causes, on one line (a wrong host, port, TLS or password shows here),
/// each cause once.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn db(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn transient_database_errors_are_503() {
        for e in [
            db(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access",
            ),
            db(DatabaseErrorKind::ClosedConnection, "closed"),
            db(
                DatabaseErrorKind::UnableToSendCommand,
                "no connection to the server",
            ),
            db(DatabaseErrorKind::Unknown, "deadlock detected"),
            db(
                DatabaseErrorKind::Unknown,
                "canceling statement due to statement timeout",
            ),
            db(DatabaseErrorKind::Unknown, "database is locked"),
            db(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
        ] {
            let api = ApiError::from(e);
            assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE, "{api}");
            assert_eq!(api.retry_after, Some(1));
        }
        for e in [
            db(DatabaseErrorKind::Unknown, "relation \"x\" does not exist"),
            db(DatabaseErrorKind::CheckViolation, "check"),
        ] {
            assert_eq!(ApiError::from(e).status, StatusCode::INTERNAL_SERVER_ERROR);
        }
        assert_eq!(
            ApiError::from(Error::NotFound).status,
            StatusCode::NOT_FOUND
        );
    }
}
