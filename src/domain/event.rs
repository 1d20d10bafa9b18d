//! The kinds of event the server records (see `crate::events`).

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub enum EventKind {
    /// A comment was stored: published at once, or held for moderation.
    #[serde(rename = "comment.created")]
    CommentCreated,
    /// A moderator published a held, refused or deleted comment.
    #[serde(rename = "comment.approved")]
    CommentApproved,
    /// Its author or a moderator changed its text.
    #[serde(rename = "comment.edited")]
    CommentEdited,
    /// Its author or a moderator deleted it.
    #[serde(rename = "comment.deleted")]
    CommentDeleted,
    /// A moderator refused it as spam.
    #[serde(rename = "comment.spam")]
    CommentSpam,
    /// A reader reacted to the post or to a comment.
    #[serde(rename = "reaction.added")]
    ReactionAdded,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::CommentCreated,
        EventKind::CommentApproved,
        EventKind::CommentEdited,
        EventKind::CommentDeleted,
        EventKind::CommentSpam,
        EventKind::ReactionAdded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CommentCreated => "comment.created",
            EventKind::CommentApproved => "comment.approved",
            EventKind::CommentEdited => "comment.edited",
            EventKind::CommentDeleted => "comment.deleted",
            EventKind::CommentSpam => "comment.spam",
            EventKind::ReactionAdded => "reaction.added",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
        assert_eq!(EventKind::parse("comment.nope"), None);
    }
}
