//! Settings: an optional TOML file, then environment overrides, validated before start.
//! An unknown key or a bad value stops start-up with a message naming it.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::domain::{Email, SiteId};

pub const DEFAULT_REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    listen: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    sqlite_synchronous: Option<String>,
    demo: Option<bool>,
    log_format: Option<String>,
    #[serde(default)]
    site: Vec<RawSite>,
    limits: Option<RawLimits>,
    smtp: Option<RawSmtp>,
    privacy: Option<RawPrivacy>,
    spam: Option<RawSpam>,
    metrics: Option<RawMetrics>,
    database: Option<RawDatabase>,
    outbound: Option<RawOutbound>,
    import: Option<RawImport>,
    federation: Option<RawFederation>,
    events: Option<RawEvents>,
}

/// `[events]`: the event stream's dispatcher (crate::events).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    interval: Option<String>,
}

/// `[events]`: how often the dispatcher looks for new events when it found none. Mail
/// and webhooks follow a change by at most about this long (see docs/email.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsSettings {
    pub interval: Duration,
}

impl Default for EventsSettings {
    fn default() -> Self {
        EventsSettings {
            interval: Duration::from_millis(200),
        }
    }
}

fn events_settings(raw: Option<RawEvents>) -> Result<EventsSettings, ConfigError> {
    let mut settings = EventsSettings::default();
    if let Some(text) = raw.and_then(|r| r.interval) {
        settings.interval = match humantime::parse_duration(text.trim()) {
            Ok(d) if d >= Duration::from_millis(10) && d <= Duration::from_secs(3600) => d,
            _ => {
                return Err(err(
                    "events.interval",
                    format!("`{text}` must be a duration like \"200ms\", from 10 ms to 1 h"),
                ))
            }
        };
    }
    Ok(settings)
}

/// `[federation]`: replies from the fediverse and Bluesky (crate::federation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFederation {
    poll_interval: Option<String>,
    bluesky_appview: Option<String>,
}

/// `[federation]`: how often linked posts elsewhere are polled for replies, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederationSettings {
    /// The wait between two polls of a young post; older posts are polled less often.
    pub poll_interval: Duration,
    /// The public Bluesky AppView `app.bsky.feed.getPostThread` is asked on.
    pub bluesky_appview: url::Url,
}

impl Default for FederationSettings {
    fn default() -> Self {
        FederationSettings {
            poll_interval: Duration::from_secs(300),
            bluesky_appview: url::Url::parse(DEFAULT_APPVIEW).unwrap_or_else(|_| unreachable!()),
        }
    }
}

/// Bluesky's public AppView: answers without an account.
pub const DEFAULT_APPVIEW: &str = "https://public.api.bsky.app";

fn federation_settings(raw: Option<RawFederation>) -> Result<FederationSettings, ConfigError> {
    let mut settings = FederationSettings::default();
    let Some(raw) = raw else {
        return Ok(settings);
    };
    if let Some(text) = raw.poll_interval {
        settings.poll_interval = match humantime::parse_duration(&text) {
            Ok(d) if d >= Duration::from_secs(1) && d <= Duration::from_secs(86_400) => d,
            _ => {
                return Err(err(
                    "federation.poll_interval",
                    format!("`{text}` must be a duration like \"5m\", from 1 s to 24 h"),
                ))
            }
        };
    }
    if let Some(text) = raw.bluesky_appview {
        settings.bluesky_appview = match url::Url::parse(&text) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.query().is_none() =>
            {
                u
            }
            _ => {
                return Err(err(
                    "federation.bluesky_appview",
                    format!("`{text}` must be an http(s) URL like \"{DEFAULT_APPVIEW}\""),
                ))
            }
        };
    }
    Ok(settings)
}

/// `[outbound]`: every request the server makes to elsewhere (crate::outbound).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound {
    allow_private_addresses: Option<bool>,
    connect_timeout: Option<String>,
    timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    enabled: Option<bool>,
    listen: Option<String>,
    token: Option<String>,
}

/// `[metrics]`: `/metrics` in the Prometheus text format.
#[derive(Clone, Debug, Default)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// Served on its own listener at this address instead of the main one.
    pub listen: Option<SocketAddr>,
    /// Asked as `Authorization: Bearer …` on the main listener; without it (and without
    /// `listen`) only loopback clients may read the metrics.
    pub token: Option<Secret>,
}

/// `[import]`: caps on what one import file may hold (see [`ImportCaps`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImport {
    max_input_bytes: Option<u64>,
    max_line_bytes: Option<u64>,
    max_record_bytes: Option<u64>,
    max_body_bytes: Option<u64>,
    max_thread_comments: Option<u64>,
}

/// `[database]`: how long Afterword waits on the database before it answers anyway.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    write_timeout: Option<String>,
    connect_timeout: Option<String>,
    network_timeout: Option<String>,
    statement_timeout: Option<String>,
    idle_in_transaction_timeout: Option<String>,
}

/// `[spam]` (defaults for every site) and a site's `spam = { … }` (overrides per key).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpam {
    honeypot: Option<bool>,
    form_token: Option<bool>,
    min_seconds: Option<u32>,
    max_links: Option<u32>,
    blocked: Option<Vec<String>>,
    duplicates: Option<String>,
}

