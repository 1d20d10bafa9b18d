//! `/metrics` in the Prometheus text format (`[metrics]`, off by default).
//!
//! The metrics are created once, at start, when enabled; until then every recording
//! function here does nothing, so the code that records (writer, cache, spam checks)
//! pays nothing when metrics are off.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    cache_bytes: IntGauge,
    writer_queue: IntGauge,
    writer_batch: Histogram,
    outbox_messages: IntGaugeVec,
    outbox_oldest: IntGaugeVec,
    spam_verdicts: IntCounterVec,
    database_errors: IntCounterVec,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new_custom(Some("afterword".into()), None)?;
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let m = Metrics {
            http_requests: counter(
                "http_requests_total",
                "HTTP requests answered, by route, method and status",
                &["route", "method", "status"],
            )?,
            http_duration: HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "Time to answer an HTTP request, by route and method",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
                &["route", "method"],
            )?,
            cache_hits: IntCounter::new("cache_hits_total", "Thread pages answered from memory")?,
            cache_misses: IntCounter::new(
                "cache_misses_total",
                "Thread pages built from the database",
            )?,
            cache_bytes: IntGauge::new("cache_bytes", "Memory held by cached thread pages")?,
            writer_queue: IntGauge::new(
                "writer_queue_depth",
                "Writes waiting for the database writer",
            )?,
            writer_batch: Histogram::with_opts(
                HistogramOpts::new(
                    "writer_batch_size",
                    "Writes committed together in one batch",
                )
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
            )?,
            outbox_messages: IntGaugeVec::new(
                Opts::new("outbox_messages", "Messages in the mail outbox, by status"),
                &["status"],
            )?,
            outbox_oldest: IntGaugeVec::new(
                Opts::new(
                    "outbox_oldest_age_seconds",
                    "Age of the oldest message in the mail outbox, by status",
                ),
                &["status"],
            )?,
            spam_verdicts: counter(
                "spam_verdicts_total",
                "New comments the spam checks filed as spam or held, by the rule that caught them",
                &["rule"],
            )?,
            database_errors: counter(
                "database_errors_total",
                "Failed requests: unavailable (answered 503 database_unavailable) or error (a database error answered 500)",
                &["kind"],
            )?,
            registry,
        };
        // Every known series from 0, so that rates and alerts see the first one.
        for kind in ["unavailable", "error"] {
            m.database_errors.with_label_values(&[kind]);
        }
        for rule in SPAM_RULES {
            m.spam_verdicts.with_label_values(&[rule]);
        }
        m.registry.register(Box::new(m.http_requests.clone()))?;
        m.registry.register(Box::new(m.http_duration.clone()))?;
        m.registry.register(Box::new(m.cache_hits.clone()))?;
        m.registry.register(Box::new(m.cache_misses.clone()))?;
        m.registry.register(Box::new(m.cache_bytes.clone()))?;
        m.registry.register(Box::new(m.writer_queue.clone()))?;
        m.registry.register(Box::new(m.writer_batch.clone()))?;
        m.registry.register(Box::new(m.outbox_messages.clone()))?;
        m.registry.register(Box::new(m.outbox_oldest.clone()))?;
        m.registry.register(Box::new(m.spam_verdicts.clone()))?;
        m.registry.register(Box::new(m.database_errors.clone()))?;
        Ok(m)
    }
}

/// Turns metrics on for this process (at start, with `[metrics] enabled`).
pub fn enable() -> anyhow::Result<()> {
    if METRICS.get().is_none() {
        let m = Metrics::new()?;
        let _ = METRICS.set(m);
    }
    Ok(())
}

pub fn enabled() -> bool {
    METRICS.get().is_some()
}

fn get() -> Option<&'static Metrics> {
    METRICS.get()
}

pub fn http_request(route: &str, method: &str, status: u16, seconds: f64) {
    if let Some(m) = get() {
        m.http_requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        m.http_duration
            .with_label_values(&[route, method])
            .observe(seconds);
    }
}

pub fn cache_lookup(hit: bool) {
    if let Some(m) = get() {
        if hit { &m.cache_hits } else { &m.cache_misses }.inc();
    }
}

