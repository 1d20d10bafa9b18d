//! A post elsewhere that announced a thread: a Mastodon-compatible status or a Bluesky post.

use super::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    Mastodon,
    Bluesky,
}

impl RemoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteKind::Mastodon => "mastodon",
            RemoteKind::Bluesky => "bluesky",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mastodon" => Some(RemoteKind::Mastodon),
            "bluesky" => Some(RemoteKind::Bluesky),
            _ => None,
        }
    }
}

/// A linked post, parsed from the address a moderator copied from their browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePost {
    pub kind: RemoteKind,
    /// The address as given (normalized by the URL parser).
    pub url: String,
    /// Mastodon: the instance's origin (its API lives there); Bluesky: the web app's
    /// origin (links to profiles and posts are made on it).
    pub api_base: String,
    /// Mastodon: the status id; Bluesky: the post's AT URI.
    pub remote_id: String,
}

fn bad(message: &str) -> ValidationError {
    ValidationError::new("fediverse_url", "invalid_fediverse_url", message)
}

const EXPECTED: &str = "fediverse_url must be the address of a Mastodon status \
     (https://instance.example/@name/123) or of a Bluesky post \
     (https://bsky.app/profile/name.example/post/3k...).";

fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_name(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@'))
}

/// A Bluesky actor: a handle (a domain name) or a DID.
fn is_actor(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("did:") {
        return (5..=2048).contains(&s.len())
            && rest.split_once(':').is_some_and(|(method, id)| {
                !method.is_empty()
                    && method.bytes().all(|b| b.is_ascii_lowercase())
                    && !id.is_empty()
                    && id.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-')
                    })
            });
    }
    (3..=253).contains(&s.len())
        && s.contains('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && !s.starts_with('.')
        && !s.ends_with('.')
}

fn is_rkey(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'~' | b'-'))
}

/// The AT URI of a Bluesky post.
pub fn post_uri(actor: &str, rkey: &str) -> String {
    format!("at://{actor}/app.bsky.feed.post/{rkey}")
}

impl RemotePost {
    /// `Ok(None)` for an empty value (unlink).
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() > 2048 {
            return Err(bad("fediverse_url is longer than 2048 characters."));
        }
        let url = url::Url::parse(raw).map_err(|_| bad(EXPECTED))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(bad(EXPECTED));
        }
        let origin = url.origin().ascii_serialization();
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        let (kind, remote_id) = match segments.as_slice() {
            ["profile", actor, "post", rkey] if is_actor(actor) && is_rkey(rkey) => {
                (RemoteKind::Bluesky, post_uri(actor, rkey))
            }
            // Mastodon (/@name/1, /@name@elsewhere/1), GoToSocial (/@name/statuses/X).
            [name, id] | [name, "statuses", id]
                if name.starts_with('@') && is_name(&name[1..]) && is_id(id) =>
            {
                (RemoteKind::Mastodon, (*id).to_owned())
            }
            ["users", name, "statuses", id] if is_name(name) && is_id(id) => {
                (RemoteKind::Mastodon, (*id).to_owned())
            }
            // Pleroma, Akkoma.
            ["notice", id] if is_id(id) => (RemoteKind::Mastodon, (*id).to_owned()),
            _ => return Err(bad(EXPECTED)),
        };
        Ok(Some(RemotePost {
            kind,
            url: url.to_string(),
            api_base: origin,
            remote_id,
        }))
    }
}

/// One of the blogger's own accounts elsewhere (`[[site]] fediverse_accounts`), whose
/// public posts that link to the site are linked to their threads by themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAccount {
    pub kind: RemoteKind,
    /// Mastodon: the instance's origin; Bluesky: the web app's origin.
    pub base: String,
    /// Mastodon: the account's name there (`me`); Bluesky: the handle or DID.
    pub name: String,
}

impl RemoteAccount {
    /// `https://instance.example/@me` or `https://bsky.app/profile/me.example`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "`{raw}` must be a Mastodon profile (https://instance.example/@name) or a \
                 Bluesky profile (https://bsky.app/profile/name.example)"
            )
        };
        let url = url::Url::parse(raw.trim()).map_err(|_| expected())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !url.username().is_empty()
        {
            return Err(expected());
        }
        let base = url.origin().ascii_serialization();
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        match segments.as_slice() {
            ["profile", actor] if is_actor(actor) => Ok(RemoteAccount {
                kind: RemoteKind::Bluesky,
                base,
                name: (*actor).to_owned(),
            }),
            [name] if name.starts_with('@') && is_name(&name[1..]) && !name[1..].contains('@') => {
                Ok(RemoteAccount {
                    kind: RemoteKind::Mastodon,
                    base,
                    name: name[1..].to_owned(),
                })
            }
            _ => Err(expected()),
        }
    }
}

