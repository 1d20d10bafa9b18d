//! Replies from elsewhere, as comments: linking a thread to its announcement, and storing
//! what a poll of it found, moderated like comments written here.
//!
//! Runs on the writer, like every write (see `service::comments`).

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::cache::ThreadKey;
use crate::config::{Moderation, SiteSettings};
use crate::db::federation::{NewRemoteComment, NewRemotePost, PollOutcome, RemotePostRow};
use crate::db::Db;
use crate::domain::{CommentStatus, EventKind, RemotePost};
use crate::error::ApiError;
use crate::security::ServerKey;
use crate::view::{self, Origin};

/// Links a thread to its announcement (the first poll is due at once) or, with `None`,
/// unlinks it. The replies already stored stay.
pub fn link_thread<C: Db>(
    c: &mut C,
    moderator: &str,
    thread_id: i64,
    post: Option<&RemotePost>,
    now: i64,
) -> Result<(), ApiError> {
    match c.thread_by_id(thread_id) {
        Ok(_) => {}
        Err(diesel::result::Error::NotFound) => {
            return Err(ApiError::not_found(
                "thread_not_found",
                "There is no thread with this id.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let same = c
        .remote_post(thread_id)?
        .is_some_and(|r| post.is_some_and(|p| p.url == r.url));
    if same {
        return Ok(());
    }
    let new = post.map(|p| NewRemotePost {
        thread_id,
        kind: p.kind.as_str(),
        url: &p.url,
        api_base: &p.api_base,
        remote_id: &p.remote_id,
        linked_at: now,
        next_poll_at: now,
        failures: 0,
        likes: 0,
        reposts: 0,
    });
    c.set_remote_post(thread_id, new.as_ref())?;
    let detail = format!(
        "fediverse_url: {}",
        post.map_or("(none)", |p| p.url.as_str())
    );
    super::events::audit(
        c,
        moderator,
        "link_thread",
        None,
        Some(thread_id),
        Some(&detail),
    )?;
    Ok(())
}

/// Links the thread of `slug` (made if need be) to `post`, found on one of the site's own
/// accounts, unless it is linked already. True when it linked it.
pub fn link_if_unlinked<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    slug: &crate::domain::Slug,
    post: &RemotePost,
    now: i64,
) -> Result<bool, ApiError> {
    let thread = c.upsert_thread(
        &crate::db::models::NewThread {
            site: site.id.as_str(),
            slug: slug.as_str(),
            title: None,
            url: None,
            locked: false,
            comment_count: 0,
            created_at: now,
        },
        0,
    )?;
    if c.remote_post(thread.id)?.is_some() {
        return Ok(false);
    }
    link_thread(c, AUTO_LINKER, thread.id, Some(post), now)?;
    Ok(true)
}

/// Who the audit log says linked a thread found on the site's own accounts.
pub const AUTO_LINKER: &str = "fediverse_accounts";

/// One reply found elsewhere, ready to be stored.
#[derive(Debug, Clone)]
pub struct RemoteReply {
    /// Unique within the thread (`source_key`): the kind, the announcement, the reply.
    pub key: String,
    /// The key of the reply it answers; `None` when it answers the announcement.
    pub parent_key: Option<String>,
    /// Who wrote it, for first-time moderation and bans (`mastodon:ann@example.social`).
    pub account: String,
    /// Their instance or domain, for domain bans.
    pub domain: String,
    pub author: Option<String>,
    /// Sanitized as a comment's HTML, and the Markdown it stands for.
    pub body: String,
    pub html: String,
    pub origin: Origin,
    pub created_at: i64,
    pub edited_at: Option<i64>,
}

/// What one poll of a linked post found.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The remote id, resolved (a Bluesky handle becomes a DID).
    pub remote_id: String,
    /// Parents before their replies.
    pub replies: Vec<RemoteReply>,
    /// Stored replies whose absence is known to be a deletion.
    pub gone: Vec<String>,
    /// Every reply there is was fetched: a stored one missing from `replies` was deleted.
    pub complete: bool,
    /// The prefix of the keys of this post's replies.
    pub prefix: String,
    pub likes: i64,
    pub reposts: i64,
    /// When the announcement was posted, if it says: polls thin out as it ages.
    pub posted_at: Option<i64>,
}

/// What a poll changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub added: usize,
    pub held: usize,
    pub edited: usize,
    pub deleted: usize,
}

/// The status a reply from elsewhere gets: the site's moderation mode, keyed on the remote
/// account (first-time holds an account's first reply), and its bans. `None`: refused.
fn status_for<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    account: &str,
    domain: &str,
) -> Result<Option<CommentStatus>, ApiError> {
    let ban = c.remote_ban_action(site.id.as_str(), account, domain)?;
    Ok(match (ban.as_deref(), site.moderation) {
        (Some("refuse"), _) => None,
        (Some(_), _) => Some(CommentStatus::Pending),
        (None, Moderation::None) => Some(CommentStatus::Approved),
        (None, Moderation::All) => Some(CommentStatus::Pending),
        (None, Moderation::FirstTime) => {
            Some(if c.remote_account_known(site.id.as_str(), account)? {
                CommentStatus::Approved
            } else {
                CommentStatus::Pending
            })
        }
    })
}

