//! The dispatcher: takes pending events and hands them to their consumers, in one
//! transaction per batch (see the module above).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::format::{self, ActionLink, CommentInfo, Message, ThreadInfo};
use crate::cache::ThreadKey;
use crate::config::{Settings, SiteSettings, WebhookSettings};
use crate::db::events::{EventRow, NewDelivery};
use crate::db::{Db, EventStore, Pool};
use crate::domain::{CommentId, SiteId};
use crate::email::compose::{self as mail, Composed};
use crate::email::links::ActionToken;
use crate::email::worker::Stop;
use crate::email::Mailer;
use crate::error::ApiError;
use crate::security::ServerKey;
use crate::{on_conn, with_conn};

/// Events handled per write: each is a few statements in the writer's batch, beside the
/// comments.
const BATCH: i64 = 25;
/// Dispatched events and delivered deliveries stay this long, then are pruned.
pub const KEEP: Duration = Duration::from_secs(7 * 86_400);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Whether the event makes a comment visible for the first time: then its parent's
/// author and the thread's followers may be mailed (a deleted comment brought back was
/// seen, and mailed, before).
fn first_seen(kind: &str, detail: &Value) -> bool {
    match kind {
        "comment.created" => detail["status"] == "approved",
        "comment.approved" => matches!(detail["from"].as_str(), Some("pending" | "spam")),
        _ => false,
    }
}

/// The Standard Webhooks `webhook-id` of an event's deliveries: the same for every
/// endpoint and every attempt.
pub fn message_id(event_id: i64) -> String {
    format!("msg_afterword_{event_id}")
}

fn not_found(e: diesel::result::Error) -> Result<(), ApiError> {
    match e {
        diesel::result::Error::NotFound => Ok(()),
        other => Err(other.into()),
    }
}

/// What a message says about an event, read now (a moment after the change): the thread,
/// the comment as moderators may pass it on, and the approve and spam links when it waits
/// for a moderator.
pub fn message<C: Db>(
    c: &mut C,
    settings: &Settings,
    site: &SiteSettings,
    key: &ServerKey,
    ev: &EventRow,
    detail: Value,
    now: i64,
) -> Result<Message, ApiError> {
    let base = super::base_url(settings);
    let mut thread = None;
    if let Some(tid) = ev.thread_id {
        match c.thread_by_id(tid) {
            Ok(t) => thread = Some(t),
            Err(e) => not_found(e)?,
        }
    }
    let post = thread
        .as_ref()
        .and_then(|t| crate::view::thread_link(Some(site), &t.slug, t.url.as_deref()))
        .map(|l| l.split('#').next().unwrap_or(&l).to_owned());
    let mut comment = None;
    let mut actions = Vec::new();
    // The comment as it was when the event was recorded.
    let mut detail = detail;
    let snapshot = match &mut detail {
        Value::Object(d) => {
            // For the moderators' mail only (see `moderator_mails`).
            d.remove(PAGE_URL);
            d.remove("comment").unwrap_or(Value::Null)
        }
        _ => Value::Null,
    };
    if let Some(id) = ev.comment_id {
        let text = |k: &str| snapshot[k].as_str().map(str::to_owned);
        let status = text("status").unwrap_or_else(|| "deleted".to_owned());
        let admin_link = match (status.as_str(), ev.thread_id) {
            ("pending", _) | (_, None) => format!("{base}/admin#comment-{id}"),
            (_, Some(t)) => format!("{base}/admin/comments?thread={t}#comment-{id}"),
        };
        if ev.kind == "comment.created" && status == "pending" {
            let recipient = format!("webhook:{}", site.id.as_str());
            for action in ["approve", "spam"] {
                let token = ActionToken::new(CommentId(id), action, &recipient, now / 1_000_000);
                actions.push(ActionLink {
                    action,
                    url: format!("{base}/admin/mail/action?t={}", token.encode(key)),
                });
            }
        }
        comment = Some(CommentInfo {
            id,
            parent_id: snapshot["parent_id"].as_i64(),
            author: text("author"),
            excerpt: text("excerpt").unwrap_or_default(),
            link: post.as_ref().map(|p| format!("{p}#afterword-comment-{id}")),
            admin_link,
            created_at: text("created_at").unwrap_or_default(),
            status,
        });
    }
    Ok(Message {
        kind: ev.kind.clone(),
        at: ev.at,
        site: ev.site.clone(),
        thread: thread.map(|t| ThreadInfo {
            id: t.id,
            slug: t.slug,
            title: t.title,
            url: post,
        }),
        comment,
        detail,
        actions,
    })
}

/// A delivery rendered before it is queued.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub endpoint: String,
    pub format: &'static str,
    pub body: String,
}

/// A pending event made ready to hand over: whether it makes reply mail, the mail to
/// the site's moderators (and the keyed hash of the address it is about), and its
/// deliveries' bodies.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event: EventRow,
    pub mail: bool,
    pub moderator_mail: Vec<Composed>,
    pub about: Option<String>,
    pub deliveries: Vec<Rendered>,
    /// What it makes of the comment in the feeds: published (`true`) or held (`false`).
    pub feed: Option<bool>,
}

