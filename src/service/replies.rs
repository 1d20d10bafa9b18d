//! Moderators' own comments, posted from the admin page: published at once under the
//! moderator's display name, marked `"moderator": true` in the thread, and logged.

use crate::config::SiteSettings;
use crate::db::moderation::NewAudit;
use crate::db::Db;
use crate::domain::{AuthorName, CommentBody, CommentId, Slug};
use crate::error::ApiError;
use crate::security::ServerKey;
use crate::service::comments::{create_comment, NewCommentInput};
use crate::view::{self, CommentJson};

/// Who posts: the logged-in moderator.
pub struct Poster<'a> {
    pub id: i64,
    pub username: &'a str,
    pub display_name: &'a str,
}

/// A moderator's comment in a thread, top-level or a reply to `parent`.
pub struct Reply {
    pub slug: Slug,
    pub parent_id: Option<CommentId>,
    pub body: CommentBody,
    pub html: String,
}

pub fn post_as_moderator<C: Db>(
    c: &mut C,
    site: &SiteSettings,
    key: &ServerKey,
    poster: &Poster<'_>,
    reply: Reply,
) -> Result<CommentJson, ApiError> {
    let input = NewCommentInput {
        slug: reply.slug,
        body: reply.body,
        html: reply.html,
        author: AuthorName::parse(poster.display_name)?,
        email: None,
        website: None,
        parent_id: reply.parent_id,
        notify_replies: false,
        title: None,
        url: None,
        ip: None,
        user_agent: None,
        moderator_id: Some(poster.id),
        // A moderator's own comment asks for no mail (and its event makes no moderator
        // mail), nor spam checks.
        email_on: false,
        spam: super::spam::Verdict::Clean,
        lang: "en",
        proof: None,
        author_checked: None,
    };
    let created = create_comment(c, site, key, &input)?;
    c.insert_audit(&NewAudit {
        at: view::now_micros(),
        moderator: poster.username,
        action: "reply",
        comment_id: Some(created.comment.id),
        thread_id: Some(created.thread_id),
        detail: input
            .parent_id
            .map(|p| format!("in reply to {p}"))
            .as_deref(),
    })?;
    Ok(created.comment)
}