impl RawSpam {
    /// `self` with `site`'s keys laid over it.
    fn overlay(&self, site: &RawSpam) -> RawSpam {
        RawSpam {
            honeypot: site.honeypot.or(self.honeypot),
            form_token: site.form_token.or(self.form_token),
            min_seconds: site.min_seconds.or(self.min_seconds),
            max_links: site.max_links.or(self.max_links),
            blocked: site.blocked.clone().or_else(|| self.blocked.clone()),
            duplicates: site.duplicates.clone().or_else(|| self.duplicates.clone()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivacy {
    client_data_days: Option<u32>,
    reader_erase: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    id: String,
    origins: Option<Vec<String>>,
    moderation: Option<String>,
    moderators: Option<Vec<String>>,
    reactions: Option<Vec<String>>,
    edit_window: Option<String>,
    max_comment_length: Option<usize>,
    reserved_names: Option<Vec<String>>,
    notify_moderators: Option<String>,
    language: Option<String>,
    spam: Option<RawSpam>,
    fediverse_accounts: Option<Vec<String>>,
    webhook: Option<Vec<RawWebhook>>,
}

/// `[[site.webhook]]`: one endpoint that is sent the site's events (see `crate::events`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: String,
    events: Option<Vec<String>>,
    secret: Option<String>,
    format: Option<String>,
    retry_after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    comments_per_ip_per_minute: Option<u32>,
    reactions_per_ip_per_minute: Option<u32>,
    edits_per_ip_per_minute: Option<u32>,
    trusted_proxies: Option<Vec<String>>,
    proxy_header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    url: Option<String>,
    from: Option<String>,
    timeout: Option<String>,
    retry_after: Option<String>,
    reply_delay: Option<String>,
    tls_ca_file: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(Secret),
}

/// A string that never shows in `Debug` or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            url::Url::parse(raw).map_err(|e| format!("not a valid PostgreSQL URL ({e})"))?;
            return Ok(DatabaseUrl::Postgres(Secret::new(raw)));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                "must start with sqlite:// (e.g. sqlite://afterword.db) or postgres://".to_owned()
            })?;
        if path.is_empty() || path.contains('?') {
            return Err(
                "needs a file path, e.g. sqlite://afterword.db or sqlite:///data/afterword.db"
                    .into(),
            );
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteSync {
    /// WAL + NORMAL: survives a killed process; the last commits may be lost on power loss.
    Normal,
    /// WAL + FULL: every commit is on disk before it is acknowledged.
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moderation {
    None,
    FirstTime,
    All,
}

impl Moderation {
    /// The name used in the config file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Moderation::None => "none",
            Moderation::FirstTime => "first-time",
            Moderation::All => "all",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origins {
    Any,
    List(HashSet<String>),
}

impl Origins {
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            Origins::Any => true,
            Origins::List(set) => set.contains(origin),
        }
    }

    /// Whether an http(s) address is on one of these origins (a post's `url`, say).
    pub fn allows_url(&self, address: &str) -> bool {
        let Ok(url) = url::Url::parse(address) else {
            return false;
        };
        matches!(url.scheme(), "http" | "https") && self.allows(&url.origin().ascii_serialization())
    }
}

#[derive(Clone, Debug)]
pub struct SiteSettings {
    pub id: SiteId,
    pub origins: Origins,
    pub moderation: Moderation,
    pub moderators: Vec<Email>,
    pub reactions: Vec<String>,
    pub edit_window: Duration,
    pub max_comment_length: usize,
    /// Author names only moderators may use, folded (see `domain::names`), besides the
    /// moderator accounts' own names.
    pub reserved_names: Vec<String>,
    /// Which new comments the moderators are mailed about.
    pub notify_moderators: NotifyModerators,
    /// The language of the moderators' mail and of the pages its links open: one of
    /// `email::i18n::LANGS`.
    pub language: &'static str,
    /// The spam checks new comments go through (see `service::spam`).
    pub spam: SpamSettings,
    /// Where the site's events are sent (`[[site.webhook]]`).
    pub webhooks: Vec<WebhookSettings>,
    /// The blogger's own accounts on Mastodon or Bluesky: their posts that link to a page
    /// of the site are linked to its thread by themselves (see crate::federation).
    pub fediverse_accounts: Vec<crate::domain::RemoteAccount>,
}

/// One webhook endpoint of a site.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub url: String,
    /// The events it is sent; all by default.
    pub events: Vec<crate::domain::EventKind>,
    /// The signing key (`whsec_` + base64 in the file, decoded); `None`: unsigned (chat
    /// formats only: their URL is the secret).
    pub secret: Option<WebhookSecret>,
    pub format: WebhookFormat,
    /// The first retry waits this long, each next one twice as long (at most 2 hours),
    /// for 48 hours.
    pub retry_after: Duration,
}

/// A webhook signing key, never printed.
#[derive(Clone)]
pub struct WebhookSecret(pub Vec<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The body a webhook endpoint expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFormat {
    /// Standard Webhooks: `{"type", "timestamp", "data"}`.
    Standard,
    Slack,
    Discord,
    Matrix,
    Ntfy,
}

impl WebhookFormat {
    pub const ALL: [WebhookFormat; 5] = [
        WebhookFormat::Standard,
        WebhookFormat::Slack,
        WebhookFormat::Discord,
        WebhookFormat::Matrix,
        WebhookFormat::Ntfy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Standard => "standard",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
            WebhookFormat::Matrix => "matrix",
            WebhookFormat::Ntfy => "ntfy",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookFormat> {
        WebhookFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Reads a Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes.
pub fn parse_webhook_secret(s: &str) -> Result<WebhookSecret, String> {
    use base64::Engine;
    let b64 = s
        .strip_prefix("whsec_")
        .ok_or("must start with `whsec_` (followed by base64)")?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "after `whsec_` must come base64")?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!(
            "must hold 24 to 64 bytes of key ({} here); make one with `echo whsec_$(head -c 32 /dev/urandom | base64)`",
            key.len()
        ));
    }
    Ok(WebhookSecret(key))
}

fn parse_webhooks(i: usize, raw: Vec<RawWebhook>) -> Result<Vec<WebhookSettings>, ConfigError> {
    let mut out: Vec<WebhookSettings> = Vec::new();
    if raw.len() > 20 {
        return Err(err(
            format!("site[{i}].webhook"),
            "at most 20 webhooks per site",
        ));
    }
    for (j, w) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("site[{i}].webhook[{j}].{k}");
        let url = url::Url::parse(&w.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .filter(|u| u.username().is_empty() && u.password().is_none())
            .ok_or_else(|| {
                err(
                    key("url"),
                    format!(
                        "`{}` must be an http or https URL without credentials",
                        w.url
                    ),
                )
            })?;
        if out.iter().any(|o| o.url == url.as_str()) {
            return Err(err(key("url"), format!("`{url}` is listed twice")));
        }
        let format = match w.format.as_deref() {
            None => WebhookFormat::Standard,
            Some(f) => WebhookFormat::parse(f).ok_or_else(|| {
                err(
                    key("format"),
                    format!("`{f}` must be one of standard, slack, discord, matrix, ntfy"),
                )
            })?,
        };
        if format == WebhookFormat::Ntfy && url.path().trim_matches('/').is_empty() {
            return Err(err(
                key("url"),
                format!("`{url}` must name the ntfy topic, like https://ntfy.sh/my-topic"),
            ));
        }
        let events = match w.events {
            None => crate::domain::EventKind::ALL.to_vec(),
            Some(list) if list.iter().any(|e| e == "*") => crate::domain::EventKind::ALL.to_vec(),
            Some(list) => {
                let mut kinds = Vec::new();
                for (n, e) in list.iter().enumerate() {
                    let k = crate::domain::EventKind::parse(e).ok_or_else(|| {
                        err(
                            format!("site[{i}].webhook[{j}].events[{n}]"),
                            format!(
                                "`{e}` must be one of {}",
                                crate::domain::EventKind::ALL.map(|k| k.as_str()).join(", ")
                            ),
                        )
                    })?;
                    if !kinds.contains(&k) {
                        kinds.push(k);
                    }
                }
                if kinds.is_empty() {
                    return Err(err(key("events"), "must name at least one event"));
                }
                kinds
            }
        };
        let secret = match w.secret {
            Some(s) => Some(parse_webhook_secret(&s).map_err(|m| err(key("secret"), m))?),
            None if format == WebhookFormat::Standard => {
                return Err(err(
                    key("secret"),
                    "is needed for format = \"standard\" (receivers check the signature); \
                     make one with `echo whsec_$(head -c 32 /dev/urandom | base64)`",
                ))
            }
            None => None,
        };
        let retry_after = match w.retry_after {
            None => Duration::from_secs(30),
            Some(r) => {
                let d = humantime::parse_duration(&r).ok().filter(|d| {
                    *d >= Duration::from_millis(100) && *d <= Duration::from_secs(3600)
                });
                d.ok_or_else(|| {
                    err(
                        key("retry_after"),
                        format!("`{r}` must be a duration from 100ms to 1h, like \"30s\""),
                    )
                })?
            }
        };
        out.push(WebhookSettings {
            url: url.to_string(),
            events,
            secret,
            format,
            retry_after,
        });
    }
    Ok(out)
}

/// The spam checks of one site. Each can be turned off on its own.
#[derive(Clone, Debug)]
pub struct SpamSettings {
    /// A comment that fills the embed's hidden field is spam.
    pub honeypot: bool,
    /// A comment must carry the form token its thread's answer handed out, at least
    /// `min_seconds` old.
    pub form_token: bool,
    pub min_seconds: u32,
    /// More links than this in one comment is spam; 0: no limit.
    pub max_links: u32,
    /// Words, phrases or `/regular expressions/` that make a comment spam; `None`: none.
    /// Shared, not copied with the settings: a copied regex starts with cold caches.
    pub blocked: Option<std::sync::Arc<BlockedWords>>,
    /// The same text again from the same client, or on the same thread, within this time
    /// is spam; zero: off.
    pub duplicates: Duration,
}

impl Default for SpamSettings {
    fn default() -> Self {
        SpamSettings {
            honeypot: true,
            form_token: true,
            min_seconds: 3,
            max_links: 5,
            blocked: None,
            duplicates: Duration::from_secs(10 * 60),
        }
    }
}

/// A site's blocked words and patterns, compiled once into one case-insensitive regex.
#[derive(Clone, Debug)]
pub struct BlockedWords {
    regex: regex::Regex,
    /// The entries as written, in order, to say which one matched.
    entries: Vec<regex::Regex>,
    sources: Vec<String>,
}

impl BlockedWords {
    /// Entries are words or phrases (matched whole, ignoring case) or `/patterns/`.
    pub fn new(list: &[String]) -> Result<Option<Self>, (usize, String)> {
        let mut parts = Vec::new();
        let mut entries = Vec::new();
        for (j, raw) in list.iter().enumerate() {
            let entry = raw.trim();
            let pattern = match entry.strip_prefix('/').and_then(|e| e.strip_suffix('/')) {
                Some(p) if !p.is_empty() => p.to_owned(),
                _ if entry.is_empty() => {
                    return Err((j, "an empty entry would block every comment".into()))
                }
                // Text is compared folded (see `domain::names`), so the word is too; a
                // word boundary only where the word starts or ends with a letter or digit.
                _ => {
                    let word = crate::domain::names::fold(entry);
                    let edge = |c: Option<char>| {
                        if c.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                            r"\b"
                        } else {
                            ""
                        }
                    };
                    let (lead, trail) = (edge(word.chars().next()), edge(word.chars().last()));
                    format!("{lead}{}{trail}", regex::escape(&word))
                }
            };
            let one = regex::RegexBuilder::new(&pattern)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| (j, format!("`{raw}` is not a valid pattern: {e}")))?;
            if one.is_match("") {
                return Err((j, format!("`{raw}` matches every comment")));
            }
            parts.push(format!("(?:{pattern})"));
            entries.push(one);
        }
        if entries.is_empty() {
            return Ok(None);
        }
        let regex = regex::RegexBuilder::new(&parts.join("|"))
            .case_insensitive(true)
            .size_limit(16 << 20)
            .build()
            .map_err(|e| (0, format!("the blocked list is too large: {e}")))?;
        Ok(Some(BlockedWords {
            regex,
            entries,
            sources: list.iter().map(|s| s.trim().to_owned()).collect(),
        }))
    }

