use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use unicode_normalization::UnicodeNormalization;

use super::{check_no_control, parse_http_url, ValidationError};

/// A site id: `[a-z0-9-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteId(String);

impl SiteId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(ValidationError::new(
                "site",
                "invalid_site",
                "site must be 1 to 64 characters of a-z, 0-9 and '-'.",
            ));
        }
        Ok(SiteId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A post's slug: 1 to 512 bytes of NFC-normalized UTF-8 without control characters.
///
/// ```
/// use afterword::domain::Slug;
///
/// // "é" typed as e + combining accent is stored as the single character é.
/// assert_eq!(Slug::parse("/cafe\u{301}/").unwrap().as_str(), "/caf\u{e9}/");
/// assert!(Slug::parse("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

impl Slug {
    pub const MAX_BYTES: usize = 512;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::parse_field("slug", raw)
    }

    pub fn parse_field(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        check_no_control(field, raw, false)?;
        // Most slugs are NFC already (every ASCII one is): checked, not rebuilt, on each
        // thread read.
        let nfc: String = match unicode_normalization::is_nfc_quick(raw.chars()) {
            unicode_normalization::IsNormalized::Yes => raw.to_owned(),
            _ => raw.nfc().collect(),
        };
        if nfc.is_empty() || nfc.len() > Self::MAX_BYTES {
            return Err(ValidationError::new(
                field,
                "invalid_slug",
                "slug must be 1 to 512 bytes of text.",
            ));
        }
        Ok(Slug(nfc))
    }

    /// A slug written as an absolute address (`https://blog.example/post/`) names the page
    /// at that address: it is kept as the address's path (`/post/`, percent-encoded as
    /// browsers give `location.pathname`), if the address is on the site (`on_site`), and
    /// refused otherwise, so one thread has one slug and no slug points off the site.
    pub fn on_site(
        self,
        field: &'static str,
        on_site: impl Fn(&str) -> bool,
    ) -> Result<Self, ValidationError> {
        let scheme = self
            .0
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("http" | "https")) {
            return Ok(self);
        }
        let not_on_site = || {
            ValidationError::new(
                field,
                "slug_not_on_site",
                "A slug that is a full address must be on one of the site's origins.",
            )
        };
        let url = url::Url::parse(&self.0).map_err(|_| not_on_site())?;
        if !on_site(url.as_str()) {
            return Err(not_on_site());
        }
        Self::parse_field(field, url.path())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A post title recorded with the first comment: plain text, at most 300 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let t = raw.trim();
        check_no_control("title", t, false)?;
        if t.is_empty() {
            return Ok(None);
        }
        if t.chars().count() > 300 {
            return Err(ValidationError::new(
                "title",
                "too_long",
                "title must be at most 300 characters.",
            ));
        }
        Ok(Some(Title(t.nfc().collect())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The public address of a post: an absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl(String);

impl PageUrl {
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        parse_http_url("url", raw, 2048).map(|u| Some(PageUrl(u)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sort {
    Oldest,
    Newest,
    Top,
}

impl Sort {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "oldest" => Ok(Sort::Oldest),
            "newest" => Ok(Sort::Newest),
            "top" => Ok(Sort::Top),
            _ => Err(ValidationError::new(
                "sort",
                "invalid_sort",
                "sort must be one of oldest, newest, top.",
            )),
        }
    }

    fn tag(self) -> char {
        match self {
            Sort::Oldest => 'o',
            Sort::Newest => 'n',
            Sort::Top => 't',
        }
    }
}

/// Top-level comments per page: 1 to 200, default 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit(u32);

impl Limit {
    pub const DEFAULT: Limit = Limit(50);
    pub const MAX: u32 = 200;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.parse::<u32>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Limit(n)),
            _ => Err(ValidationError::new(
                "limit",
                "invalid_limit",
                "limit must be a whole number from 1 to 200.",
            )),
        }
    }

    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// Where the next page starts: the sort key of the last top-level comment served.
/// Opaque to clients (base64url); bound to the sort it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub sort: Sort,
    pub score: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = match self.sort {
            Sort::Top => format!("t:{}:{}", self.score, self.id),
            s => format!("{}:{}", s.tag(), self.id),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn parse(raw: &str, sort: Sort) -> Result<Self, ValidationError> {
        let bad = || {
            ValidationError::new(
                "after",
                "invalid_cursor",
                "after must be the `next` value of an earlier page with the same sort.",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.split(':');
        let tag = parts.next().ok_or_else(bad)?;
        if tag.len() != 1 || !tag.starts_with(sort.tag()) {
            return Err(bad());
        }
        let (score, id) = match sort {
            Sort::Top => {
                let score = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                let id = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                (score, id)
            }
            _ => (
                0,
                parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?,
            ),
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Cursor { sort, score, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_ids() {
        assert!(SiteId::parse("blog").is_ok());
        assert!(SiteId::parse("my-blog-2").is_ok());
        assert!(SiteId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "Blog", "my_blog", "a b", "é", &"a".repeat(65)] {
            let e = SiteId::parse(bad).unwrap_err();
            assert_eq!(e.field, "site");
        }
    }

    #[test]
    fn slugs_are_nfc_and_bounded() {
        let decomposed = "/cafe\u{301}/";
        assert_eq!(Slug::parse(decomposed).unwrap().as_str(), "/caf\u{e9}/");
        assert!(Slug::parse(&"x".repeat(512)).is_ok());
        assert!(Slug::parse(&"x".repeat(513)).is_err());
        // 171 three-byte characters are 513 bytes.
        assert!(Slug::parse(&"€".repeat(171)).is_err());
        assert!(Slug::parse("").is_err());
        assert!(Slug::parse("/a\u{0}b/").is_err());
        assert!(Slug::parse("/a\nb/").is_err());
        assert_eq!(
            Slug::parse(" /spaces kept/ ").unwrap().as_str(),
            " /spaces kept/ "
        );
    }

    #[test]
    fn titles_and_urls() {
        assert_eq!(
            Title::parse("  Hello  ").unwrap().unwrap().as_str(),
            "Hello"
        );
        assert!(Title::parse("   ").unwrap().is_none());
        assert!(Title::parse(&"t".repeat(301)).is_err());
        assert!(PageUrl::parse("https://example.com/post/")
            .unwrap()
            .is_some());
        assert!(PageUrl::parse("javascript:alert(1)").is_err());
        assert!(PageUrl::parse("ftp://example.com/").is_err());
        assert!(PageUrl::parse("").unwrap().is_none());
    }

    #[test]
    fn limits() {
        assert_eq!(Limit::parse("1").unwrap().get(), 1);
        assert_eq!(Limit::parse("200").unwrap().get(), 200);
        for bad in ["0", "201", "-1", "abc", "", "1.5"] {
            assert_eq!(Limit::parse(bad).unwrap_err().field, "limit");
        }
    }

    #[test]
    fn sorts() {
        assert_eq!(Sort::parse("oldest").unwrap(), Sort::Oldest);
        assert_eq!(Sort::parse("newest").unwrap(), Sort::Newest);
        assert_eq!(Sort::parse("top").unwrap(), Sort::Top);
        assert!(Sort::parse("Oldest").is_err());
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        for c in [
            Cursor {
                sort: Sort::Oldest,
                score: 0,
                id: 42,
            },
            Cursor {
                sort: Sort::Newest,
                score: 0,
                id: 7,
            },
            Cursor {
                sort: Sort::Top,
                score: 12,
                id: 99,
            },
        ] {
            assert_eq!(Cursor::parse(&c.encode(), c.sort).unwrap(), c);
        }
        let oldest = Cursor {
            sort: Sort::Oldest,
            score: 0,
            id: 42,
        }
        .encode();
        assert!(Cursor::parse(&oldest, Sort::Newest).is_err());
        assert!(Cursor::parse("not base64!", Sort::Oldest).is_err());
        assert!(Cursor::parse(&URL_SAFE_NO_PAD.encode("o:1:2"), Sort::Oldest).is_err());
        assert!(Cursor::parse(&URL_SAFE_NO_PAD.encode("o:x"), Sort::Oldest).is_err());
    }

    #[test]
    fn an_absolute_slug_on_the_site_is_its_path() {
        let blog = |u: &str| u.starts_with("https://blog.example/");
        let slug = |raw: &str| Slug::parse(raw).unwrap().on_site("slug", blog);
        assert_eq!(
            slug("https://blog.example/post/?x=1#c").unwrap().as_str(),
            "/post/"
        );
        assert_eq!(
            slug("HTTPS://Blog.Example/über/").unwrap().as_str(),
            "/%C3%BCber/"
        );
        assert_eq!(slug("/post/").unwrap().as_str(), "/post/");
        assert_eq!(slug("post-42").unwrap().as_str(), "post-42");
        for off in [
            "https://evil.example/post/",
            "http://blog.example.evil/",
            "https://",
        ] {
            assert_eq!(slug(off).unwrap_err().code, "slug_not_on_site", "{off}");
        }
    }
}
