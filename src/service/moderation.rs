//! What moderators do: approve, refuse, delete, restore and erase comments, edit them,
//! lock threads and fix their title and address, ban, and the audit log of all of it.
//!
//! The write functions run on the writer like the comment ones (one savepoint each) and
//! return the threads they changed, so the caches of every instance drop them at commit.

use serde::Serialize;
use utoipa::ToSchema;

use crate::cache::ThreadKey;
use crate::config::Settings;
use crate::db::models::{CommentPatch, ThreadRow};
use crate::db::moderation::{AuditRow, BanRow, CommentFilter, ModCommentRow, NewBan, ThreadRef};
use crate::db::Db;
use crate::domain::{CommentId, EventKind, PageUrl, Title};
use crate::error::ApiError;
use crate::view;

/// The most comments one bulk action takes.
pub const MAX_BULK: usize = 500;
/// Rows per page of the admin lists.
pub const PAGE: i64 = 50;

/// `deleted_by` values: who deleted a comment decides whether it can come back.
const BY_MODERATOR: &str = "moderator";
const ERASED: &str = "erased";

pub use crate::domain::Action;

/// A comment as moderators see it: with the email and a keyed hash of the address.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminComment {
    pub id: i64,
    pub site: String,
    pub slug: String,
    pub thread_title: Option<String>,
    /// Where the comment is on the blog, when the thread's address is known.
    pub link: Option<String>,
    pub parent_id: Option<i64>,
    /// `approved`, `pending`, `spam` or `deleted`.
    pub status: String,
    pub author: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    /// The Markdown as written.
    pub body: String,
    pub html: String,
    /// A keyed hash of the client's address: equal for equal addresses, nothing more.
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    /// `author`, `moderator` or `erased` for deleted comments.
    pub deleted_by: Option<String>,
    /// Where it was written when not here (Mastodon, Bluesky, a webmention).
    pub origin: Option<view::Origin>,
}

pub use crate::view::thread_link;

fn admin_comment(settings: &Settings, row: ModCommentRow, thread: ThreadRef) -> AdminComment {
    let (site, slug, title, url) = thread;
    let site_settings = crate::domain::SiteId::parse(&site)
        .ok()
        .and_then(|id| settings.site(&id));
    let link = thread_link(site_settings, &slug, url.as_deref()).map(|l| {
        format!(
            "{}#afterword-comment-{}",
            l.split('#').next().unwrap_or(&l),
            row.id
        )
    });
    AdminComment {
        id: row.id,
        site,
        slug,
        thread_title: title,
        link,
        parent_id: row.parent_id,
        status: row.status,
        author: row.author,
        email: row.email,
        website: row.website,
        body: row.body,
        html: row.html,
        // Stored as the keyed hash already.
        ip_hash: row.ip,
        user_agent: row.user_agent,
        created_at: view::rfc3339(row.created_at),
        edited_at: row.edited_at.map(view::rfc3339),
        deleted_by: row.deleted_by,
        origin: row
            .origin
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok()),
    }
}

/// A page of comments for moderators, newest first; `next` continues it.
pub fn list_comments<C: Db>(
    c: &mut C,
    settings: &Settings,
    filter: &CommentFilter,
) -> Result<(Vec<AdminComment>, Option<i64>), ApiError> {
    let mut rows = c.mod_comments(filter, PAGE + 1)?;
    let next = if rows.len() > PAGE as usize {
        rows.truncate(PAGE as usize);
        rows.last().map(|(r, _)| r.id)
    } else {
        None
    };
    Ok((
        rows.into_iter()
            .map(|(r, t)| admin_comment(settings, r, t))
            .collect(),
        next,
    ))
}

/// One comment for moderators.
pub fn get_comment<C: Db>(
    c: &mut C,
    settings: &Settings,
    id: CommentId,
) -> Result<AdminComment, ApiError> {
    let row = c
        .mod_comment(id.0)?
        .ok_or_else(ApiError::comment_not_found)?;
    let t = c.thread_by_id(row.thread_id)?;
    Ok(admin_comment(
        settings,
        row,
        (t.site, t.slug, t.title, t.url),
    ))
}