    /// The first entry found in `text`, as written in the config.
    pub fn find(&self, text: &str) -> Option<&str> {
        if !self.regex.is_match(text) {
            return None;
        }
        let j = self.entries.iter().position(|r| r.is_match(text))?;
        Some(&self.sources[j])
    }
}

/// `notify_moderators`: which new comments the site's moderators get a mail for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyModerators {
    All,
    /// Only those held for moderation.
    Pending,
    None,
}

impl SiteSettings {
    pub fn default_site() -> Self {
        SiteSettings {
            id: SiteId::parse("default").expect("valid id"),
            origins: Origins::Any,
            moderation: Moderation::None,
            moderators: Vec::new(),
            reactions: DEFAULT_REACTIONS.iter().map(|s| s.to_string()).collect(),
            edit_window: Duration::from_secs(15 * 60),
            max_comment_length: crate::domain::CommentBody::DEFAULT_MAX_CHARS,
            reserved_names: Vec::new(),
            notify_moderators: NotifyModerators::Pending,
            language: "en",
            spam: SpamSettings::default(),
            webhooks: Vec::new(),
            fediverse_accounts: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub comments_per_ip_per_minute: u32,
    pub reactions_per_ip_per_minute: u32,
    /// Edits and deletes of one's own comments.
    pub edits_per_ip_per_minute: u32,
    pub trusted_proxies: Vec<IpNet>,
    /// Which header trusted proxies put the client's address in.
    pub proxy_header: ProxyHeader,
}

/// Caps on an import file (`[import]`): a file from elsewhere must not cost the server its
/// memory or disk. Each error that hits one names its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportCaps {
    /// Bytes read from the file, after gunzipping: the scratch file holds no more.
    pub max_input_bytes: u64,
    /// One line of a JSON Lines file (Remark42, our export).
    pub max_line_bytes: u64,
    /// One record of an XML or JSON file (a Disqus post, a WordPress post with its
    /// comments, one comment of a JSON export).
    pub max_record_bytes: u64,
    /// One comment's text.
    pub max_body_bytes: u64,
    /// Comments of one thread (a thread is imported whole or not at all).
    pub max_thread_comments: u64,
}

impl Default for ImportCaps {
    fn default() -> Self {
        ImportCaps {
            max_input_bytes: 4 << 30,
            max_line_bytes: 64 << 20,
            max_record_bytes: 64 << 20,
            max_body_bytes: 1 << 20,
            max_thread_comments: 100_000,
        }
    }
}

/// The header a reverse proxy records the client's address in. Only one is read: reading
/// both would let a client forge the one the proxy does not set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyHeader {
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    Forwarded,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            comments_per_ip_per_minute: 10,
            reactions_per_ip_per_minute: 60,
            edits_per_ip_per_minute: 30,
            proxy_header: ProxyHeader::XForwardedFor,
            trusted_proxies: vec![
                "127.0.0.1/32".parse().expect("valid net"),
                "::1/128".parse().expect("valid net"),
            ],
        }
    }
}

impl Limits {
    /// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) match as the IPv4 address.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }
}

#[derive(Clone, Debug)]
pub struct SmtpSettings {
    pub url: Secret,
    pub from: String,
    pub password: Option<Secret>,
    /// For connecting and for each SMTP command.
    pub timeout: Duration,
    /// The first retry's delay; each next one waits twice as long, up to an hour.
    pub retry_after: Duration,
    /// How long a reply notification waits for more replies to go out with it.
    pub reply_delay: Duration,
    /// Certificates (PEM, each with its BEGIN/END lines) trusted for the SMTP server's TLS
    /// besides the system's: `tls_ca_file`, for a relay with a private CA.
    pub tls_roots: Vec<String>,
}

/// The certificates of a PEM file, each with its BEGIN/END lines.
pub fn pem_certificates(text: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        out.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    out
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: DatabaseUrl,
    pub public_url: Option<url::Url>,
    pub sqlite_synchronous: SqliteSync,
    /// Serve the demo article at `/`: on by default only with the built-in `default` site.
    pub demo: bool,
    pub sites: BTreeMap<String, SiteSettings>,
    pub limits: Limits,
    pub smtp: Option<SmtpSettings>,
    /// Days after which a comment's IP hash and user agent are dropped; 0 keeps them.
    pub client_data_days: u32,
    /// What a reader's own erasure request (`/privacy`) does with their comments.
    pub reader_erase: ReaderErase,
    pub log_format: crate::telemetry::LogFormat,
    pub metrics: MetricsSettings,
    pub database: DatabaseSettings,
    pub outbound: crate::outbound::OutboundSettings,
    pub import: ImportCaps,
    pub federation: FederationSettings,
    pub events: EventsSettings,
}