/// Adds a reply from elsewhere as a comment of the thread, and records its
/// `comment.created` event (with where it was written, `origin`): the moderators' mail,
/// reply mail and webhooks follow from it as for any comment (see `crate::events`).
/// Returns its id and whether it is published, or `None` when a ban refuses it.
pub fn add_reply<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    key: &ServerKey,
    thread_id: i64,
    reply: &RemoteReply,
    parent: Option<(i64, Option<i64>)>,
) -> Result<Option<(i64, bool)>, ApiError> {
    let Some(status) = status_for(c, site, &reply.account, &reply.domain)? else {
        return Ok(None);
    };
    let origin = serde_json::to_string(&reply.origin)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("origin: {e}")))?;
    let avatar = key.avatar(&format!("remote:{}", reply.account));
    let row = c.insert_remote_comment(&NewRemoteComment {
        thread_id,
        parent_id: parent.map(|(id, _)| id),
        root_id: parent.map(|(id, root)| root.unwrap_or(id)),
        status: status.as_str(),
        body: &reply.body,
        html: &reply.html,
        author: reply.author.as_deref(),
        website: reply.origin.author_url.as_deref(),
        avatar: &avatar,
        notify_replies: false,
        created_at: reply.created_at,
        edited_at: reply.edited_at,
        source_key: &reply.key,
        origin: &origin,
        remote_account: &reply.account,
    })?;
    let approved = status == CommentStatus::Approved;
    let now = view::now_micros();
    if approved {
        c.add_comment_count(thread_id, 1)?;
    }
    let origin = serde_json::to_value(&reply.origin)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("origin: {e}")))?;
    super::events::record(
        c,
        EventKind::CommentCreated,
        site.id.as_str(),
        Some(thread_id),
        Some(row.id),
        &serde_json::json!({ "status": status.as_str(), "origin": origin }),
        now,
    )?;
    Ok(Some((row.id, approved)))
}

/// Removes a comment from elsewhere whose original was deleted: a placeholder stays if it
/// has replies, as for an author's own delete. Its source key stays, so it never returns.
pub fn remove_reply<C: Db>(
    c: &mut C,
    thread_id: i64,
    id: i64,
    status: &str,
    now: i64,
) -> Result<(), ApiError> {
    if status == CommentStatus::Approved.as_str() {
        c.add_comment_count(thread_id, -1)?;
    }
    c.scrub_comment(id, now, "author")?;
    c.forget_origin(id)?;
    // Its text is gone: so is what earlier events said of it (as for an author's delete).
    c.forget_comment_events(id)?;
    let detail = serde_json::json!({ "by": "author", "from": status });
    record_change(c, EventKind::CommentDeleted, thread_id, id, &detail, now)
}

/// Records a change to a comment from elsewhere (an edit, a deletion there) in the
/// event stream, as the same change made here is.
fn record_change<C: Db>(
    c: &mut C,
    kind: EventKind,
    thread_id: i64,
    id: i64,
    detail: &serde_json::Value,
    now: i64,
) -> Result<(), ApiError> {
    let site = c.thread_by_id(thread_id)?.site;
    super::events::record(c, kind, &site, Some(thread_id), Some(id), detail, now)
}