/// What an event makes of its comment in the feeds (`feed_entries`): a comment written
/// approved, or approved later, is published; one written held reaches the moderators'
/// feed. Nothing else changes which comments a feed holds (what an entry shows is read
/// from the comment).
fn feed_entry(kind: &str, detail: &Value) -> Option<bool> {
    match (kind, detail["status"].as_str()) {
        ("comment.created", Some("approved")) | ("comment.approved", _) => Some(true),
        ("comment.created", Some("pending")) => Some(false),
        _ => None,
    }
}

/// The key of a `comment.created` event's detail that keeps the post's address as the
/// comment gave it (the thread may not know it yet): for the moderators' mail, never
/// passed on to webhooks.
pub const PAGE_URL: &str = "page_url";

/// The mail a `comment.created` event makes for the site's moderators, as
/// `notify_moderators` asks: about the comment as stored now, unless it is gone, refused
/// meanwhile, or a moderator's own.
fn moderator_mails<C: Db>(
    c: &mut C,
    mailer: &Mailer,
    site: &SiteSettings,
    ev: &EventRow,
    detail: &Value,
    now: i64,
) -> Result<(Vec<Composed>, Option<String>), ApiError> {
    let none = Ok((Vec::new(), None));
    let (Some(id), Some(thread_id)) = (ev.comment_id, ev.thread_id) else {
        return none;
    };
    if ev.kind != "comment.created" {
        return none;
    }
    let Some(row) = c.mod_comment(id)? else {
        return none;
    };
    if matches!(row.status.as_str(), "deleted" | "spam") || row.moderator_id.is_some() {
        return none;
    }
    let thread = match c.thread_by_id(thread_id) {
        Ok(t) => t,
        Err(diesel::result::Error::NotFound) => return none,
        Err(e) => return Err(e.into()),
    };
    let event = mail::NewCommentEvent {
        id: CommentId(id),
        pending: detail["status"] != "approved",
        author: row.author.as_deref(),
        email: row.email.as_deref(),
        body: &row.body,
        post_url: detail[PAGE_URL].as_str(),
    };
    mail::new_comment_mails(mailer, site, &thread, &event, now)
}

/// Reads up to `n` pending events and renders what each is to become: work done before
/// the write, on a read connection, so that the write is short.
pub fn prepare<C: Db>(
    c: &mut C,
    settings: &Settings,
    key: &ServerKey,
    mailer: Option<&Mailer>,
    now: i64,
    n: i64,
) -> Result<Vec<Prepared>, ApiError> {
    let mut out = Vec::new();
    for ev in c.pending_events(n)? {
        let detail: Value = serde_json::from_str(&ev.detail).unwrap_or_else(|_| json!({}));
        let mail = first_seen(&ev.kind, &detail) && ev.comment_id.is_some();
        let feed = feed_entry(&ev.kind, &detail);
        let mut deliveries = Vec::new();
        let site = SiteId::parse(&ev.site)
            .ok()
            .and_then(|id| settings.site(&id));
        let (moderator_mail, about) = match (mailer, site) {
            (Some(mailer), Some(site)) => moderator_mails(c, mailer, site, &ev, &detail, now)?,
            _ => (Vec::new(), None),
        };
        if let Some(site) = site {
            let hooks: Vec<&WebhookSettings> = site
                .webhooks
                .iter()
                .filter(|w| w.events.iter().any(|k| k.as_str() == ev.kind))
                .collect();
            if !hooks.is_empty() {
                let m = message(c, settings, site, key, &ev, detail, now)?;
                deliveries = hooks
                    .into_iter()
                    .map(|w| Rendered {
                        endpoint: w.url.clone(),
                        format: w.format.as_str(),
                        body: format::render(w.format, &w.url, &m),
                    })
                    .collect();
            }
        }
        out.push(Prepared {
            event: ev,
            mail,
            moderator_mail,
            about,
            deliveries,
            feed,
        });
    }
    Ok(out)
}

