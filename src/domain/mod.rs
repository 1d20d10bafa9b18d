//! Value types parsed once at the edge. Inner code accepts only these.

mod comment;
pub mod names;
mod reaction;
mod thread;

pub use comment::{AuthorName, CommentBody, CommentId, CommentStatus, Email, Website};
pub use reaction::{ReactionKind, VisitorId};
pub use thread::{Cursor, Limit, PageUrl, SiteId, Slug, Sort, Title};

use std::fmt;

/// A field that failed validation: becomes a 422 with `field` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        ValidationError {
            field,
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Rejects control characters (NUL included); `allow_whitespace` lets newlines and tabs through.
pub(crate) fn check_no_control(
    field: &'static str,
    value: &str,
    allow_whitespace: bool,
) -> Result<(), ValidationError> {
    let bad = value
        .chars()
        .any(|c| c.is_control() && !(allow_whitespace && matches!(c, '\n' | '\r' | '\t')));
    if bad {
        return Err(ValidationError::new(
            field,
            "invalid_characters",
            format!("{field} must not contain control characters."),
        ));
    }
    Ok(())
}

/// Parses an absolute http(s) URL, as used for websites and post URLs.
pub(crate) fn parse_http_url(
    field: &'static str,
    raw: &str,
    max_len: usize,
) -> Result<String, ValidationError> {
    let raw = raw.trim();
    check_no_control(field, raw, false)?;
    if raw.len() > max_len {
        return Err(ValidationError::new(
            field,
            "too_long",
            format!("{field} must be at most {max_len} characters."),
        ));
    }
    let bad = || {
        ValidationError::new(
            field,
            "invalid_url",
            format!("{field} must be an http:// or https:// address."),
        )
    };
    let parsed = url::Url::parse(raw).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad());
    }
    Ok(parsed.to_string())
}
