//! Recording what happened, in the change's own transaction: one row in `events` per
//! change (see `crate::events` for who consumes them: mail, webhooks), and one in the
//! audit log per moderation step. Every service records here; nothing here sends.

use crate::db::events::NewEvent;
use crate::db::moderation::NewAudit;
use crate::db::Db;
use crate::domain::EventKind;
use crate::error::ApiError;

/// The longest excerpt of a comment an event keeps, in characters.
const EXCERPT_CHARS: usize = 300;

/// Records `kind` on `site` (the thread and comment it is about, if any), with a small
/// JSON `detail` (`{}` if nothing more). The comment as it is now (its status, author,
/// the start of its text) goes with it under `comment`, so that what consumers say is
/// what happened, however late they read it. Never its author's address.
pub fn record<C: Db>(
    c: &mut C,
    kind: EventKind,
    site: &str,
    thread_id: Option<i64>,
    comment_id: Option<i64>,
    detail: &serde_json::Value,
    at: i64,
) -> Result<(), ApiError> {
    let row = match comment_id {
        Some(id) => c.mod_comment(id)?,
        None => None,
    };
    let about = comment_id.map(|id| About {
        id,
        status: row.as_ref().map_or("deleted", |r| r.status.as_str()),
        parent_id: row.as_ref().and_then(|r| r.parent_id),
        author: row.as_ref().and_then(|r| r.author.as_deref()),
        body: row.as_ref().map_or("", |r| r.body.as_str()),
        created_at: row.as_ref().map(|r| r.created_at),
    });
    record_about(c, kind, site, thread_id, about.as_ref(), detail, at)
}

/// The comment an event is about, as it is now: what `record` reads back, or what a
/// write that has just stored the comment already holds (`record_about`: one statement
/// fewer for every new comment).
pub struct About<'a> {
    pub id: i64,
    pub status: &'a str,
    pub parent_id: Option<i64>,
    pub author: Option<&'a str>,
    pub body: &'a str,
    /// `None` when the comment is gone.
    pub created_at: Option<i64>,
}

impl About<'_> {
    fn json(&self) -> serde_json::Value {
        let shown = self.created_at.is_some() && self.status != "deleted";
        serde_json::json!({
            "status": self.status,
            "parent_id": self.parent_id,
            "author": self.author.filter(|_| shown),
            "excerpt": if shown { excerpt(self.body) } else { String::new() },
            "created_at": self.created_at.map(crate::view::rfc3339),
        })
    }
}

/// `record` with the comment as the caller holds it (a write that has just stored it
/// need not read it back), or none.
pub fn record_about<C: Db>(
    c: &mut C,
    kind: EventKind,
    site: &str,
    thread_id: Option<i64>,
    about: Option<&About<'_>>,
    detail: &serde_json::Value,
    at: i64,
) -> Result<(), ApiError> {
    let mut detail = detail.clone();
    if let (Some(about), serde_json::Value::Object(d)) = (about, &mut detail) {
        d.insert("comment".into(), about.json());
    }
    c.insert_event(&NewEvent {
        at,
        kind: kind.as_str(),
        site,
        thread_id,
        comment_id: about.map(|a| a.id),
        detail: &detail.to_string(),
    })?;
    Ok(())
}

/// Records one moderation step in the audit log (the spam filter's too).
pub(crate) fn audit<C: Db>(
    c: &mut C,
    moderator: &str,
    action: &str,
    comment_id: Option<i64>,
    thread_id: Option<i64>,
    detail: Option<&str>,
) -> Result<(), ApiError> {
    c.insert_audit(&NewAudit {
        at: crate::view::now_micros(),
        moderator,
        action,
        comment_id,
        thread_id,
        detail,
    })?;
    Ok(())
}

/// The text on one line, at most [`EXCERPT_CHARS`] characters, with `…` where it was cut.
pub fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}
