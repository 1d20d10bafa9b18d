use super::{check_no_control, ValidationError};

/// One of the site's allowed reactions.
///
/// ```
/// use afterword::domain::ReactionKind;
///
/// let allowed = vec!["👍".to_string(), "❤️".to_string()];
/// assert_eq!(ReactionKind::parse("👍", &allowed).unwrap().as_str(), "👍");
/// assert!(ReactionKind::parse("💩", &allowed).unwrap_err().message.contains("❤️"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReactionKind(String);

impl ReactionKind {
    pub fn parse(raw: &str, allowed: &[String]) -> Result<Self, ValidationError> {
        if allowed.iter().any(|a| a == raw) {
            return Ok(ReactionKind(raw.to_owned()));
        }
        Err(ValidationError::new(
            "kind",
            "unknown_reaction",
            format!(
                "kind must be one of this site's reactions: {}.",
                allowed.join(" ")
            ),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The opaque id a reader's browser keeps; only its keyed hash is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct VisitorId(String);

impl std::fmt::Debug for VisitorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitorId(<redacted>)")
    }
}

impl VisitorId {
    pub const MAX_BYTES: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        check_no_control("visitor", raw, false)?;
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > Self::MAX_BYTES {
            return Err(ValidationError::new(
                "visitor",
                "invalid_visitor",
                format!(
                    "visitor must be the reader's opaque id, 1 to {} bytes.",
                    Self::MAX_BYTES
                ),
            ));
        }
        Ok(VisitorId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_ids_have_bounds() {
        assert!(VisitorId::parse("").is_err());
        assert!(VisitorId::parse("   ").is_err());
        assert!(VisitorId::parse("a\u{0}b").is_err());
        assert!(VisitorId::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            VisitorId::parse(&"x".repeat(128)).unwrap().as_str().len(),
            128
        );
        assert_eq!(
            format!("{:?}", VisitorId::parse("secret").unwrap()),
            "VisitorId(<redacted>)"
        );
    }

    #[test]
    fn kinds_come_from_the_site_set() {
        let allowed = vec!["👍".to_string(), "ok".to_string()];
        assert!(ReactionKind::parse("ok", &allowed).is_ok());
        assert!(ReactionKind::parse("OK", &allowed).is_err());
        assert!(ReactionKind::parse("", &allowed).is_err());
        let e = ReactionKind::parse("x", &allowed).unwrap_err();
        assert_eq!((e.field, e.code), ("kind", "unknown_reaction"));
    }
}