/// A thread's link elsewhere, as moderators see it (from the admin API's threads).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LinkedPost {
    /// `mastodon` or `bluesky`.
    pub kind: String,
    /// As given.
    pub url: String,
    pub likes: i64,
    pub reposts: i64,
    /// RFC 3339; absent until the first poll.
    pub polled_at: Option<String>,
    pub next_poll_at: String,
    /// Polls that failed in a row (the next waits longer each time).
    pub failures: i64,
    /// Why the last poll failed.
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_accounts_are_mastodon_or_bluesky_profiles() {
        let m = RemoteAccount::parse("https://mastodon.social/@me").unwrap();
        assert_eq!(
            (m.kind, m.base.as_str(), m.name.as_str()),
            (RemoteKind::Mastodon, "https://mastodon.social", "me")
        );
        let b = RemoteAccount::parse("https://bsky.app/profile/me.example").unwrap();
        assert_eq!(
            (b.kind, b.base.as_str(), b.name.as_str()),
            (RemoteKind::Bluesky, "https://bsky.app", "me.example")
        );
        for bad in [
            "mastodon.social/@me",
            "https://mastodon.social/@me/1",
            "https://mastodon.social/@me@other.example",
            "https://bsky.app/profile/me",
            "ftp://x.example/@me",
        ] {
            assert!(RemoteAccount::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mastodon_and_bluesky_addresses_are_recognized() {
        let m = RemotePost::parse("https://mastodon.social/@ann/113456789012345678")
            .unwrap()
            .unwrap();
        assert_eq!(m.kind, RemoteKind::Mastodon);
        assert_eq!(m.api_base, "https://mastodon.social");
        assert_eq!(m.remote_id, "113456789012345678");
        for (raw, id) in [
            ("https://example.social/@ann@elsewhere.example/42", "42"),
            ("https://example.social/users/ann/statuses/42", "42"),
            ("https://gts.example/@ann/statuses/01HXYZ", "01HXYZ"),
            ("https://pleroma.example/notice/AbC123", "AbC123"),
            ("http://127.0.0.1:8080/@ann/7", "7"),
        ] {
            let p = RemotePost::parse(raw).unwrap().unwrap();
            assert_eq!((p.kind, p.remote_id.as_str()), (RemoteKind::Mastodon, id));
        }
        let b = RemotePost::parse("https://bsky.app/profile/ann.example.com/post/3kabc2xyz")
            .unwrap()
            .unwrap();
        assert_eq!(b.kind, RemoteKind::Bluesky);
        assert_eq!(b.api_base, "https://bsky.app");
        assert_eq!(
            b.remote_id,
            "at://ann.example.com/app.bsky.feed.post/3kabc2xyz"
        );
        let d = RemotePost::parse("https://bsky.app/profile/did:plc:abc123/post/3k")
            .unwrap()
            .unwrap();
        assert_eq!(d.remote_id, "at://did:plc:abc123/app.bsky.feed.post/3k");
        assert_eq!(RemotePost::parse("  ").unwrap(), None);
    }

    #[test]
    fn anything_else_is_refused() {
        for raw in [
            "mastodon.social/@ann/1",
            "ftp://mastodon.social/@ann/1",
            "https://user:pw@mastodon.social/@ann/1",
            "https://mastodon.social/@ann",
            "https://mastodon.social/about",
            "https://mastodon.social/@ann/1/2",
            "https://mastodon.social/@a<b/1",
            "https://mastodon.social/@ann/1%00",
            "https://bsky.app/profile/ann/post/3k",
            "https://bsky.app/profile/ann.example.com/post/..",
            "https://bsky.app/profile/ann.example.com",
            "javascript:alert(1)",
        ] {
            let e = RemotePost::parse(raw).unwrap_err();
            assert_eq!(
                (e.field, e.code),
                ("fediverse_url", "invalid_fediverse_url"),
                "{raw}"
            );
        }
        assert!(RemotePost::parse(&format!("https://a.example/@a/{}", "1".repeat(3000))).is_err());
    }
}
