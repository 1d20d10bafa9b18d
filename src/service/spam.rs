//! Spam checks with no third party: a honeypot field, a signed form token with a minimum
//! age, a cap on links, a site's blocked words and patterns, and duplicate text.
//!
//! A comment a check catches is stored with status `spam` (moderators see it, with the
//! reason in the audit log; readers never do, counts leave it out) and its poster gets
//! the same answer as for a held comment, so a bot learns nothing from it. Each check can
//! be turned off per site (`config::SpamSettings`). Moderators' own comments skip them.
//!
//! All of them run in the handler, before the write, and none reads the database: the
//! duplicate check remembers recent texts in memory ([`RecentTexts`]), so the checks cost
//! a few microseconds and nothing in the writer, which every comment waits for.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use parking_lot::Mutex;

use crate::config::SpamSettings;
use crate::domain::names;
use crate::security::ServerKey;

/// How long a form token works: a tab left open over a weekend still posts.
pub const FORM_TOKEN_VALID_SECS: i64 = 7 * 24 * 3600;
const FORM_TOKEN_DOMAIN: &str = "form-token";
/// How many recent texts an instance remembers for the duplicate check (at most two keys
/// of 16 bytes each in a queue and a map: about 70 bytes, 7 MB in all), and for how long
/// at most (the longest `duplicates` window allowed).
const RECENT_TEXTS: usize = 100_000;
/// The memory is split by key, each part under its own lock.
const SHARDS: usize = 16;
const RECENT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

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

/// The texts this instance stored lately, for the duplicate check: the same text again
/// on the same thread, or from the same client anywhere, within a site's window. Kept as
/// keyed hashes in memory (never written anywhere), so the check costs two hash lookups.
/// Each instance remembers its own, as rate limits do.
pub struct RecentTexts {
    hasher: RandomState,
    shards: Box<[Mutex<Recent>]>,
}

/// One part of the memory: when each key (a text on a thread, or a text from a client)
/// was last posted, and the keys in the order they were posted, to forget the oldest.
#[derive(Default)]
struct Recent {
    last: HashMap<u64, i64>,
    order: VecDeque<(u64, i64)>,
}

