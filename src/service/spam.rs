//! Spam checks with no third party: a honeypot field, a signed form token with a minimum
//! age, a cap on links, a site's blocked words and patterns, and duplicate text.
//!
//! A comment a check catches is stored with status `spam` (moderators see it, with the
//! reason in the audit log; readers never do, counts leave it out) and its poster gets
//! the same answer as for a held comment, so a bot learns nothing from it. Each check can
//! be turned off per site (`config::SpamSettings`). Moderators' own comments skip them.
//!
//! The checks that need no database run in the handler, before the write; only the
//! duplicate check reads, inside the write (see `comments::create_comment`).

use crate::config::SpamSettings;
use crate::db::Store;
use crate::domain::names;
use crate::error::ApiError;
use crate::security::ServerKey;

/// How long a form token works: a tab left open over a weekend still posts.
pub const FORM_TOKEN_VALID_SECS: i64 = 7 * 24 * 3600;
const FORM_TOKEN_DOMAIN: &str = "form-token";
/// How many of a thread's (or client's) latest comments the duplicate check compares.
const DUPLICATE_LOOKBACK: i64 = 50;

/// Who the audit log names for what the checks caught.
pub const FILTER: &str = "spam filter";

/// The response header a thread answer carries the form token in.
pub const FORM_TOKEN_HEADER: &str = "afterword-form";

/// What a site's thread hands out: `issued.signature`, bound to the site and slug. It is
/// made per answer (cached pages are shared; the header is not), so its age is the time
/// since this reader loaded the thread.
pub fn form_token(key: &ServerKey, site: &str, slug: &str, now_secs: i64) -> String {
    let sig = key.sign(FORM_TOKEN_DOMAIN, signed(site, slug, now_secs).as_bytes());
    format!("{now_secs}.{sig}")
}

fn signed(site: &str, slug: &str, issued: i64) -> String {
    format!("{site}\n{slug}\n{issued}")
}

/// What the checks found: why a comment is spam, or that it is held for a moderator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// Stored as spam; the reason goes to the audit log.
    Spam(String),
    /// A token past its time: most likely a reader whose tab stayed open for days, so held
    /// for a moderator rather than filed as spam.
    Hold(String),
}

/// What a new comment brings that the checks look at.
pub struct Submission<'a> {
    pub site: &'a str,
    pub slug: &'a str,
    pub body: &'a str,
    pub author: Option<&'a str>,
    pub email: Option<&'a str>,
    pub website: Option<&'a str>,
    /// The embed's hidden field: people leave it empty.
    pub honeypot: Option<&'a str>,
    pub form_token: Option<&'a str>,
}

/// The checks that need no database, in the order of how sure they are.
pub fn check(
    settings: &SpamSettings,
    key: &ServerKey,
    s: &Submission<'_>,
    now_secs: i64,
) -> Verdict {
    if settings.honeypot && s.honeypot.is_some_and(|h| !h.trim().is_empty()) {
        return Verdict::Spam("the hidden form field was filled in".into());
    }
    if settings.form_token {
        match token_age(key, s, now_secs) {
            None => return Verdict::Spam("no valid form token".into()),
            Some(age) if age < i64::from(settings.min_seconds) => {
                return Verdict::Spam(format!(
                    "posted {age} s after loading the thread (minimum {} s)",
                    settings.min_seconds
                ))
            }
            Some(age) if age > FORM_TOKEN_VALID_SECS => {
                return Verdict::Hold(format!("form token {} days old", age / (24 * 3600)))
            }
            Some(_) => {}
        }
    }
    if settings.max_links > 0 {
        let links = count_links(s.body);
        if links > settings.max_links as usize {
            return Verdict::Spam(format!(
                "{links} links (the site allows {})",
                settings.max_links
            ));
        }
    }
    if let Some(blocked) = &settings.blocked {
        // Compared folded, so "ＣＡＳＩＮＯ" and "cas\u{200B}ino" are the word "casino".
        let mut text = String::with_capacity(s.body.len() + 128);
        for part in [Some(s.body), s.author, s.email, s.website]
            .into_iter()
            .flatten()
        {
            text.push_str(part);
            text.push('\n');
        }
        let folded = names::fold(&text);
        if let Some(entry) = blocked.find(&folded) {
            return Verdict::Spam(format!("blocked: `{entry}`"));
        }
    }
    Verdict::Clean
}