/// Stores what a poll found: new replies (moderated), edits, deletions, the counts of the
/// announcement, and when to poll next. Only while this poller still holds the claim.
#[allow(clippy::too_many_arguments)]
pub fn apply_poll<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    key: &ServerKey,
    me: &str,
    post: &RemotePostRow,
    fetched: &Fetched,
    next_poll_at: i64,
    now: i64,
) -> Result<Applied, ApiError> {
    let mut applied = Applied::default();
    let thread = c.thread_by_id(post.thread_id)?;
    let outcome = PollOutcome {
        remote_id: &fetched.remote_id,
        next_poll_at,
        polled_at: Some(now),
        failures: 0,
        last_error: None,
        likes: fetched.likes,
        reposts: fetched.reposts,
        claimed_by: None,
        lease_until: None,
    };
    // Unlinked, relinked or taken over meanwhile: what was fetched is not ours to store.
    match c.remote_post(post.thread_id)? {
        Some(now_row) if now_row.url == post.url => {}
        _ => return Ok(applied),
    }
    if !c.finish_poll(post.thread_id, me, &outcome)? {
        return Ok(applied);
    }
    let stored = c.remote_comments(post.thread_id, &fetched.prefix)?;
    // key -> (id, root_id, status, body)
    let mut known: HashMap<String, (i64, Option<i64>, String, String)> = stored
        .into_iter()
        .filter_map(|r| {
            let k = r.source_key?;
            Some((k, (r.id, r.root_id, r.status, r.body)))
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for reply in &fetched.replies {
        seen.insert(reply.key.clone());
        if let Some((id, _, status, body)) = known.get(&reply.key) {
            if status != CommentStatus::Deleted.as_str() && *body != reply.body {
                let origin = serde_json::to_string(&reply.origin)
                    .map_err(|e| ApiError::internal(anyhow::anyhow!("origin: {e}")))?;
                c.update_remote_comment(
                    *id,
                    &reply.body,
                    &reply.html,
                    &origin,
                    Some(reply.edited_at.unwrap_or(now)),
                )?;
                let detail = serde_json::json!({ "by": "author", "status": status });
                record_change(
                    c,
                    EventKind::CommentEdited,
                    post.thread_id,
                    *id,
                    &detail,
                    now,
                )?;
                applied.edited += 1;
            }
            continue;
        }
        // A locked thread takes no new comments, from here or from elsewhere; a reply a
        // moderator deleted for good stays deleted.
        if thread.locked || c.is_tombstoned(site.id.as_str(), &reply.key)? {
            continue;
        }
        let parent = reply
            .parent_key
            .as_ref()
            .and_then(|k| known.get(k))
            .filter(|(_, _, status, _)| status != CommentStatus::Deleted.as_str())
            .map(|(id, root, _, _)| (*id, *root));
        if let Some((id, approved)) = add_reply(c, site, key, post.thread_id, reply, parent)? {
            if approved {
                applied.added += 1;
            } else {
                applied.held += 1;
            }
            let root = parent.map(|(pid, root)| root.unwrap_or(pid));
            let status = if approved { "approved" } else { "pending" };
            known.insert(
                reply.key.clone(),
                (id, root, status.to_owned(), reply.body.clone()),
            );
        }
    }
    for (k, (id, _, status, _)) in &known {
        if status == CommentStatus::Deleted.as_str() || seen.contains(k) {
            continue;
        }
        if fetched.complete || fetched.gone.contains(k) {
            remove_reply(c, post.thread_id, *id, status, now)?;
            applied.deleted += 1;
        }
    }
    Ok(applied)
}

/// The thread's key, for the cache.
pub fn thread_key<C: Db>(c: &mut C, thread_id: i64) -> Result<ThreadKey, ApiError> {
    let t = c.thread_by_id(thread_id)?;
    Ok(ThreadKey {
        site: t.site,
        slug: t.slug,
    })
}

/// The public `elsewhere` of a thread: its announcement and its webmentions' counts.
pub fn elsewhere<C: crate::db::FederationStore>(
    c: &mut C,
    thread_id: i64,
) -> Result<Option<view::Elsewhere>, ApiError> {
    let announcement = c.remote_post(thread_id)?.map(|r| view::Announcement {
        kind: r.kind,
        url: r.url,
        likes: r.likes,
        reposts: r.reposts,
    });
    let webmentions: std::collections::BTreeMap<String, i64> =
        c.webmention_counts(thread_id)?.into_iter().collect();
    if announcement.is_none() && webmentions.is_empty() {
        return Ok(None);
    }
    Ok(Some(view::Elsewhere {
        announcement,
        webmentions,
    }))
}

/// A webmention whose source was fetched and read.
#[derive(Debug, Clone)]
pub struct VerifiedMention {
    /// `reply`, `like`, `repost`, `bookmark` or `mention`.
    pub kind: &'static str,
    pub source: String,
    /// The source's host: the "account" moderation and bans key on, and its label.
    pub host: String,
    pub author_name: Option<String>,
    pub author_url: Option<String>,
    /// For a reply: its Markdown and sanitized HTML.
    pub body: String,
    pub html: String,
    pub published: Option<i64>,
}

fn webmention_key(source: &str) -> String {
    format!("webmention:{source}")
}

/// The live comment a webmention made, if any: `(id, status, body)`.
fn mention_comment<C: Db>(
    c: &mut C,
    thread_id: i64,
    source: &str,
) -> Result<Option<(i64, String, String)>, ApiError> {
    let key = webmention_key(source);
    Ok(c.remote_comments(thread_id, &key)?
        .into_iter()
        .find(|r| r.source_key.as_deref() == Some(key.as_str()))
        .map(|r| (r.id, r.status, r.body)))
}

/// Stores a verified webmention: a reply becomes (or updates) a comment of the target's
/// thread, moderated; a like, repost or bookmark is counted (and a reply it was before is
/// removed). Only while this worker still holds the claim.
#[allow(clippy::too_many_arguments)]
pub fn accept_webmention<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    key: &ServerKey,
    me: &str,
    row: &crate::db::federation::WebmentionRow,
    slug: &crate::domain::Slug,
    m: &VerifiedMention,
    now: i64,
) -> Result<(), ApiError> {
    let thread = c.upsert_thread(
        &crate::db::models::NewThread {
            site: site.id.as_str(),
            slug: slug.as_str(),
            title: None,
            url: None,
            locked: false,
            comment_count: 0,
            created_at: now,
        },
        0,
    )?;
    let existing = mention_comment(c, thread.id, &m.source)?;
    let live = existing
        .as_ref()
        .filter(|(_, status, _)| status != CommentStatus::Deleted.as_str());
    let mut comment_id = live.map(|(id, _, _)| *id);
    if m.kind == "reply" {
        match live {
            Some((id, status, body)) => {
                if *body != m.body {
                    let origin = serde_json::to_string(&mention_origin(m))
                        .map_err(|e| ApiError::internal(anyhow::anyhow!("origin: {e}")))?;
                    c.update_remote_comment(*id, &m.body, &m.html, &origin, Some(now))?;
                    let detail = serde_json::json!({ "by": "author", "status": status });
                    record_change(c, EventKind::CommentEdited, thread.id, *id, &detail, now)?;
                }
            }
            // Removed before (by a moderator, or the source said 410): it stays removed.
            None if existing.is_some()
                || thread.locked
                || c.is_tombstoned(site.id.as_str(), &webmention_key(&m.source))? => {}
            None => {
                let reply = RemoteReply {
                    key: webmention_key(&m.source),
                    parent_key: None,
                    account: format!("web:{}", m.host),
                    domain: m.host.clone(),
                    author: Some(m.author_name.clone().unwrap_or_else(|| m.host.clone())),
                    body: m.body.clone(),
                    html: m.html.clone(),
                    origin: mention_origin(m),
                    created_at: m.published.unwrap_or(now),
                    edited_at: None,
                };
                comment_id = add_reply(c, site, key, thread.id, &reply, None)?.map(|(id, _)| id);
            }
        }
    } else if let Some((id, status, _)) = live {
        remove_reply(c, thread.id, *id, status, now)?;
        comment_id = None;
    }
    c.finish_webmention(
        row.id,
        me,
        &crate::db::federation::WebmentionOutcome {
            status: "accepted",
            kind: Some(m.kind),
            thread_id: Some(thread.id),
            comment_id,
            author_name: m.author_name.as_deref(),
            author_url: m.author_url.as_deref(),
            verified_at: Some(now),
            attempts: 0,
            next_attempt_at: i64::MAX,
            last_error: None,
            claimed_by: None,
            lease_until: None,
        },
    )?;
    Ok(())
}

fn mention_origin(m: &VerifiedMention) -> Origin {
    Origin {
        kind: "webmention".into(),
        label: m.host.clone(),
        handle: None,
        author_url: m.author_url.clone(),
        url: m.source.clone(),
        reply_url: None,
    }
}

/// Refuses a webmention (its source is gone, no longer links, or cannot be read): what it
/// made before is removed.
pub fn reject_webmention<C: Db>(
    c: &mut C,
    me: &str,
    row: &crate::db::federation::WebmentionRow,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    if let (Some(thread_id), Some(id)) = (row.thread_id, row.comment_id) {
        if let Some(status) = c.comment_status(id)? {
            if status != CommentStatus::Deleted.as_str() {
                remove_reply(c, thread_id, id, &status, now)?;
            }
        }
    }
    c.finish_webmention(
        row.id,
        me,
        &crate::db::federation::WebmentionOutcome {
            status: "rejected",
            kind: None,
            thread_id: row.thread_id,
            comment_id: None,
            author_name: None,
            author_url: None,
            verified_at: Some(now),
            attempts: row.attempts,
            next_attempt_at: i64::MAX,
            last_error: Some(reason),
            claimed_by: None,
            lease_until: None,
        },
    )?;
    Ok(())
}

/// A ban of a remote account or of a whole instance or domain, as moderators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemoteBan {
    pub id: i64,
    /// `account` (e.g. `mastodon:ann@example.social`, `bluesky:did:plc:...`,
    /// `web:example.org`) or `domain` (an instance or domain, its subdomains included).
    pub kind: String,
    pub value: String,
    /// `null`: every site.
    pub site: Option<String>,
    /// `refuse` (replies from it are not stored) or `hold` (held for moderation).
    pub action: String,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

impl From<crate::db::federation::RemoteBanRow> for RemoteBan {
    fn from(b: crate::db::federation::RemoteBanRow) -> Self {
        RemoteBan {
            id: b.id,
            kind: b.kind,
            value: b.value,
            site: b.site,
            action: b.action,
            reason: b.reason,
            created_by: b.created_by,
            created_at: view::rfc3339(b.created_at),
        }
    }
}

/// What a new remote ban is on: given outright, or the account of a comment from elsewhere.
pub enum RemoteBanTarget {
    Account(String),
    Domain(String),
    CommentAccount(i64),
    CommentDomain(i64),
}

pub struct NewRemoteBanInput {
    pub target: RemoteBanTarget,
    pub site: Option<String>,
    pub hold: bool,
    pub reason: Option<String>,
}

pub fn remote_bans<C: Db>(c: &mut C) -> Result<Vec<RemoteBan>, ApiError> {
    Ok(c.remote_bans()?.into_iter().map(RemoteBan::from).collect())
}

/// The domain part of a remote account: the instance of `mastodon:ann@example.social`,
/// the host of `web:example.org`; a Bluesky DID has none.
fn account_domain(account: &str) -> Option<String> {
    if let Some(acct) = account.strip_prefix("mastodon:") {
        return acct.rsplit_once('@').map(|(_, d)| d.to_owned());
    }
    account.strip_prefix("web:").map(str::to_owned)
}

pub fn add_remote_ban<C: Db>(
    c: &mut C,
    moderator: &str,
    input: &NewRemoteBanInput,
) -> Result<RemoteBan, ApiError> {
    let account_of = |c: &mut C, id: i64| -> Result<String, ApiError> {
        c.comment_remote_account(id)?
            .ok_or_else(ApiError::comment_not_found)?
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "not_from_elsewhere",
                    "This comment was written here: ban its email or address instead.",
                )
                .with_field("comment_id")
            })
    };
    let (kind, value) = match &input.target {
        RemoteBanTarget::Account(a) => ("account", a.clone()),
        RemoteBanTarget::Domain(d) => ("domain", d.clone()),
        RemoteBanTarget::CommentAccount(id) => ("account", account_of(c, *id)?),
        RemoteBanTarget::CommentDomain(id) => {
            let account = account_of(c, *id)?;
            let domain = account_domain(&account).ok_or_else(|| {
                ApiError::unprocessable(
                    "no_domain",
                    "This account has no domain of its own to ban (a Bluesky DID): ban the account.",
                )
                .with_field("comment_id")
            })?;
            ("domain", domain)
        }
    };
    let row = c
        .insert_remote_ban(&crate::db::federation::NewRemoteBan {
            kind,
            value: &value,
            site: input.site.as_deref(),
            action: if input.hold { "hold" } else { "refuse" },
            reason: input.reason.as_deref(),
            created_by: moderator,
            created_at: view::now_micros(),
        })
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ApiError::conflict("already_banned", "This is already banned on this site."),
            other => other.into(),
        })?;
    let detail = format!("{kind} {value} ({})", row.action);
    super::events::audit(c, moderator, "ban_remote", None, None, Some(&detail))?;
    Ok(row.into())
}

pub fn delete_remote_ban<C: Db>(c: &mut C, moderator: &str, id: i64) -> Result<(), ApiError> {
    if !c.delete_remote_ban(id)? {
        return Err(ApiError::not_found(
            "ban_not_found",
            "There is no remote ban with this id.",
        ));
    }
    super::events::audit(
        c,
        moderator,
        "unban_remote",
        None,
        None,
        Some(&id.to_string()),
    )?;
    Ok(())
}