/// `[database]`: the bounds on waiting for the database (see docs/configuration.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// A write not answered by the database within this is answered 503 (or, if its
    /// COMMIT was already sent, `write_outcome_unknown`).
    pub write_timeout: Duration,
    /// PostgreSQL: opening a connection, all of it.
    pub connect_timeout: Duration,
    /// PostgreSQL: data unacknowledged for this long, or an idle peer silent for this
    /// long, breaks the connection (TCP user timeout and keepalives).
    pub network_timeout: Duration,
    /// PostgreSQL: the server cancels a statement that runs longer.
    pub statement_timeout: Duration,
    /// PostgreSQL: the server ends a session left idle inside a transaction this long.
    pub idle_in_transaction_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            write_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            network_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(8),
            idle_in_transaction_timeout: Duration::from_secs(15),
        }
    }
}

impl DatabaseSettings {
    fn parse(raw: Option<RawDatabase>) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        let d = DatabaseSettings::default();
        // Whole seconds: libpq takes connect_timeout in seconds, and 2 s at least.
        let get = |key: &str, raw: Option<String>, default: Duration, min: u64, max: u64| {
            let Some(raw) = raw else { return Ok(default) };
            match humantime::parse_duration(raw.trim()) {
                Ok(v) if v >= Duration::from_secs(min) && v <= Duration::from_secs(max) => Ok(v),
                _ => Err(err(
                    format!("database.{key}"),
                    format!("`{raw}` must be a duration like \"10s\", from {min} s to {max} s"),
                )),
            }
        };
        Ok(DatabaseSettings {
            write_timeout: get("write_timeout", raw.write_timeout, d.write_timeout, 1, 300)?,
            connect_timeout: get(
                "connect_timeout",
                raw.connect_timeout,
                d.connect_timeout,
                2,
                300,
            )?,
            network_timeout: get(
                "network_timeout",
                raw.network_timeout,
                d.network_timeout,
                2,
                3600,
            )?,
            statement_timeout: get(
                "statement_timeout",
                raw.statement_timeout,
                d.statement_timeout,
                1,
                3600,
            )?,
            idle_in_transaction_timeout: get(
                "idle_in_transaction_timeout",
                raw.idle_in_transaction_timeout,
                d.idle_in_transaction_timeout,
                1,
                3600,
            )?,
        })
    }
}

/// `[privacy] reader_erase`: a reader who erases their data keeps their comments
/// anonymous, or deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderErase {
    Anonymize,
    Delete,
}

impl Settings {
    /// The zero-config settings: `127.0.0.1:8080`, `./afterword.db`, one open site `default`.
    pub fn defaults() -> Self {
        Self::from_toml("", &|_| None).expect("defaults are valid")
    }

