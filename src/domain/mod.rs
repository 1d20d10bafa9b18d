//! Value types parsed once at the edge. Inner code accepts only these.

mod action;
mod comment;
mod event;
pub mod names;
mod reaction;
pub mod remote;
mod thread;

pub use action::Action;
pub use comment::{AuthorName, CommentBody, CommentId, CommentStatus, Email, Website};
pub use event::EventKind;
pub use reaction::{ReactionKind, VisitorId};
pub use remote::{RemoteAccount, RemoteKind, RemotePost};
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

/// Arbitrary text into every parser: none panics, every error names a field and a code,
/// and what a parser accepts keeps the rules it promises.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Any text, and text near the edges: controls, invisibles, schemes, lengths.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ -~\u{0}-\u{1f}\u{7f}-\u{9f}\u{200b}\u{202e}\u{feff}]{0,40}",
            "(https?|javascript|data|ftp|HTTP)://[a-z0-9.:@/?#%\\[\\]-]{0,60}",
            "[a-zA-Z0-9._%+-]{0,20}@[a-zA-Z0-9.-]{0,20}",
            prop::collection::vec(any::<char>(), 90..700).prop_map(|v| v.into_iter().collect()),
        ]
    }

    fn named(e: &ValidationError) -> bool {
        !e.field.is_empty() && !e.code.is_empty() && !e.message.is_empty()
    }

    fn no_control(s: &str) -> bool {
        !s.chars().any(|c| c.is_control())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn text_fields(s in text()) {
            match AuthorName::parse(&s) {
                Ok(Some(a)) => {
                    prop_assert!(a.as_str().chars().count() <= AuthorName::MAX_CHARS);
                    prop_assert!(no_control(a.as_str()) && a.as_str() == a.as_str().trim());
                }
                Ok(None) => prop_assert!(s.trim().is_empty()),
                Err(e) => prop_assert!(named(&e)),
            }
            match CommentBody::parse(&s, 50) {
                Ok(b) => prop_assert!(!b.as_str().trim().is_empty() && b.as_str().chars().count() <= 50),
                Err(e) => prop_assert!(named(&e)),
            }
            match Title::parse(&s) {
                Ok(Some(t)) => prop_assert!(no_control(t.as_str())),
                Ok(None) => {}
                Err(e) => prop_assert!(named(&e)),
            }
            let _ = names::folds(&s);
        }

        #[test]
        fn addresses(s in text()) {
            match Email::parse(&s) {
                Ok(Some(e)) => prop_assert!(e.as_str().contains('@') && no_control(e.as_str())),
                Ok(None) => {}
                Err(e) => prop_assert!(named(&e)),
            }
            match Website::parse(&s) {
                Ok(Some(w)) => prop_assert!(
                    w.as_str().starts_with("http://") || w.as_str().starts_with("https://")
                ),
                Ok(None) => {}
                Err(e) => prop_assert!(named(&e)),
            }
            match PageUrl::parse(&s) {
                Ok(Some(u)) => prop_assert!(
                    u.as_str().starts_with("http://") || u.as_str().starts_with("https://")
                ),
                Ok(None) => {}
                Err(e) => prop_assert!(named(&e)),
            }
        }

        #[test]
        fn keys_and_query_values(s in text()) {
            match SiteId::parse(&s) {
                Ok(id) => prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')),
                Err(e) => prop_assert!(named(&e)),
            }
            match Slug::parse(&s) {
                Ok(slug) => {
                    prop_assert!(!slug.as_str().is_empty() && slug.as_str().len() <= Slug::MAX_BYTES);
                    prop_assert!(no_control(slug.as_str()));
                    match slug.on_site("slug", |u| u.starts_with("https://blog.example/")) {
                        Ok(on) => {
                            let lower = on.as_str().to_ascii_lowercase();
                            prop_assert!(!lower.starts_with("http://") && !lower.starts_with("https://"));
                        }
                        Err(e) => prop_assert!(named(&e)),
                    }
                }
                Err(e) => prop_assert!(named(&e)),
            }
            for parsed in [Sort::parse(&s).map(|_| ()), Limit::parse(&s).map(|_| ())] {
                if let Err(e) = parsed {
                    prop_assert!(named(&e));
                }
            }
            for sort in [Sort::Oldest, Sort::Newest, Sort::Top] {
                if let Err(e) = Cursor::parse(&s, sort) {
                    prop_assert!(named(&e));
                }
            }
            if let Err(e) = VisitorId::parse(&s) {
                prop_assert!(named(&e));
            }
            let allowed = ["👍".to_owned(), "heart".to_owned()];
            match ReactionKind::parse(&s, &allowed) {
                Ok(k) => prop_assert!(allowed.iter().any(|a| a == k.as_str())),
                Err(e) => prop_assert!(named(&e)),
            }
            let _ = s.parse::<CommentStatus>();
            let _ = CommentId::parse(&s);
        }
    }
}