pub fn cache_bytes(bytes: u64) {
    if let Some(m) = get() {
        m.cache_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}

/// Writes handed to the writer, and taken by it: the queue is the difference, read at
/// scrape time (a gauge moved from both sides could read -1 for a moment).
static WRITES_QUEUED: AtomicU64 = AtomicU64::new(0);
static WRITES_TAKEN: AtomicU64 = AtomicU64::new(0);

/// A write joined the writer's queue.
pub fn write_queued() {
    if get().is_some() {
        WRITES_QUEUED.fetch_add(1, Ordering::Relaxed);
    }
}

/// The writer took a batch of `size` writes from its queue.
pub fn writer_batch(size: usize) {
    if let Some(m) = get() {
        WRITES_TAKEN.fetch_add(size as u64, Ordering::Relaxed);
        m.writer_batch.observe(size as f64);
    }
}

/// A new comment's spam verdict (see `service::spam`); clean ones are not counted.
pub fn spam_verdict(verdict: &crate::service::spam::Verdict) {
    use crate::service::spam::Verdict;
    let Some(m) = get() else { return };
    let rule = match verdict {
        Verdict::Clean => return,
        Verdict::Hold(_) => "stale_form_token",
        Verdict::Spam(reason) => spam_rule(reason),
    };
    m.spam_verdicts.with_label_values(&[rule]).inc();
}

const SPAM_RULES: [&str; 7] = [
    "honeypot",
    "form_token",
    "max_links",
    "blocked",
    "duplicates",
    "stale_form_token",
    "other",
];

/// The rule behind a spam reason (the reasons are sentences for the audit log).
fn spam_rule(reason: &str) -> &'static str {
    if reason.starts_with("the hidden form field") {
        "honeypot"
    } else if reason.starts_with("no valid form token") || reason.starts_with("posted ") {
        "form_token"
    } else if reason.ends_with(')') && reason.contains(" links (") {
        "max_links"
    } else if reason.starts_with("blocked:") {
        "blocked"
    } else if reason.starts_with("the same text") {
        "duplicates"
    } else {
        "other"
    }
}

/// A database error that failed a request (`kind`: `unavailable` or `error`).
pub fn database_error(kind: &'static str) {
    if let Some(m) = get() {
        m.database_errors.with_label_values(&[kind]).inc();
    }
}

/// The outbox figures, read from the database just before a scrape.
pub fn set_outbox(by_status: &[(String, i64, Option<i64>)], now_micros: i64) {
    let Some(m) = get() else { return };
    // Statuses with no message left read 0 rather than their last value.
    for status in ["queued", "sending", "sent", "failed"] {
        m.outbox_messages.with_label_values(&[status]).set(0);
        m.outbox_oldest.with_label_values(&[status]).set(0);
    }
    for (status, n, oldest) in by_status {
        m.outbox_messages.with_label_values(&[status]).set(*n);
        if let Some(at) = oldest {
            m.outbox_oldest
                .with_label_values(&[status])
                .set((now_micros - at).max(0) / 1_000_000);
        }
    }
}

/// Everything, in the Prometheus text format; `None` while metrics are off.
pub fn render() -> Option<Vec<u8>> {
    let m = get()?;
    let taken = WRITES_TAKEN.load(Ordering::Relaxed);
    let queued = WRITES_QUEUED.load(Ordering::Relaxed);
    m.writer_queue
        .set(i64::try_from(queued.saturating_sub(taken)).unwrap_or(i64::MAX));
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SpamSettings;
    use crate::security::ServerKey;
    use crate::service::spam::{check, Submission, Verdict};

    /// Each check's reason maps to its rule: a reworded reason must not fall to "other".
    #[test]
    fn every_spam_reason_has_its_rule() {
        let key = ServerKey::generate();
        let settings = SpamSettings {
            blocked: crate::config::BlockedWords::new(&["casino".into()])
                .unwrap()
                .map(std::sync::Arc::new),
            ..SpamSettings::default()
        };
        let token = crate::service::spam::form_token(&key, "s", "/a/", 1000);
        let sub = |body: &str, honeypot: Option<&str>, token: Option<&str>, now: i64| {
            check(
                &settings,
                &key,
                &Submission {
                    site: "s",
                    slug: "/a/",
                    body,
                    author: None,
                    email: None,
                    website: None,
                    honeypot,
                    form_token: token,
                },
                now,
            )
        };
        let rule = |v: Verdict| match v {
            Verdict::Spam(r) => spam_rule(&r),
            other => panic!("{other:?}"),
        };
        assert_eq!(rule(sub("hi", Some("x"), Some(&token), 1010)), "honeypot");
        assert_eq!(rule(sub("hi", None, None, 1010)), "form_token");
        assert_eq!(rule(sub("hi", None, Some(&token), 1001)), "form_token");
        let links = "http://a.example http://b.example http://c.example http://d.example \
                     http://e.example http://f.example";
        assert_eq!(rule(sub(links, None, Some(&token), 1010)), "max_links");
        assert_eq!(rule(sub("a casino", None, Some(&token), 1010)), "blocked");
        let texts = crate::service::spam::RecentTexts::default();
        let posted = crate::service::spam::Posted {
            site: "s",
            slug: "/a/",
            client: None,
            body: "same",
        };
        let k = texts.key(&posted);
        texts.record(k, 0);
        assert_eq!(
            rule(texts.check(std::time::Duration::from_secs(60), &k, 1_000_000)),
            "duplicates"
        );
    }
}