fn key_of(t: &ThreadRow) -> ThreadKey {
    ThreadKey {
        site: t.site.clone(),
        slug: t.slug.clone(),
    }
}

/// What became of a comment a moderator acted on.
#[derive(Debug, Serialize, ToSchema)]
pub struct Acted {
    pub id: i64,
    /// Its status now; `null` when it was deleted for good and nothing of it is left.
    pub status: Option<String>,
}

/// Applies `action` to one comment. The comment's thread count follows its status.
pub fn act<C: Db>(
    c: &mut C,
    moderator: &str,
    id: CommentId,
    action: Action,
) -> Result<(Acted, ThreadKey), ApiError> {
    let row = c
        .mod_comment(id.0)?
        .ok_or_else(ApiError::comment_not_found)?;
    let thread = c.thread_by_id(row.thread_id)?;
    let now = view::now_micros();
    let from = row.status.as_str();
    let was_approved = from == "approved";
    let restorable = from != "deleted" || row.deleted_by.as_deref() == Some(BY_MODERATOR);
    let erased = || {
        ApiError::conflict(
            "comment_erased",
            "This comment was deleted by its author or erased: there is nothing to bring back.",
        )
    };
    let to: Option<&str> = match action {
        Action::Approve | Action::Restore => {
            if !restorable {
                return Err(erased());
            }
            c.set_comment_status(row.id, "approved", None, now)?;
            Some("approved")
        }
        Action::Spam => {
            if !restorable {
                return Err(erased());
            }
            c.set_comment_status(row.id, "spam", None, now)?;
            Some("spam")
        }
        Action::Delete => {
            if from == "deleted" {
                Some("deleted")
            } else {
                c.set_comment_status(row.id, "deleted", Some(BY_MODERATOR), now)?;
                Some("deleted")
            }
        }
        Action::Purge => {
            let purged = if c.has_replies(row.id)? {
                // Replies hang under it: keep an empty placeholder.
                c.scrub_comment(row.id, now, ERASED)?;
                Some("deleted")
            } else {
                c.purge_comment(row.id)?;
                None
            };
            // What earlier events said of it (its text, its author) goes too.
            c.forget_comment_events(row.id)?;
            purged
        }
    };
    let now_approved = to == Some("approved");
    if was_approved != now_approved {
        c.add_comment_count(thread.id, if now_approved { 1 } else { -1 })?;
    }
    // Reply mail, webhooks and the like follow from the event (see `crate::events`): the
    // `from` status tells a comment seen for the first time from one brought back.
    let kind = match to {
        Some("approved") if from != "approved" => Some(EventKind::CommentApproved),
        Some("spam") if from != "spam" => Some(EventKind::CommentSpam),
        Some("deleted") if from != "deleted" => Some(EventKind::CommentDeleted),
        None => Some(EventKind::CommentDeleted),
        _ => None,
    };
    if let Some(kind) = kind {
        super::events::record(
            c,
            kind,
            &thread.site,
            Some(thread.id),
            Some(row.id),
            &serde_json::json!({ "by": "moderator", "from": from, "status": to }),
            now,
        )?;
    }
    let detail = format!("{from} → {}", to.unwrap_or("gone"));
    super::events::audit(
        c,
        moderator,
        action.as_str(),
        Some(row.id),
        Some(thread.id),
        Some(&detail),
    )?;
    Ok((
        Acted {
            id: row.id,
            status: to.map(str::to_owned),
        },
        key_of(&thread),
    ))
}

/// The outcome for one comment of a bulk action.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItem {
    pub id: i64,
    /// Its status now (`null` if deleted for good), when the action applied.
    pub status: Option<String>,
    /// Why it did not apply (`comment_not_found`, `comment_erased`).
    pub error: Option<String>,
}

