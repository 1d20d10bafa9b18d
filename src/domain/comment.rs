use std::fmt;
use std::str::FromStr;

use super::{check_no_control, parse_http_url, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommentId(pub i64);

impl CommentId {
    /// Parses an id from a path segment or JSON number; only positive ids exist.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse::<i64>().ok().and_then(Self::new)
    }

    pub fn new(n: i64) -> Option<Self> {
        (n > 0).then_some(CommentId(n))
    }
}

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommentStatus {
    Approved,
    Pending,
    Spam,
    Deleted,
}

impl CommentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentStatus::Approved => "approved",
            CommentStatus::Pending => "pending",
            CommentStatus::Spam => "spam",
            CommentStatus::Deleted => "deleted",
        }
    }
}

impl FromStr for CommentStatus {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "approved" => Ok(CommentStatus::Approved),
            "pending" => Ok(CommentStatus::Pending),
            "spam" => Ok(CommentStatus::Spam),
            "deleted" => Ok(CommentStatus::Deleted),
            _ => Err(ValidationError::new(
                "status",
                "invalid_status",
                "status must be one of approved, pending, spam, deleted.",
            )),
        }
    }
}

/// The Markdown source of a comment, stored as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl CommentBody {
    pub const DEFAULT_MAX_CHARS: usize = 10_000;

    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, ValidationError> {
        check_no_control("body", raw, true)?;
        if raw.trim().is_empty() {
            return Err(ValidationError::new(
                "body",
                "empty",
                "body must not be empty.",
            ));
        }
        let n = raw.chars().count();
        if n > max_chars {
            return Err(ValidationError::new(
                "body",
                "too_long",
                format!("body must be at most {max_chars} characters; it has {n}."),
            ));
        }
        Ok(CommentBody(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A commenter's display name: plain text, trimmed, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorName(String);

impl AuthorName {
    pub const MAX_CHARS: usize = 100;

    /// Blank names mean anonymous.
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let t = raw.trim();
        check_no_control("author", t, false)?;
        if t.is_empty() {
            return Ok(None);
        }
        if t.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "author",
                "too_long",
                "author must be at most 100 characters.",
            ));
        }
        Ok(Some(AuthorName(t.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A commenter's email: validated and stored for notifications, never returned.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        Self::parse_field("email", raw)
    }

    pub fn parse_field(field: &'static str, raw: &str) -> Result<Option<Self>, ValidationError> {
        let t = raw.trim();
        check_no_control(field, t, false)?;
        if t.is_empty() {
            return Ok(None);
        }
        let bad = || {
            ValidationError::new(
                field,
                "invalid_email",
                format!("{field} must be an email address like name@example.com."),
            )
        };
        if t.len() > 254
            || t.chars()
                .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')'))
        {
            return Err(bad());
        }
        let parsed = email_address::EmailAddress::from_str(t).map_err(|_| bad())?;
        // Display names ("Me <me@x>") and dotless domains are not addresses we can mail.
        if parsed.as_str() != t || !parsed.domain().contains('.') {
            return Err(bad());
        }
        Ok(Some(Email(t.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// A commenter's website: an absolute http(s) URL. `example.com` is read as `https://example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Website(String);

impl Website {
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let t = raw.trim();
        if t.is_empty() {
            return Ok(None);
        }
        let with_scheme;
        let candidate = if !t.contains(':') && !t.starts_with('/') {
            with_scheme = format!("https://{t}");
            &with_scheme
        } else {
            t
        };
        parse_http_url("website", candidate, 512).map(|u| Some(Website(u)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert!(CommentBody::parse("hello\n\n```\ncode\t\n```", 100).is_ok());
        assert_eq!(CommentBody::parse("   \n", 100).unwrap_err().code, "empty");
        assert_eq!(
            CommentBody::parse("a\u{0}b", 100).unwrap_err().code,
            "invalid_characters"
        );
        assert_eq!(
            CommentBody::parse("a\u{7}b", 100).unwrap_err().field,
            "body"
        );
        // Characters, not bytes.
        assert!(CommentBody::parse(&"é".repeat(100), 100).is_ok());
        assert_eq!(
            CommentBody::parse(&"é".repeat(101), 100).unwrap_err().code,
            "too_long"
        );
        // Stored as written, not trimmed.
        assert_eq!(
            CommentBody::parse("  hi  ", 100).unwrap().as_str(),
            "  hi  "
        );
    }

    #[test]
    fn author_names() {
        assert_eq!(
            AuthorName::parse("  Ada  ").unwrap().unwrap().as_str(),
            "Ada"
        );
        assert!(AuthorName::parse("").unwrap().is_none());
        assert!(AuthorName::parse(&"n".repeat(101)).is_err());
        assert!(
            AuthorName::parse("a\u{202e}b").is_ok(),
            "format chars are not control chars"
        );
        assert!(AuthorName::parse("a\u{85}b").is_err());
        // Markup stays text: escaping happens on output.
        assert_eq!(
            AuthorName::parse("<b>x</b>").unwrap().unwrap().as_str(),
            "<b>x</b>"
        );
    }

    #[test]
    fn emails() {
        assert!(Email::parse("ada@example.com").unwrap().is_some());
        assert!(Email::parse(" ").unwrap().is_none());
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "Ada <ada@example.com>",
            "a b@example.com",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().code,
                "invalid_email",
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
        assert_eq!(
            format!("{:?}", Email::parse("ada@example.com").unwrap().unwrap()),
            "Email(<redacted>)"
        );
    }

    #[test]
    fn websites() {
        assert_eq!(
            Website::parse("example.com").unwrap().unwrap().as_str(),
            "https://example.com/"
        );
        assert_eq!(
            Website::parse("http://example.com/me")
                .unwrap()
                .unwrap()
                .as_str(),
            "http://example.com/me"
        );
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "ftp://example.com",
            "http://",
            "//example.com",
            "https://user:pw@example.com/",
        ] {
            assert_eq!(Website::parse(bad).unwrap_err().field, "website", "{bad}");
        }
    }

    #[test]
    fn ids_and_statuses() {
        assert_eq!(CommentId::parse("12"), Some(CommentId(12)));
        assert_eq!(CommentId::parse("0"), None);
        assert_eq!(CommentId::parse("-3"), None);
        assert_eq!(CommentId::parse("x"), None);
        assert_eq!(CommentId::parse("99999999999999999999"), None);
        for s in ["approved", "pending", "spam", "deleted"] {
            assert_eq!(s.parse::<CommentStatus>().unwrap().as_str(), s);
        }
        assert!("Approved".parse::<CommentStatus>().is_err());
    }
}