    /// Reads the file (if any) and the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| {
                err(
                    p.display().to_string(),
                    format!("cannot read the config file: {e}"),
                )
            })?,
            None => String::new(),
        };
        Self::from_toml(&text, &|k| std::env::var(k).ok())
    }

    /// Parses TOML text, then applies overrides from `env` (a lookup, so tests need no process env).
    pub fn from_toml(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        // Some TOML errors (an empty key, `""=`) come with no message of their own.
        let message = |e: &toml::de::Error| match (e.message().trim(), e.to_string()) {
            ("", full) if full.trim().is_empty() => "the file is not valid TOML".to_owned(),
            ("", full) => full.trim().to_owned(),
            (m, _) => m.to_owned(),
        };
        let de = toml::Deserializer::parse(text).map_err(|e| err("config", message(&e)))?;
        let raw: RawSettings = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let msg = message(&e.into_inner());
            let key = if path == "." {
                unknown_key_of(&msg).unwrap_or_else(|| "config".into())
            } else {
                path
            };
            err(key, msg)
        })?;

        let listen_raw = env("AFTERWORD_LISTEN")
            .map(|v| ("AFTERWORD_LISTEN", v))
            .or_else(|| raw.listen.clone().map(|v| ("listen", v)));
        let listen = match listen_raw {
            Some((key, v)) => v
                .trim()
                .parse::<SocketAddr>()
                .map_err(|_| err(key, format!("`{v}` is not an address like 127.0.0.1:8080")))?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };

        let db_raw = env("AFTERWORD_DATABASE_URL")
            .map(|v| ("AFTERWORD_DATABASE_URL", v))
            .or_else(|| raw.database_url.clone().map(|v| ("database_url", v)));
        let database_url = match db_raw {
            Some((key, v)) => DatabaseUrl::parse(&v).map_err(|m| err(key, m))?,
            None => DatabaseUrl::Sqlite(PathBuf::from("afterword.db")),
        };

        let public_raw = env("AFTERWORD_PUBLIC_URL")
            .map(|v| ("AFTERWORD_PUBLIC_URL", v))
            .or_else(|| raw.public_url.clone().map(|v| ("public_url", v)));
        let public_url = match public_raw {
            Some((key, v)) => {
                let u = url::Url::parse(v.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .ok_or_else(|| {
                        err(
                            key,
                            format!(
                                "`{v}` is not an http(s) URL like https://comments.example.com"
                            ),
                        )
                    })?;
                Some(u)
            }
            None => None,
        };

        let sqlite_synchronous = match raw.sqlite_synchronous.as_deref() {
            None | Some("normal") => SqliteSync::Normal,
            Some("full") => SqliteSync::Full,
            Some(other) => {
                return Err(err(
                    "sqlite_synchronous",
                    format!("`{other}` must be \"normal\" or \"full\""),
                ))
            }
        };

        let mut sites = BTreeMap::new();
        let spam = raw.spam.unwrap_or_default();
        for (i, s) in raw.site.into_iter().enumerate() {
            let site = parse_site(i, s, &spam)?;
            if sites.contains_key(site.id.as_str()) {
                return Err(err(
                    format!("site[{i}].id"),
                    format!("site `{}` is declared twice", site.id.as_str()),
                ));
            }
            sites.insert(site.id.as_str().to_owned(), site);
        }
        let demo = raw.demo.unwrap_or(sites.is_empty());
        if sites.is_empty() {
            let mut d = SiteSettings::default_site();
            d.spam = parse_spam("spam", &spam)?;
            sites.insert(d.id.as_str().to_owned(), d);
        }

        let limits = match raw.limits {
            None => Limits::default(),
            Some(l) => {
                let mut limits = Limits::default();
                if let Some(n) = l.comments_per_ip_per_minute {
                    limits.comments_per_ip_per_minute = n;
                }
                if let Some(n) = l.reactions_per_ip_per_minute {
                    limits.reactions_per_ip_per_minute = n;
                }
                if let Some(n) = l.edits_per_ip_per_minute {
                    limits.edits_per_ip_per_minute = n;
                }
                limits.proxy_header = match l.proxy_header.as_deref() {
                    None | Some("x-forwarded-for") => ProxyHeader::XForwardedFor,
                    Some("forwarded") => ProxyHeader::Forwarded,
                    Some(other) => {
                        return Err(err(
                            "limits.proxy_header",
                            format!("`{other}`: must be \"x-forwarded-for\" or \"forwarded\""),
                        ))
                    }
                };
                if let Some(list) = l.trusted_proxies {
                    limits.trusted_proxies = list
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            parse_net(s).map_err(|m| err(format!("limits.trusted_proxies[{i}]"), m))
                        })
                        .collect::<Result<_, _>>()?;
                }
                limits
            }
        };

        let reader_erase = match raw.privacy.as_ref().and_then(|p| p.reader_erase.as_deref()) {
            None | Some("anonymize") => ReaderErase::Anonymize,
            Some("delete") => ReaderErase::Delete,
            Some(other) => {
                return Err(err(
                    "privacy.reader_erase",
                    format!("`{other}` must be one of anonymize, delete"),
                ))
            }
        };
        let import = parse_import_caps(raw.import.unwrap_or_default())?;
        let database = DatabaseSettings::parse(raw.database)?;
        let client_data_days = raw.privacy.and_then(|p| p.client_data_days).unwrap_or(30);
        if client_data_days > 36_500 {
            return Err(err(
                "privacy.client_data_days",
                "must be 0 (keep) to 36500 days",
            ));
        }
        let log_raw = env("AFTERWORD_LOG_FORMAT")
            .map(|v| ("AFTERWORD_LOG_FORMAT", v))
            .or_else(|| raw.log_format.clone().map(|v| ("log_format", v)));
        let log_format = match log_raw {
            None => crate::telemetry::LogFormat::Text,
            Some((_, v)) if v.trim() == "text" => crate::telemetry::LogFormat::Text,
            Some((_, v)) if v.trim() == "json" => crate::telemetry::LogFormat::Json,
            Some((key, v)) => return Err(err(key, format!("`{v}` must be \"text\" or \"json\""))),
        };
        let metrics = match raw.metrics {
            None => MetricsSettings::default(),
            Some(m) => {
                let listen = m
                    .listen
                    .map(|v| {
                        v.trim().parse::<SocketAddr>().map_err(|_| {
                            err(
                                "metrics.listen",
                                format!("`{v}` is not an address like 127.0.0.1:9100"),
                            )
                        })
                    })
                    .transpose()?;
                let token = match m.token {
                    Some(t) if t.trim().len() < 16 => {
                        return Err(err(
                            "metrics.token",
                            "must be at least 16 characters (a random string)",
                        ))
                    }
                    Some(t) => Some(Secret::new(t.trim())),
                    None => None,
                };
                MetricsSettings {
                    enabled: m.enabled.unwrap_or(false),
                    listen,
                    token,
                }
            }
        };
        let smtp = match raw.smtp {
            None => None,
            Some(s) => {
                let url = s
                    .url
                    .ok_or_else(|| err("smtp.url", "is required when [smtp] is present"))?;
                let parsed = url::Url::parse(&url)
                    .map_err(|e| err("smtp.url", format!("not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "smtp" | "smtps" | "smtp+starttls") {
                    return Err(err(
                        "smtp.url",
                        "must start with smtp://, smtps:// or smtp+starttls://",
                    ));
                }
                let from = s
                    .from
                    .ok_or_else(|| err("smtp.from", "is required when [smtp] is present"))?;
                if !from.contains('@') {
                    return Err(err(
                        "smtp.from",
                        format!("`{from}` is not a sender like Afterword <comments@example.com>"),
                    ));
                }
                if let Err(e) = from.parse::<lettre::message::Mailbox>() {
                    return Err(err(
                        "smtp.from",
                        format!(
                            "`{from}` is not a sender like Afterword <comments@example.com> ({e})"
                        ),
                    ));
                }
                let duration = |key: &str, raw: Option<String>, default: u64, max: u64| {
                    let Some(raw) = raw else {
                        return Ok(Duration::from_secs(default));
                    };
                    match humantime::parse_duration(&raw) {
                        Ok(d) if !d.is_zero() && d <= Duration::from_secs(max) => Ok(d),
                        _ => Err(err(
                            key,
                            format!("`{raw}` must be a duration like \"30s\", at most {max} s"),
                        )),
                    }
                };
                let tls_roots = match s.tls_ca_file {
                    None => Vec::new(),
                    Some(path) => {
                        let key = "smtp.tls_ca_file";
                        if parsed.scheme() == "smtp" {
                            return Err(err(
                                key,
                                "applies to TLS only: use an smtps:// or smtp+starttls:// url",
                            ));
                        }
                        let text = std::fs::read_to_string(&path)
                            .map_err(|e| err(key, format!("cannot read `{path}`: {e}")))?;
                        let roots = pem_certificates(&text);
                        if roots.is_empty() {
                            return Err(err(
                                key,
                                format!("`{path}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
                            ));
                        }
                        for (j, pem) in roots.iter().enumerate() {
                            lettre::transport::smtp::client::Certificate::from_pem(pem.as_bytes())
                                .map_err(|e| {
                                    err(
                                        key,
                                        format!(
                                            "certificate {} of `{path}` is not valid: {e}",
                                            j + 1
                                        ),
                                    )
                                })?;
                        }
                        roots
                    }
                };
                Some(SmtpSettings {
                    url: Secret::new(url),
                    from,
                    password: env("AFTERWORD_SMTP_PASSWORD").map(Secret::new),
                    timeout: duration("smtp.timeout", s.timeout, 20, 300)?,
                    retry_after: duration("smtp.retry_after", s.retry_after, 30, 3600)?,
                    reply_delay: duration("smtp.reply_delay", s.reply_delay, 300, 86_400)?,
                    tls_roots,
                })
            }
        };

        let outbound = outbound_settings(raw.outbound)?;
        let federation = federation_settings(raw.federation)?;
        let events = events_settings(raw.events)?;

        Ok(Settings {
            listen,
            database_url,
            public_url,
            sqlite_synchronous,
            demo,
            sites,
            limits,
            smtp,
            client_data_days,
            reader_erase,
            log_format,
            metrics,
            database,
            outbound,
            import,
            federation,
            events,
        })
    }

    pub fn site(&self, id: &SiteId) -> Option<&SiteSettings> {
        self.sites.get(id.as_str())
    }
}

fn parse_import_caps(raw: RawImport) -> Result<ImportCaps, ConfigError> {
    let mut caps = ImportCaps::default();
    for (key, value, cap) in [
        (
            "import.max_input_bytes",
            raw.max_input_bytes,
            &mut caps.max_input_bytes,
        ),
        (
            "import.max_line_bytes",
            raw.max_line_bytes,
            &mut caps.max_line_bytes,
        ),
        (
            "import.max_record_bytes",
            raw.max_record_bytes,
            &mut caps.max_record_bytes,
        ),
        (
            "import.max_body_bytes",
            raw.max_body_bytes,
            &mut caps.max_body_bytes,
        ),
        (
            "import.max_thread_comments",
            raw.max_thread_comments,
            &mut caps.max_thread_comments,
        ),
    ] {
        match value {
            Some(0) => return Err(err(key, "must be at least 1")),
            Some(n) => *cap = n,
            None => {}
        }
    }
    Ok(caps)
}

/// serde names an unknown key inside its message; pull it out so the error leads with it.
fn unknown_key_of(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{s}` is not an IP address or network like 10.0.0.0/8"))
}

fn parse_site(i: usize, s: RawSite, spam: &RawSpam) -> Result<SiteSettings, ConfigError> {
    let key = |k: &str| format!("site[{i}].{k}");
    let id =
        SiteId::parse(&s.id).map_err(|e| err(key("id"), format!("`{}`: {}", s.id, e.message)))?;
    let origins = match s.origins {
        None => Origins::List(HashSet::new()),
        Some(list) if list.iter().any(|o| o == "*") => Origins::Any,
        Some(list) => {
            let mut set = HashSet::new();
            for (j, o) in list.iter().enumerate() {
                set.insert(
                    normalize_origin(o).map_err(|m| err(format!("site[{i}].origins[{j}]"), m))?,
                );
            }
            Origins::List(set)
        }
    };
    let moderation = match s.moderation.as_deref() {
        None | Some("none") => Moderation::None,
        Some("first-time") => Moderation::FirstTime,
        Some("all") => Moderation::All,
        Some(other) => {
            return Err(err(
                key("moderation"),
                format!("`{other}` must be one of none, first-time, all"),
            ))
        }
    };
    let moderators = s
        .moderators
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(j, m)| match Email::parse(m) {
            Ok(Some(e)) => Ok(e),
            _ => Err(err(
                format!("site[{i}].moderators[{j}]"),
                format!("`{m}` is not an email address"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let reactions = match s.reactions {
        None => DEFAULT_REACTIONS.iter().map(|s| s.to_string()).collect(),
        Some(list) => {
            let mut seen = HashSet::new();
            for (j, r) in list.iter().enumerate() {
                let k = format!("site[{i}].reactions[{j}]");
                if r.trim().is_empty()
                    || r.len() > 32
                    || r.chars().any(|c| c.is_control() || c.is_whitespace())
                {
                    return Err(err(
                        k,
                        format!("`{r}` must be one emoji or a short word without spaces"),
                    ));
                }
                if !seen.insert(r.clone()) {
                    return Err(err(k, format!("`{r}` is listed twice")));
                }
            }
            if list.len() > 32 {
                return Err(err(key("reactions"), "at most 32 reactions"));
            }
            list
        }
    };
    let edit_window = match s.edit_window {
        None => Duration::from_secs(15 * 60),
        Some(w) => {
            let d = humantime::parse_duration(&w).map_err(|_| {
                err(
                    key("edit_window"),
                    format!("`{w}` is not a duration like \"15m\" or \"1h\""),
                )
            })?;
            if d > Duration::from_secs(30 * 24 * 3600) {
                return Err(err(key("edit_window"), "must be at most 30 days"));
            }
            d
        }
    };
    let max_comment_length = match s.max_comment_length {
        None => crate::domain::CommentBody::DEFAULT_MAX_CHARS,
        Some(n) if (1..=60_000).contains(&n) => n,
        Some(n) => {
            return Err(err(
                key("max_comment_length"),
                format!("{n} must be between 1 and 60000"),
            ))
        }
    };
    let mut reserved_names: Vec<String> = Vec::new();
    for (j, name) in s.reserved_names.unwrap_or_default().iter().enumerate() {
        let folded = crate::domain::names::fold(name);
        if folded.is_empty() || name.chars().count() > crate::domain::AuthorName::MAX_CHARS {
            return Err(err(
                format!("site[{i}].reserved_names[{j}]"),
                format!("`{name}` must be a name of 1 to 100 visible characters"),
            ));
        }
        if !reserved_names.contains(&folded) {
            reserved_names.push(folded);
        }
    }
    let notify_moderators = match s.notify_moderators.as_deref() {
        None | Some("pending") => NotifyModerators::Pending,
        Some("all") => NotifyModerators::All,
        Some("none") => NotifyModerators::None,
        Some(other) => {
            return Err(err(
                key("notify_moderators"),
                format!("`{other}` must be one of all, pending, none"),
            ))
        }
    };
    let language = match s.language.as_deref() {
        None => "en",
        Some(l) => crate::email::i18n::known(l).ok_or_else(|| {
            err(
                key("language"),
                format!(
                    "`{l}` must be one of {}",
                    crate::email::i18n::LANGS.join(", ")
                ),
            )
        })?,
    };
    Ok(SiteSettings {
        id,
        origins,
        moderation,
        moderators,
        reactions,
        edit_window,
        max_comment_length,
        reserved_names,
        notify_moderators,
        language,
        spam: parse_spam(&key("spam"), &spam.overlay(&s.spam.unwrap_or_default()))?,
        webhooks: parse_webhooks(i, s.webhook.unwrap_or_default())?,
        fediverse_accounts: s
            .fediverse_accounts
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(j, a)| {
                crate::domain::RemoteAccount::parse(a)
                    .map_err(|m| err(format!("{}[{j}]", key("fediverse_accounts")), m))
            })
            .collect::<Result<_, _>>()?,
    })
}

/// Builds a site's spam checks from `[spam]` with the site's own keys over it.
fn parse_spam(key: &str, raw: &RawSpam) -> Result<SpamSettings, ConfigError> {
    let d = SpamSettings::default();
    let min_seconds = raw.min_seconds.unwrap_or(d.min_seconds);
    if min_seconds > 3600 {
        return Err(err(
            format!("{key}.min_seconds"),
            "must be at most 3600 (an hour)",
        ));
    }
    let blocked = BlockedWords::new(raw.blocked.as_deref().unwrap_or_default())
        .map_err(|(j, m)| err(format!("{key}.blocked[{j}]"), m))?
        .map(std::sync::Arc::new);
    let duplicates = match &raw.duplicates {
        None => d.duplicates,
        Some(w) => {
            let d = humantime::parse_duration(w).map_err(|_| {
                err(
                    format!("{key}.duplicates"),
                    format!("`{w}` is not a duration like \"10m\" (or \"0s\" for off)"),
                )
            })?;
            if d > Duration::from_secs(7 * 24 * 3600) {
                return Err(err(format!("{key}.duplicates"), "must be at most 7 days"));
            }
            d
        }
    };
    Ok(SpamSettings {
        honeypot: raw.honeypot.unwrap_or(d.honeypot),
        form_token: raw.form_token.unwrap_or(d.form_token),
        min_seconds,
        max_links: raw.max_links.unwrap_or(d.max_links),
        blocked,
        duplicates,
    })
}

/// `https://Example.com/` → `https://example.com`, as browsers send it in `Origin`.
pub fn normalize_origin(raw: &str) -> Result<String, String> {
    let bad = || format!("`{raw}` is not an origin like https://example.com");
    let u = url::Url::parse(raw.trim()).map_err(|_| bad())?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(bad());
    }
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return Err(format!(
            "`{raw}` must be an origin only (scheme, host, port), without a path"
        ));
    }
    Ok(u.origin().ascii_serialization())
}