/// Applies one action to many comments in one transaction, oldest first (a parent before
/// its replies). A comment that cannot take it is reported and the others go on.
pub fn bulk<C: Db>(
    c: &mut C,
    moderator: &str,
    ids: &[CommentId],
    action: Action,
) -> Result<(Vec<BulkItem>, Vec<ThreadKey>), ApiError> {
    let mut ids: Vec<CommentId> = ids.to_vec();
    ids.sort_by_key(|i| i.0);
    ids.dedup();
    let mut items = Vec::with_capacity(ids.len());
    let mut changed: Vec<ThreadKey> = Vec::new();
    for id in ids {
        match act(c, moderator, id, action) {
            Ok((acted, thread)) => {
                if !changed.contains(&thread) {
                    changed.push(thread);
                }
                items.push(BulkItem {
                    id: acted.id,
                    status: acted.status,
                    error: None,
                });
            }
            Err(e) if e.status.is_client_error() => items.push(BulkItem {
                id: id.0,
                status: None,
                error: Some(e.code.to_owned()),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok((items, changed))
}

/// A moderator's edit of a comment's text (re-rendered by the caller).
pub fn edit<C: Db>(
    c: &mut C,
    settings: &Settings,
    moderator: &str,
    id: CommentId,
    body: &str,
    html: &str,
) -> Result<(AdminComment, ThreadKey), ApiError> {
    let row = c
        .mod_comment(id.0)?
        .ok_or_else(ApiError::comment_not_found)?;
    if row.status == "deleted" {
        return Err(ApiError::conflict(
            "comment_deleted",
            "A deleted comment cannot be edited; restore it first.",
        ));
    }
    let thread = c.thread_by_id(row.thread_id)?;
    c.update_comment(
        row.id,
        &CommentPatch {
            body,
            html,
            edited_at: Some(view::now_micros()),
        },
    )?;
    super::events::audit(c, moderator, "edit", Some(row.id), Some(thread.id), None)?;
    super::events::record(
        c,
        EventKind::CommentEdited,
        &thread.site,
        Some(thread.id),
        Some(row.id),
        &serde_json::json!({ "by": "moderator", "status": row.status }),
        view::now_micros(),
    )?;
    let updated = get_comment(c, settings, id)?;
    Ok((updated, key_of(&thread)))
}

/// A thread as moderators see it: with its comments by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminThread {
    pub id: i64,
    pub site: String,
    pub slug: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub link: Option<String>,
    pub locked: bool,
    pub approved: i64,
    pub pending: i64,
    pub spam: i64,
    pub deleted: i64,
    pub created_at: String,
    /// The post elsewhere the thread is linked to, and how polling it goes.
    pub fediverse: Option<crate::domain::remote::LinkedPost>,
}

fn admin_thread(
    settings: &Settings,
    t: ThreadRow,
    counts: &[(i64, String, i64)],
    remote: Option<crate::db::federation::RemotePostRow>,
) -> AdminThread {
    let n = |status: &str| {
        counts
            .iter()
            .find(|(id, s, _)| *id == t.id && s == status)
            .map_or(0, |(_, _, n)| *n)
    };
    let site = crate::domain::SiteId::parse(&t.site)
        .ok()
        .and_then(|id| settings.site(&id));
    AdminThread {
        id: t.id,
        link: thread_link(site, &t.slug, t.url.as_deref()),
        approved: n("approved"),
        pending: n("pending"),
        spam: n("spam"),
        deleted: n("deleted"),
        created_at: view::rfc3339(t.created_at),
        fediverse: remote.map(linked_post),
        site: t.site,
        slug: t.slug,
        title: t.title,
        url: t.url,
        locked: t.locked,
    }
}

/// A thread's link elsewhere as moderators see it.
fn linked_post(r: crate::db::federation::RemotePostRow) -> crate::domain::remote::LinkedPost {
    crate::domain::remote::LinkedPost {
        kind: r.kind,
        url: r.url,
        likes: r.likes,
        reposts: r.reposts,
        polled_at: r.polled_at.map(view::rfc3339),
        next_poll_at: view::rfc3339(r.next_poll_at),
        failures: r.failures,
        last_error: r.last_error,
    }
}

/// Threads, newest first, with their comments by status.
pub fn list_threads<C: Db>(
    c: &mut C,
    settings: &Settings,
    site: Option<&str>,
    text: Option<&str>,
    before: Option<i64>,
) -> Result<(Vec<AdminThread>, Option<i64>), ApiError> {
    let mut rows = c.mod_threads(site, text, before, PAGE + 1)?;
    let next = if rows.len() > PAGE as usize {
        rows.truncate(PAGE as usize);
        rows.last().map(|t| t.id)
    } else {
        None
    };
    let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let counts = c.status_counts(&ids)?;
    let mut threads = Vec::with_capacity(rows.len());
    for t in rows {
        let remote = c.remote_post(t.id)?;
        threads.push(admin_thread(settings, t, &counts, remote));
    }
    Ok((threads, next))
}

fn no_thread() -> ApiError {
    ApiError::not_found("thread_not_found", "There is no thread with this id.")
}

fn thread_row<C: Db>(c: &mut C, id: i64) -> Result<ThreadRow, ApiError> {
    match c.thread_by_id(id) {
        Ok(t) => Ok(t),
        Err(diesel::result::Error::NotFound) => Err(no_thread()),
        Err(e) => Err(e.into()),
    }
}

/// Locks a thread (no new comments, reactions or author edits) or unlocks it.
pub fn set_locked<C: Db>(
    c: &mut C,
    settings: &Settings,
    moderator: &str,
    thread_id: i64,
    locked: bool,
) -> Result<(AdminThread, ThreadKey), ApiError> {
    let t = thread_row(c, thread_id)?;
    c.set_locked(t.id, locked)?;
    let action = if locked { "lock" } else { "unlock" };
    super::events::audit(c, moderator, action, None, Some(t.id), None)?;
    let t = thread_row(c, thread_id)?;
    let counts = c.status_counts(&[t.id])?;
    let key = key_of(&t);
    let remote = c.remote_post(t.id)?;
    Ok((admin_thread(settings, t, &counts, remote), key))
}

/// Sets a thread's title and address; the address must be on one of the site's origins.
pub fn set_thread_meta<C: Db>(
    c: &mut C,
    settings: &Settings,
    moderator: &str,
    thread_id: i64,
    title: Option<&Title>,
    url: Option<&PageUrl>,
) -> Result<(AdminThread, ThreadKey), ApiError> {
    let t = thread_row(c, thread_id)?;
    if let Some(u) = url {
        let site = crate::domain::SiteId::parse(&t.site)
            .ok()
            .and_then(|id| settings.site(&id));
        if !site.is_some_and(|s| s.origins.allows_url(u.as_str())) {
            return Err(url_not_on_site());
        }
    }
    c.set_thread_meta(t.id, title.map(Title::as_str), url.map(PageUrl::as_str))?;
    let detail = format!(
        "title: {}; url: {}",
        title.map_or("(none)", Title::as_str),
        url.map_or("(none)", PageUrl::as_str)
    );
    super::events::audit(c, moderator, "edit_thread", None, Some(t.id), Some(&detail))?;
    let t = thread_row(c, thread_id)?;
    let counts = c.status_counts(&[t.id])?;
    let key = key_of(&t);
    let remote = c.remote_post(t.id)?;
    Ok((admin_thread(settings, t, &counts, remote), key))
}

/// A thread as moderators see it, unchanged.
pub fn thread_meta<C: Db>(
    c: &mut C,
    settings: &Settings,
    thread_id: i64,
) -> Result<(AdminThread, ThreadKey), ApiError> {
    let t = thread_row(c, thread_id)?;
    let counts = c.status_counts(&[t.id])?;
    let key = key_of(&t);
    let remote = c.remote_post(t.id)?;
    Ok((admin_thread(settings, t, &counts, remote), key))
}

pub fn url_not_on_site() -> ApiError {
    ApiError::unprocessable(
        "url_not_on_site",
        "url must be an address on one of the site's origins.",
    )
    .with_field("url")
}

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub moderator: String,
    pub action: String,
    pub comment_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub detail: Option<String>,
}

pub fn audit_log<C: Db>(
    c: &mut C,
    before: Option<i64>,
) -> Result<(Vec<AuditEntry>, Option<i64>), ApiError> {
    let mut rows: Vec<AuditRow> = c.audit_page(before, PAGE + 1)?;
    let next = if rows.len() > PAGE as usize {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((
        rows.into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: view::rfc3339(r.at),
                moderator: r.moderator,
                action: r.action,
                comment_id: r.comment_id,
                thread_id: r.thread_id,
                detail: r.detail,
            })
            .collect(),
        next,
    ))
}

/// A ban as moderators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ban {
    pub id: i64,
    /// `email` or `ip`.
    pub kind: String,
    /// The email address, or the keyed hash of the IP address.
    pub value: String,
    /// `null`: every site.
    pub site: Option<String>,
    /// `refuse` (answered 403) or `hold` (kept for moderation).
    pub action: String,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

fn ban_json(b: BanRow) -> Ban {
    Ban {
        id: b.id,
        kind: b.kind,
        value: b.value,
        site: b.site,
        action: b.action,
        reason: b.reason,
        created_by: b.created_by,
        created_at: view::rfc3339(b.created_at),
        expires_at: b.expires_at.map(view::rfc3339),
    }
}

pub fn bans<C: Db>(c: &mut C) -> Result<Vec<Ban>, ApiError> {
    Ok(c.bans()?.into_iter().map(ban_json).collect())
}

/// What a new ban is on: an email address or IP hash given outright, or taken from a
/// comment.
pub enum BanTarget {
    Email(String),
    IpHash(String),
    CommentEmail(CommentId),
    CommentIp(CommentId),
}

pub struct NewBanInput {
    pub target: BanTarget,
    pub site: Option<String>,
    pub hold: bool,
    pub reason: Option<String>,
    pub expires_at: Option<i64>,
}

pub fn add_ban<C: Db>(c: &mut C, moderator: &str, input: &NewBanInput) -> Result<Ban, ApiError> {
    let from_comment =
        |c: &mut C, id: CommentId| c.mod_comment(id.0)?.ok_or_else(ApiError::comment_not_found);
    let (kind, value, comment_id) = match &input.target {
        BanTarget::Email(e) => ("email", e.to_lowercase(), None),
        BanTarget::IpHash(h) => ("ip", h.clone(), None),
        BanTarget::CommentEmail(id) => {
            let row = from_comment(c, *id)?;
            let email = row.email.ok_or_else(|| {
                ApiError::unprocessable("no_email", "This comment has no email address to ban.")
                    .with_field("comment_id")
            })?;
            ("email", email.to_lowercase(), Some(row.id))
        }
        BanTarget::CommentIp(id) => {
            let row = from_comment(c, *id)?;
            let ip = row.ip.ok_or_else(|| {
                ApiError::unprocessable("no_ip", "This comment has no address recorded to ban.")
                    .with_field("comment_id")
            })?;
            ("ip", ip, Some(row.id))
        }
    };
    let row = c
        .insert_ban(&NewBan {
            kind,
            value: &value,
            site: input.site.as_deref(),
            action: if input.hold { "hold" } else { "refuse" },
            reason: input.reason.as_deref(),
            created_by: moderator,
            created_at: view::now_micros(),
            expires_at: input.expires_at,
        })
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ApiError::conflict("already_banned", "This is already banned on this site."),
            other => other.into(),
        })?;
    let detail = format!(
        "{} {} on {}",
        row.action,
        row.kind,
        row.site.as_deref().unwrap_or("every site")
    );
    super::events::audit(c, moderator, "ban", comment_id, None, Some(&detail))?;
    Ok(ban_json(row))
}

pub fn remove_ban<C: Db>(c: &mut C, moderator: &str, id: i64) -> Result<(), ApiError> {
    let row = c
        .delete_ban(id)?
        .ok_or_else(|| ApiError::not_found("ban_not_found", "There is no ban with this id."))?;
    let detail = format!(
        "{} {}",
        row.kind,
        row.site.as_deref().unwrap_or("every site")
    );
    super::events::audit(c, moderator, "unban", None, None, Some(&detail))?;
    Ok(())
}
