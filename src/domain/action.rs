//! What moderators can do to a comment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Publish it (from pending or spam).
    Approve,
    /// Refuse it as spam: never shown, never counted.
    Spam,
    /// Hide it; it can be restored. With replies it stays as a placeholder.
    Delete,
    /// Undo spam or delete: publish it again.
    Restore,
    /// Delete for good (erasure requests): the text and the author's details are gone;
    /// with replies an empty placeholder stays so the thread keeps its shape.
    Purge,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "approve" => Action::Approve,
            "spam" => Action::Spam,
            "delete" => Action::Delete,
            "restore" => Action::Restore,
            "purge" => Action::Purge,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Spam => "spam",
            Action::Delete => "delete",
            Action::Restore => "restore",
            Action::Purge => "purge",
        }
    }
}