/// Hands each prepared event to its consumers, unless another instance took it first:
/// the feeds' record, the moderators' mail and reply mail (into the outbox), then the
/// site's webhooks. Run it in one transaction (or savepoint), which marks them
/// dispatched: each mail and each delivery is queued once, whatever the instances and
/// crashes. Returns how many it took, and the sites whose feeds changed (as keys that
/// drop those sites' cached feeds here and, through the writer's notification, on other
/// instances).
pub fn hand_over<C: Db>(
    c: &mut C,
    prepared: &[Prepared],
    now: i64,
) -> Result<(usize, Vec<ThreadKey>), ApiError> {
    let ids: Vec<i64> = prepared.iter().map(|p| p.event.id).collect();
    let took = c.take_events(&ids, now)?;
    let taken = took.len();
    let mut entries: Vec<(i64, i64, bool)> = Vec::new();
    let mut entry_sites: Vec<ThreadKey> = Vec::new();
    let mut approved: Vec<(i64, i64)> = Vec::new();
    for p in prepared {
        let ev = &p.event;
        if !took.contains(&ev.id) {
            continue;
        }
        if let (Some(published), Some(id)) = (p.feed, ev.comment_id) {
            entries.push((id, ev.at, published));
            let site = ThreadKey::site_wide(&ev.site);
            if !entry_sites.contains(&site) {
                entry_sites.push(site);
            }
        }
        for m in &p.moderator_mail {
            m.enqueue(c, mail::NEW_COMMENT_KIND, p.about.as_deref(), now)?;
        }
        if let (true, Some(id)) = (p.mail, ev.comment_id) {
            approved.push((id, ev.at));
        }
        let id = message_id(ev.id);
        for d in &p.deliveries {
            c.insert_delivery(&NewDelivery {
                event_id: Some(ev.id),
                message_id: &id,
                site: &ev.site,
                endpoint: &d.endpoint,
                kind: &ev.kind,
                format: d.format,
                body: &d.body,
                created_at: now,
                next_attempt_at: now,
            })?;
        }
    }
    // The feeds' record in one statement; the sites of the batch's entries changed if
    // any row was written (a comment gone meanwhile writes none).
    let feeds = if c.record_feed_entries(&entries)? > 0 {
        entry_sites
    } else {
        Vec::new()
    };
    crate::email::replies::comments_approved(c, &approved)?;
    Ok((taken, feeds))
}

/// Runs the dispatcher until `stop`.
pub struct Dispatcher {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub key: ServerKey,
    /// When email is on: the moderators' mail is made here.
    pub mailer: Option<Arc<Mailer>>,
    pub stop: Stop,
}

impl Dispatcher {
    pub fn start(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("afterword-events".into())
            .spawn(move || self.run())
    }

    fn run(self) {
        super::background_priority();
        let rt = match super::runtime() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "events: cannot start the dispatcher");
                return;
            }
        };
        let mut pruned: Option<Instant> = None;
        while !self.stop.stopped() {
            if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                self.prune();
                pruned = Some(Instant::now());
            }
            match self.round(&rt) {
                // A full batch means more wait: go on at once. Otherwise let some gather
                // (fewer, larger transactions beside the comments' writes).
                Ok(n) if n < BATCH as usize => self.sleep(self.settings.events.interval),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "events: cannot dispatch; trying again");
                    self.sleep((self.settings.events.interval * 10).min(Duration::from_secs(5)));
                }
            }
        }
    }

    /// Prepares pending events on a read connection, then hands them over in one write.
    /// Returns how many were pending.
    fn round(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<usize> {
        let now = crate::view::now_micros();
        let prepared = {
            let mut conn = self.pool.get()?;
            let mailer = self.mailer.as_deref();
            with_conn!(conn, |c| prepare(
                c,
                &self.settings,
                &self.key,
                mailer,
                now,
                BATCH
            ))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
        };
        let pending = prepared.len();
        if pending == 0 {
            return Ok(0);
        }
        rt.block_on(self.pool.write_changing(None, move |conn| {
            let now = crate::view::now_micros();
            on_conn!(conn, |c| hand_over(c, &prepared, now))
        }))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(pending)
    }

    fn prune(&self) {
        let before = crate::view::now_micros() - micros(KEEP);
        let pruned = self
            .pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| Ok(with_conn!(conn, |c| c.prune_events(before))?));
        match pruned {
            Ok((0, 0)) => {}
            Ok((events, deliveries)) => {
                tracing::info!(
                    events,
                    deliveries,
                    "events: pruned old events and deliveries"
                )
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "events: cannot prune"),
        }
    }

    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stop.stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50).min(d));
        }
    }
}

/// Starts the dispatcher and one delivery worker per webhook endpoint.
pub fn start(
    settings: &Arc<Settings>,
    pool: &Pool,
    key: &ServerKey,
    mailer: Option<Arc<Mailer>>,
    stop: &Stop,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut threads = vec![Dispatcher {
        pool: pool.clone(),
        settings: Arc::clone(settings),
        key: key.clone(),
        mailer,
        stop: stop.clone(),
    }
    .start()?];
    let mut endpoints: Vec<&str> = settings
        .sites
        .values()
        .flat_map(|s| s.webhooks.iter().map(|w| w.url.as_str()))
        .collect();
    endpoints.sort_unstable();
    endpoints.dedup();
    if endpoints.is_empty() {
        return Ok(threads);
    }
    let user_agent = format!(
        "Afterword/{} (webhooks; +https://www.standardwebhooks.com)",
        env!("CARGO_PKG_VERSION")
    );
    // Its HTTP client is made by the first worker to send, on that worker's (background
    // priority) thread, so the client's own thread inherits the priority; the workers'
    // clones are the last ones dropped, on their threads, not on an async runtime's.
    let outbound = crate::outbound::Outbound::new(settings.outbound.clone(), &user_agent);
    for endpoint in endpoints {
        threads.push(
            super::delivery::EndpointWorker {
                pool: pool.clone(),
                settings: Arc::clone(settings),
                outbound: outbound.clone(),
                endpoint: endpoint.to_owned(),
                stop: stop.clone(),
            }
            .start()?,
        );
    }
    tracing::info!(endpoints = threads.len() - 1, "webhooks are on");
    Ok(threads)
}