/// The age in seconds of a well-signed token for this site and slug; `None` for a
/// missing, malformed, foreign or forged one. A token from the future (clocks of several
/// instances drifting apart) counts as just issued.
fn token_age(key: &ServerKey, s: &Submission<'_>, now_secs: i64) -> Option<i64> {
    let (issued, sig) = s.form_token?.split_once('.')?;
    let issued: i64 = issued.parse().ok()?;
    if !key.verify_signature(
        FORM_TOKEN_DOMAIN,
        signed(s.site, s.slug, issued).as_bytes(),
        sig,
    ) {
        return None;
    }
    Some((now_secs - issued).max(0))
}

/// Links in a comment's Markdown: every `http://`, `https://`, `ftp://` or `www.`
/// (autolinks, inline links and bare addresses alike), and every reference-style link.
pub fn count_links(body: &str) -> usize {
    let lower = body.to_ascii_lowercase();
    ["http://", "https://", "ftp://", "www."]
        .iter()
        .map(|p| lower.matches(p).count())
        .sum::<usize>()
        // `https://www.x` is one link, not two.
        - lower.matches("://www.").count()
}

/// The duplicate check: the same text from the same client, or on the same thread,
/// within the site's window. Runs inside the write, so two copies posted at once are
/// seen one after the other.
pub fn duplicate<C: Store>(
    c: &mut C,
    settings: &SpamSettings,
    thread_id: Option<i64>,
    ip_hash: Option<&str>,
    body: &str,
    now_micros: i64,
) -> Result<Verdict, ApiError> {
    if settings.duplicates.is_zero() {
        return Ok(Verdict::Clean);
    }
    let window = i64::try_from(settings.duplicates.as_micros()).unwrap_or(i64::MAX);
    let since = now_micros.saturating_sub(window);
    if let Some(at) = c.recent_same_body(thread_id, ip_hash, body, since, DUPLICATE_LOOKBACK)? {
        let ago = (now_micros - at).max(0) / 1_000_000;
        return Ok(Verdict::Spam(format!(
            "the same text was posted {ago} s earlier"
        )));
    }
    Ok(Verdict::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BlockedWords;

    fn key() -> ServerKey {
        ServerKey::from_hex(&"11".repeat(32)).unwrap()
    }

    fn sub<'a>(body: &'a str, token: Option<&'a str>) -> Submission<'a> {
        Submission {
            site: "blog",
            slug: "/post/",
            body,
            author: None,
            email: None,
            website: None,
            honeypot: None,
            form_token: token,
        }
    }

    #[test]
    fn a_token_is_good_for_its_thread_only_and_only_after_the_minimum() {
        let (k, s) = (key(), SpamSettings::default());
        let t = form_token(&k, "blog", "/post/", 1000);
        assert_eq!(check(&s, &k, &sub("hi", Some(&t)), 1010), Verdict::Clean);
        assert!(
            matches!(check(&s, &k, &sub("hi", Some(&t)), 1001), Verdict::Spam(r) if r.contains("1 s"))
        );
        let other = form_token(&k, "blog", "/other/", 1000);
        assert!(matches!(
            check(&s, &k, &sub("hi", Some(&other)), 1010),
            Verdict::Spam(_)
        ));
        let forged = t.replacen("1000", "900", 1);
        assert!(matches!(
            check(&s, &k, &sub("hi", Some(&forged)), 1010),
            Verdict::Spam(_)
        ));
        assert!(matches!(
            check(&s, &k, &sub("hi", None), 1010),
            Verdict::Spam(_)
        ));
        assert!(matches!(
            check(&s, &k, &sub("hi", Some("x.y.z")), 1010),
            Verdict::Spam(_)
        ));
        let week = FORM_TOKEN_VALID_SECS + 1000 + 1;
        assert!(matches!(
            check(&s, &k, &sub("hi", Some(&t)), week),
            Verdict::Hold(_)
        ));
        let off = SpamSettings {
            form_token: false,
            ..SpamSettings::default()
        };
        assert_eq!(check(&off, &k, &sub("hi", None), 1010), Verdict::Clean);
    }

    #[test]
    fn links_are_counted_once_each() {
        assert_eq!(
            count_links("see https://www.a.example and www.b.example"),
            2
        );
        assert_eq!(count_links("[x](HTTP://a) <https://b> ftp://c"), 3);
        assert_eq!(count_links("no links here, just w.w.w"), 0);
        let s = SpamSettings {
            form_token: false,
            max_links: 2,
            ..SpamSettings::default()
        };
        let many = "http://a http://b http://c";
        assert!(
            matches!(check(&s, &key(), &sub(many, None), 0), Verdict::Spam(r) if r.contains("3 links"))
        );
        assert_eq!(
            check(&s, &key(), &sub("http://a http://b", None), 0),
            Verdict::Clean
        );
    }

    #[test]
    fn blocked_words_match_whole_words_folded_and_patterns() {
        let list: Vec<String> = ["Casino", "/v[i1]agra/", "cheap pills", "$$$"]
            .map(String::from)
            .to_vec();
        let s = SpamSettings {
            form_token: false,
            blocked: BlockedWords::new(&list).unwrap(),
            ..SpamSettings::default()
        };
        let spam = |body: &str| check(&s, &key(), &sub(body, None), 0);
        assert!(
            matches!(spam("Best ＣＡＳＩＮＯ online"), Verdict::Spam(r) if r.contains("Casino"))
        );
        assert!(matches!(spam("cas\u{200B}ino"), Verdict::Spam(_)));
        assert!(matches!(spam("buy V1AGRA"), Verdict::Spam(r) if r.contains("agra")));
        assert!(matches!(spam("CHEAP  pills"), Verdict::Spam(_)));
        assert!(matches!(spam("win $$$ now"), Verdict::Spam(_)));
        assert_eq!(spam("occasion and casinos"), Verdict::Clean);
        let mut by_name = sub("hello", None);
        by_name.website = Some("https://casino.example");
        assert!(matches!(check(&s, &key(), &by_name, 0), Verdict::Spam(_)));
    }

    #[test]
    fn the_honeypot_catches_anything_but_blank() {
        let s = SpamSettings {
            form_token: false,
            ..SpamSettings::default()
        };
        let mut x = sub("hi", None);
        x.honeypot = Some(" ");
        assert_eq!(check(&s, &key(), &x, 0), Verdict::Clean);
        x.honeypot = Some("http://spam.example");
        assert!(matches!(check(&s, &key(), &x, 0), Verdict::Spam(_)));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// Any blocked list either compiles or is refused with the entry's index;
            /// checking any text against it never panics.
            #[test]
            fn any_blocked_list_and_text(
                list in prop::collection::vec("/?[a-z(|)*+?.\\[\\]{}^$\\\\ -]{0,12}/?", 0..5),
                text in any::<String>(),
            ) {
                match BlockedWords::new(&list) {
                    Ok(Some(b)) => { let _ = b.find(&text); }
                    Ok(None) => prop_assert!(list.is_empty()),
                    Err((j, m)) => prop_assert!(j < list.len().max(1) && !m.is_empty()),
                }
                let _ = count_links(&text);
                let s = SpamSettings::default();
                let _ = check(&s, &key(), &sub(&text, Some(&text)), 0);
            }
        }
    }
}