impl Default for RecentTexts {
    fn default() -> Self {
        RecentTexts {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

/// Where a text was posted, as the duplicate check compares it.
pub struct Posted<'a> {
    pub site: &'a str,
    pub slug: &'a str,
    /// The client's address, if known.
    pub client: Option<&'a str>,
    pub body: &'a str,
}

/// A text and where it was posted, hashed once: checked before the write, remembered
/// after it.
#[derive(Clone, Copy)]
pub struct TextKey {
    on_thread: u64,
    by_client: Option<u64>,
}

impl RecentTexts {
    pub fn key(&self, p: &Posted<'_>) -> TextKey {
        TextKey {
            on_thread: self.hasher.hash_one(("thread", p.site, p.slug, p.body)),
            by_client: p
                .client
                .map(|c| self.hasher.hash_one(("client", p.site, c, p.body))),
        }
    }

    fn shard(&self, key: u64) -> &Mutex<Recent> {
        &self.shards[(key % SHARDS as u64) as usize]
    }

    fn keys(key: &TextKey) -> impl Iterator<Item = u64> {
        std::iter::once(key.on_thread).chain(key.by_client)
    }

    /// Spam if the text was posted within `window` on the same thread or by the same client.
    pub fn check(&self, window: Duration, here: &TextKey, now_micros: i64) -> Verdict {
        if window.is_zero() {
            return Verdict::Clean;
        }
        let since =
            now_micros.saturating_sub(i64::try_from(window.as_micros()).unwrap_or(i64::MAX));
        let earlier = Self::keys(here)
            .filter_map(|k| self.shard(k).lock().last.get(&k).copied())
            .filter(|at| *at >= since)
            .max();
        match earlier {
            Some(at) => Verdict::Spam(format!(
                "the same text was posted {} s earlier",
                (now_micros - at).max(0) / 1_000_000
            )),
            None => Verdict::Clean,
        }
    }

    /// Remembers a stored comment's text; forgets the oldest beyond the cap or the longest
    /// window.
    pub fn record(&self, key: TextKey, now_micros: i64) {
        let oldest = now_micros.saturating_sub(RECENT_FOR.as_micros() as i64);
        for k in Self::keys(&key) {
            let mut seen = self.shard(k).lock();
            let at = seen.last.entry(k).or_insert(now_micros);
            *at = (*at).max(now_micros);
            seen.order.push_back((k, now_micros));
            while let Some(&(k, at)) = seen.order.front() {
                if seen.order.len() <= RECENT_TEXTS / SHARDS && at >= oldest {
                    break;
                }
                seen.order.pop_front();
                // Posted again since: that later entry forgets it in its turn.
                if seen.last.get(&k) == Some(&at) {
                    seen.last.remove(&k);
                }
            }
        }
    }
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
            blocked: BlockedWords::new(&list).unwrap().map(std::sync::Arc::new),
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
    fn the_same_text_again_on_the_thread_or_from_the_client_is_spam() {
        let recent = RecentTexts::default();
        let p = |slug, client, body| Posted {
            site: "blog",
            slug,
            client,
            body,
        };
        let min = Duration::from_secs(60);
        let s = 1_000_000;
        recent.record(recent.key(&p("/a/", Some("1.2.3.4"), "Nice post")), 0);
        // Same thread, another client; another thread, same client: both caught.
        assert!(
            matches!(recent.check(min, &recent.key(&p("/a/", Some("5.6.7.8"), "Nice post")), 10 * s), Verdict::Spam(r) if r.contains("10 s"))
        );
        assert!(matches!(
            recent.check(
                min,
                &recent.key(&p("/b/", Some("1.2.3.4"), "Nice post")),
                10 * s
            ),
            Verdict::Spam(_)
        ));
        // Another thread and another client, another text, another site, or too late: fine.
        assert_eq!(
            recent.check(
                min,
                &recent.key(&p("/b/", Some("5.6.7.8"), "Nice post")),
                10 * s
            ),
            Verdict::Clean
        );
        assert_eq!(
            recent.check(min, &recent.key(&p("/a/", None, "Other words")), 10 * s),
            Verdict::Clean
        );
        let other = Posted {
            site: "other",
            slug: "/a/",
            client: None,
            body: "Nice post",
        };
        assert_eq!(
            recent.check(min, &recent.key(&other), 10 * s),
            Verdict::Clean
        );
        assert_eq!(
            recent.check(min, &recent.key(&p("/a/", None, "Nice post")), 61 * s),
            Verdict::Clean
        );
        assert_eq!(
            recent.check(Duration::ZERO, &recent.key(&p("/a/", None, "Nice post")), s),
            Verdict::Clean
        );
    }

    #[test]
    fn recent_texts_are_forgotten_beyond_the_cap() {
        let recent = RecentTexts::default();
        for i in 0..(RECENT_TEXTS + 10) {
            let body = format!("text {i}");
            let key = recent.key(&Posted {
                site: "s",
                slug: "/",
                client: None,
                body: &body,
            });
            recent.record(key, i as i64);
        }
        let (order, last): (usize, usize) = recent
            .shards
            .iter()
            .map(|s| {
                let s = s.lock();
                (s.order.len(), s.last.len())
            })
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert!(
            order <= RECENT_TEXTS && order > RECENT_TEXTS / 100 * 98,
            "{order}"
        );
        assert_eq!(last, order);
    }

    #[test]
    fn a_text_posted_everywhere_is_checked_in_constant_time() {
        // Once a linear scan of every thread the text was posted on, under one lock.
        let recent = RecentTexts::default();
        let key = |slug: &str| {
            recent.key(&Posted {
                site: "s",
                slug,
                client: None,
                body: "+1",
            })
        };
        for i in 0..50_000 {
            recent.record(key(&format!("/{i}/")), i);
        }
        let started = std::time::Instant::now();
        for i in 0..50_000 {
            let k = key(&format!("/new/{i}/"));
            assert_eq!(
                recent.check(Duration::from_secs(60), &k, 50_000),
                Verdict::Clean
            );
        }
        // 50,000 checks against 50,000 copies: a scan would take minutes.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let again = key("/7/");
        assert!(matches!(
            recent.check(Duration::from_secs(60), &again, 50_000),
            Verdict::Spam(_)
        ));
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
