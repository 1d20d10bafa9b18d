//! Webmentions (W3C Recommendation), received by `POST /webmention` and verified here, by
//! the federation worker: the source is fetched through the guarded client (at most 1 MB,
//! 5 s, 3 redirects, no private address unless allowed), must link to the target, and is
//! read as microformats2 to tell a reply from a like, a repost, a bookmark or a mention.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::mf2::{self, MentionKind};
use super::Poller;
use crate::cache::ThreadKey;
use crate::db::federation::WebmentionRow;
use crate::db::FederationStore;
use crate::domain::{SiteId, Slug};
use crate::outbound::{OutboundError, Overflow};
use crate::service::federation::{self as service, VerifiedMention};
use crate::{on_conn, with_conn};

/// The most of a source page that is read.
pub const MAX_SOURCE_BYTES: usize = 1 << 20;
/// How long fetching a source may take, redirects included.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(5);
/// A source that cannot be fetched is tried this many times, then refused.
const MAX_ATTEMPTS: i64 = 5;
/// The first retry waits this long, each next one twice as long.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Webmentions taken per source domain per minute (`POST /webmention` answers 429 beyond).
pub const PER_DOMAIN_PER_MINUTE: u32 = 20;

/// A fixed one-minute window per source domain, in memory (per instance).
#[derive(Default)]
pub struct DomainLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl DomainLimiter {
    /// Counts one webmention from `domain`; `Err(seconds)` says when it may send again.
    pub fn check(&self, domain: &str) -> Result<(), u64> {
        const WINDOW: Duration = Duration::from_secs(60);
        let now = Instant::now();
        let mut w = self.windows.lock();
        if w.len() > 10_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = w.entry(domain.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= PER_DOMAIN_PER_MINUTE {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The thread a target address belongs to: the site's, named by the address's path (the
/// embed's default slug).
pub fn target_thread(site: &str, target: &url::Url) -> Option<(SiteId, Slug)> {
    Some((SiteId::parse(site).ok()?, Slug::parse(target.path()).ok()?))
}

enum Verdict {
    Accept(VerifiedMention),
    Reject(String),
    Retry(String),
}

fn verify(p: &Poller, row: &WebmentionRow, target: &url::Url) -> Verdict {
    let answer = match p.outbound.get_within(
        &row.source,
        "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
        MAX_SOURCE_BYTES,
        Overflow::Refuse,
        SOURCE_TIMEOUT,
    ) {
        Ok(a) => a,
        Err(
            e @ (OutboundError::BadUrl(_)
            | OutboundError::PrivateAddress(_)
            | OutboundError::TooLarge(_)
            | OutboundError::TooManyRedirects(_)
            | OutboundError::BadRedirect),
        ) => return Verdict::Reject(e.to_string()),
        Err(e) => return Verdict::Retry(e.to_string()),
    };
    match answer.status {
        200..=299 => {}
        410 => return Verdict::Reject("the source is gone (410)".into()),
        400..=499 => {
            return Verdict::Reject(format!("the source answered {}", answer.status));
        }
        s => return Verdict::Retry(format!("the source answered {s}")),
    }
    let html = String::from_utf8_lossy(&answer.body);
    let Some(m) = mf2::read(&html, &answer.url, target) else {
        return Verdict::Reject("the source does not link to the target".into());
    };
    let host = url::Url::parse(&row.source)
        .ok()
        .and_then(|u| u.host_str().map(str::to_lowercase))
        .unwrap_or_default();
    let (body, html) = match (&m.kind, &m.content_html) {
        (MentionKind::Reply, Some(content)) => super::richtext::from_html(content, &row.source),
        (MentionKind::Reply, None) => super::richtext::from_html("", &row.source),
        _ => (String::new(), String::new()),
    };
    Verdict::Accept(VerifiedMention {
        kind: m.kind.as_str(),
        source: row.source.clone(),
        host,
        author_name: m.author_name,
        author_url: m
            .author_url
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        body,
        html,
        published: m.published.as_deref().and_then(super::mastodon::parse_time),
    })
}

/// Verifies one due webmention, if there is one; true if there was.
pub fn round(p: &Poller, runtime: &tokio::runtime::Runtime, me: &str) -> anyhow::Result<bool> {
    let now = crate::view::now_micros();
    let lease = i64::try_from((SOURCE_TIMEOUT * 4).as_micros()).unwrap_or(i64::MAX);
    let row = {
        let mut conn = p.pool.get()?;
        with_conn!(conn, |c| c.claim_webmention(me, now, now + lease))?
    };
    let Some(row) = row else {
        return Ok(false);
    };
    let target = url::Url::parse(&row.target).ok();
    let place = target
        .as_ref()
        .and_then(|t| target_thread(&row.site, t))
        .and_then(|(site, slug)| p.settings.site(&site).cloned().map(|s| (s, slug)));
    let (Some(target), Some((site, slug))) = (target, place) else {
        let me = me.to_owned();
        let mut conn = p.pool.get()?;
        with_conn!(conn, |c| service::reject_webmention(
            c,
            &me,
            &row,
            "the target's site is no longer configured",
            now
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(true);
    };
    let verdict = verify(p, &row, &target);
    let key = ThreadKey {
        site: site.id.as_str().to_owned(),
        slug: slug.as_str().to_owned(),
    };
    let now = crate::view::now_micros();
    match verdict {
        Verdict::Retry(reason) if row.attempts + 1 < MAX_ATTEMPTS => {
            let attempts = row.attempts + 1;
            let wait = RETRY_AFTER.saturating_mul(1 << attempts.clamp(0, 10));
            let next = now + i64::try_from(wait.as_micros()).unwrap_or(i64::MAX / 2);
            tracing::info!(source = %row.source, attempts, error = %reason, "webmention: source not read; trying again later");
            let mut conn = p.pool.get()?;
            with_conn!(conn, |c| c
                .retry_webmention(row.id, me, attempts, next, &reason))?;
        }
        Verdict::Retry(reason) | Verdict::Reject(reason) => {
            tracing::info!(source = %row.source, target = %row.target, error = %reason, "webmention: refused");
            let me = me.to_owned();
            runtime
                .block_on(p.pool.write(key, move |conn| {
                    on_conn!(conn, |c| service::reject_webmention(
                        c, &me, &row, &reason, now
                    ))
                }))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Verdict::Accept(m) => {
            tracing::info!(source = %row.source, target = %row.target, kind = m.kind, "webmention: accepted");
            let (me, pkey) = (me.to_owned(), p.key.clone());
            runtime
                .block_on(p.pool.write(key, move |conn| {
                    on_conn!(conn, |c| service::accept_webmention(
                        c, &site, &pkey, &me, &row, &slug, &m, now
                    ))
                }))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    Ok(true)
}