/// `[outbound]`, with its defaults (crate::outbound::OutboundSettings::default()).
fn outbound_settings(
    raw: Option<RawOutbound>,
) -> Result<crate::outbound::OutboundSettings, ConfigError> {
    let mut settings = crate::outbound::OutboundSettings::default();
    let Some(raw) = raw else {
        return Ok(settings);
    };
    let duration = |key: &str, raw: Option<String>, default: Duration| match raw {
        None => Ok(default),
        Some(text) => match humantime::parse_duration(&text) {
            Ok(d) if !d.is_zero() && d <= Duration::from_secs(120) => Ok(d),
            _ => Err(err(
                key,
                format!("`{text}` must be a duration like \"10s\", at most 120 s"),
            )),
        },
    };
    settings.allow_private_addresses = raw.allow_private_addresses.unwrap_or(false);
    settings.connect_timeout = duration(
        "outbound.connect_timeout",
        raw.connect_timeout,
        settings.connect_timeout,
    )?;
    settings.timeout = duration("outbound.timeout", raw.timeout, settings.timeout)?;
    if settings.connect_timeout > settings.timeout {
        return Err(err(
            "outbound.connect_timeout",
            "must not be longer than outbound.timeout",
        ));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn zero_config() {
        let s = Settings::defaults();
        assert_eq!(s.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.database_url, DatabaseUrl::Sqlite("afterword.db".into()));
        assert_eq!(s.sites.len(), 1);
        let d = &s.sites["default"];
        assert_eq!(d.origins, Origins::Any);
        assert_eq!(d.moderation, Moderation::None);
        assert_eq!(d.edit_window, Duration::from_secs(900));
        assert_eq!(s.limits.comments_per_ip_per_minute, 10);
        assert_eq!(s.sqlite_synchronous, SqliteSync::Normal);
    }

    #[test]
    fn full_example_from_the_contract() {
        let text = r#"
listen = "127.0.0.1:9090"
database_url = "postgres://user:pass@host/db"
public_url = "https://comments.example.com"

[[site]]
id = "blog"
origins = ["https://Example.com/"]
moderation = "first-time"
moderators = ["me@example.com"]
reactions = ["👍", "❤️", "😂", "🎉", "😮", "😢"]
edit_window = "15m"

[limits]
comments_per_ip_per_minute = 10
reactions_per_ip_per_minute = 60
trusted_proxies = ["127.0.0.1/32"]

[smtp]
url = "smtp://127.0.0.1:2525"
from = "Afterword <comments@example.com>"
"#;
        let s = Settings::from_toml(text, &no_env).unwrap();
        assert_eq!(s.listen.port(), 9090);
        assert!(s.database_url.is_postgres());
        assert!(!format!("{:?}", s.database_url).contains("pass"));
        let blog = &s.sites["blog"];
        assert!(blog.origins.allows("https://example.com"));
        assert!(!blog.origins.allows("https://evil.example"));
        assert_eq!(blog.moderation, Moderation::FirstTime);
        assert!(!s.sites.contains_key("default"));
        assert!(s.smtp.is_some());
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Settings::from_toml("listn = \"x\"", &no_env).unwrap_err();
        assert_eq!(e.key, "listn");
        let e = Settings::from_toml("[[site]]\nid = \"a\"\norigin = []", &no_env).unwrap_err();
        assert!(e.key.contains("origin"), "{e}");
        let e = Settings::from_toml("[limits]\nfoo = 1", &no_env).unwrap_err();
        assert!(e.to_string().contains("foo"), "{e}");
    }

    /// A CA certificate (EC P-256, self-signed), to parse: its dates do not matter here.
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----\n\
MIIBjjCCATWgAwIBAgIUcHb8xabJQkTtUHYZk/VsURqFjI4wCgYIKoZIzj0EAwIw\n\
HDEaMBgGA1UEAwwRQWZ0ZXJ3b3JkIHRlc3QgQ0EwIBcNMjYxMTI3MTY0MzAzWhgP\n\
MjEyNjExMDMxNjQzMDNaMBwxGjAYBgNVBAMMEUFmdGVyd29yZCB0ZXN0IENBMFkw\n\
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEguk0Et2hsWJKrm4jZPl2ubaJ0MQqrl9/\n\
Rd0YcIQdkMJXqFZgvN7CO60S6OmuCKCsS5iqGHOFN7FKvpnpVz3EuKNTMFEwHQYD\n\
VR0OBBYEFAi3vdkDMTGovYALUa+jeoO14sRfMB8GA1UdIwQYMBaAFAi3vdkDMTGo\n\
vYALUa+jeoO14sRfMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIg\n\
YmRJQ7bTiP7Gyt0h1IphLsVuxfjjnTzKMrVTPfAZjGACIH97oaKyvDC0HCAXAEF/\n\
0KUqBQiN/ycgFGg9jfK/dAMt\n\
-----END CERTIFICATE-----";

    #[test]
    fn tls_ca_file_is_read_and_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        // Two certificates with text around them, as bundles come.
        std::fs::write(path("ca.pem"), format!("My relay\n{TEST_CA}\n{TEST_CA}\n")).unwrap();
        std::fs::write(path("empty.pem"), "no certificate here").unwrap();
        std::fs::write(
            path("bad.pem"),
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let smtp = |url: &str, file: &str| {
            format!("[smtp]\nurl = \"{url}\"\nfrom = \"a@b.c\"\ntls_ca_file = \"{file}\"")
        };
        let s =
            Settings::from_toml(&smtp("smtps://mail.example", &path("ca.pem")), &no_env).unwrap();
        let roots = &s.smtp.as_ref().unwrap().tls_roots;
        assert_eq!(roots.len(), 2);
        assert!(roots[0].starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(crate::email::transport(s.smtp.as_ref().unwrap()).is_ok());
        for (url, file, says) in [
            ("smtp://mail.example", path("ca.pem"), "applies to TLS only"),
            (
                "smtp+starttls://mail.example",
                path("missing.pem"),
                "cannot read",
            ),
            (
                "smtps://mail.example",
                path("empty.pem"),
                "holds no PEM certificate",
            ),
            ("smtps://mail.example", path("bad.pem"), "certificate 1 of"),
        ] {
            let e = Settings::from_toml(&smtp(url, &file), &no_env).unwrap_err();
            assert_eq!(e.key, "smtp.tls_ca_file", "{e}");
            assert!(e.message.contains(says), "{e}");
        }
    }

    #[test]
    fn a_site_speaks_its_language() {
        let s = Settings::from_toml(
            "[[site]]\nid = \"a\"\nlanguage = \"de\"\n[[site]]\nid = \"b\"",
            &no_env,
        )
        .unwrap();
        assert_eq!(s.sites["a"].language, "de");
        assert_eq!(s.sites["b"].language, "en");
        let e =
            Settings::from_toml("[[site]]\nid = \"a\"\nlanguage = \"pt\"", &no_env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration error: site[0].language: `pt` must be one of en, de, fr, es, zh"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("listen = \"nowhere\"", "listen"),
            ("database_url = \"mysql://x\"", "database_url"),
            ("public_url = \"ftp://x\"", "public_url"),
            ("sqlite_synchronous = \"off\"", "sqlite_synchronous"),
            ("[[site]]\nid = \"Bad Id\"", "site[0].id"),
            (
                "[[site]]\nid = \"a\"\nmoderation = \"some\"",
                "site[0].moderation",
            ),
            (
                "[[site]]\nid = \"a\"\nedit_window = \"soon\"",
                "site[0].edit_window",
            ),
            (
                "[[site]]\nid = \"a\"\norigins = [\"example.com\"]",
                "site[0].origins[0]",
            ),
            (
                "[[site]]\nid = \"a\"\norigins = [\"https://example.com/blog\"]",
                "site[0].origins[0]",
            ),
            (
                "[[site]]\nid = \"a\"\nmoderators = [\"nope\"]",
                "site[0].moderators[0]",
            ),
            ("[[site]]\nid = \"a\"\n[[site]]\nid = \"a\"", "site[1].id"),
            (
                "[limits]\ntrusted_proxies = [\"x\"]",
                "limits.trusted_proxies[0]",
            ),
            (
                "[limits]\ncomments_per_ip_per_minute = -1",
                "limits.comments_per_ip_per_minute",
            ),
            (
                "[privacy]\nclient_data_days = 40000",
                "privacy.client_data_days",
            ),
            ("[limits]\nproxy_header = \"via\"", "limits.proxy_header"),
            ("[outbound]\ntimeout = \"forever\"", "outbound.timeout"),
            ("[outbound]\ntimeout = \"10m\"", "outbound.timeout"),
            (
                "[outbound]\nconnect_timeout = \"20s\"\ntimeout = \"5s\"",
                "outbound.connect_timeout",
            ),
            ("[outbound]\nallow_private = true", "outbound.allow_private"),
            (
                "[[site]]\nid = \"a\"\nfediverse_accounts = [\"https://x.example/about\"]",
                "site[0].fediverse_accounts[0]",
            ),
            (
                "[federation]\npoll_interval = \"0s\"",
                "federation.poll_interval",
            ),
            ("[events]\ninterval = \"0s\"", "events.interval"),
            ("[events]\ninterval = \"2h\"", "events.interval"),
            (
                "[federation]\nbluesky_appview = \"ftp://x\"",
                "federation.bluesky_appview",
            ),
            ("[smtp]\nurl = \"http://x\"\nfrom = \"a@b.c\"", "smtp.url"),
            ("[smtp]\nurl = \"smtp://x\"\nfrom = \"a@\"", "smtp.from"),
            (
                "[smtp]\nurl = \"smtp://x\"\nfrom = \"a@b.c\"\nretry_after = \"0s\"",
                "smtp.retry_after",
            ),
            (
                "[[site]]\nid = \"a\"\nnotify_moderators = \"some\"",
                "site[0].notify_moderators",
            ),
            (
                "[[site]]\nid = \"a\"\nreserved_names = [\"ok\", \"\\u200b \"]",
                "site[0].reserved_names[1]",
            ),
            (
                "[[site]]\nid = \"a\"\nreserved_names = \"Me\"",
                "site[0].reserved_names",
            ),
            ("listen = 5", "listen"),
            (
                "[[site]]\nid = \"a\"\nlanguage = \"ja\"",
                "site[0].language",
            ),
            (
                "[[site]]\nid = \"a\"\nlanguage = \"DE\"",
                "site[0].language",
            ),
            ("[[site]]\nid = \"a\"\nlanguage = 7", "site[0].language"),
            (
                "[database]\nwrite_timeout = \"0s\"",
                "database.write_timeout",
            ),
            (
                "[database]\nconnect_timeout = \"1s\"",
                "database.connect_timeout",
            ),
            (
                "[database]\nnetwork_timeout = 5",
                "database.network_timeout",
            ),
            ("[database]\nwrite_timout = \"5s\"", "database.write_timout"),
        ];
        for (text, key) in cases {
            let e = Settings::from_toml(text, &no_env).unwrap_err();
            assert_eq!(e.key, key, "{text} gave {e}");
        }
    }

    #[test]
    fn reserved_names_are_kept_folded() {
        let text =
            "[[site]]\nid = \"a\"\nreserved_names = [\"The Editor\", \"THE  EDITOR\", \"Ｂｏｔ\"]";
        let s = Settings::from_toml(text, &no_env).unwrap();
        assert_eq!(s.sites["a"].reserved_names, ["the editor", "bot"]);
        assert!(Settings::defaults().sites["default"]
            .reserved_names
            .is_empty());
    }

    #[test]
    fn env_overrides_the_file() {
        let env = |k: &str| match k {
            "AFTERWORD_LISTEN" => Some("0.0.0.0:1234".to_owned()),
            "AFTERWORD_DATABASE_URL" => Some("sqlite:///data/x.db".to_owned()),
            "AFTERWORD_PUBLIC_URL" => Some("https://c.example.com".to_owned()),
            _ => None,
        };
        let s = Settings::from_toml("listen = \"127.0.0.1:1\"", &env).unwrap();
        assert_eq!(s.listen, "0.0.0.0:1234".parse().unwrap());
        assert_eq!(s.database_url, DatabaseUrl::Sqlite("/data/x.db".into()));
        assert_eq!(s.public_url.unwrap().as_str(), "https://c.example.com/");
        let bad = |k: &str| (k == "AFTERWORD_LISTEN").then(|| "bogus".to_owned());
        assert_eq!(
            Settings::from_toml("", &bad).unwrap_err().key,
            "AFTERWORD_LISTEN"
        );
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://a.db").unwrap(),
            DatabaseUrl::Sqlite("a.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:a.db").unwrap(),
            DatabaseUrl::Sqlite("a.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///data/a.db").unwrap(),
            DatabaseUrl::Sqlite("/data/a.db".into())
        );
        assert!(DatabaseUrl::parse("postgresql://u@h/d")
            .unwrap()
            .is_postgres());
        assert!(DatabaseUrl::parse("a.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(500))]

            /// Any config text loads or is refused with the key at fault; never a panic.
            #[test]
            fn any_config_text(
                text in prop_oneof![
                    any::<String>(),
                    "(\\[\\[site\\]\\]\n|id = \"[a-z-]{0,8}\"\n|origins = \\[\"[a-z:/.*]{0,20}\"\\]\n|\\[spam\\]\n|blocked = \\[\"[a-z/(*]{0,6}\"\\]\n|duplicates = \"[0-9a-z]{0,4}\"\n|\\[limits\\]\n|edit_window = \"[0-9a-z ]{0,5}\"\n){0,8}",
                ],
            ) {
                if let Err(e) = Settings::from_toml(&text, &no_env) {
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }

    #[test]
    fn webhooks_parse_and_refuse_clearly() {
        let site = "[[site]]\nid = \"a\"\n[[site.webhook]]\n";
        let secret = "secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"";
        let s = Settings::from_toml(
            &format!(
                "{site}url = \"https://h.example/x\"\n{secret}\n\
                 [[site.webhook]]\nurl = \"https://ntfy.sh/t\"\nformat = \"ntfy\"\n\
                 events = [\"comment.created\"]\nretry_after = \"1s\""
            ),
            &no_env,
        )
        .unwrap();
        let hooks = &s.sites["a"].webhooks;
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].format, WebhookFormat::Standard);
        assert_eq!(hooks[0].events.len(), crate::domain::EventKind::ALL.len());
        assert_eq!(hooks[0].secret.as_ref().unwrap().0.len(), 24);
        assert!(!format!("{:?}", hooks[0]).contains("MfKQ"));
        assert_eq!(hooks[1].events, [crate::domain::EventKind::CommentCreated]);
        assert!(hooks[1].secret.is_none());
        assert_eq!(hooks[1].retry_after, Duration::from_secs(1));
        for (text, key) in [
            ("url = \"ftp://h.example/\"", "site[0].webhook[0].url"),
            ("url = \"https://u:p@h.example/\"", "site[0].webhook[0].url"),
            ("url = \"https://h.example/\"", "site[0].webhook[0].secret"),
            (
                "url = \"https://h.example/\"\nsecret = \"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"",
                "site[0].webhook[0].secret",
            ),
            (
                "url = \"https://h.example/\"\nsecret = \"whsec_c2hvcnQ=\"",
                "site[0].webhook[0].secret",
            ),
            (
                "url = \"https://h.example/\"\nformat = \"teams\"",
                "site[0].webhook[0].format",
            ),
            (
                "url = \"https://h.example/\"\nformat = \"slack\"\nevents = [\"comment.nope\"]",
                "site[0].webhook[0].events[0]",
            ),
            (
                "url = \"https://h.example/\"\nformat = \"slack\"\nevents = []",
                "site[0].webhook[0].events",
            ),
            (
                "url = \"https://ntfy.sh/\"\nformat = \"ntfy\"",
                "site[0].webhook[0].url",
            ),
            (
                "url = \"https://h.example/\"\nformat = \"slack\"\nretry_after = \"2h\"",
                "site[0].webhook[0].retry_after",
            ),
            (
                "url = \"https://h.example/\"\nformat = \"slack\"\nsecrets = 1",
                "secrets",
            ),
        ] {
            let e = Settings::from_toml(&format!("{site}{text}"), &no_env).unwrap_err();
            assert!(e.key.contains(key), "{text}: {e:?}");
        }
    }
}
