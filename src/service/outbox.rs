//! The outbox as moderators see it: what is queued, sent or failed and why, and their
//! retry and drop, each in the audit log.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::moderation::NewAudit;
use crate::db::outbox::OutboxRow;
use crate::db::Db;
use crate::error::ApiError;
use crate::security::ServerKey;
use crate::view;

/// Messages per page.
pub const PAGE: i64 = 50;

/// One message of the outbox (without its text).
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxMessage {
    pub id: i64,
    /// `moderator-new-comment`, `reply-confirm` or `reply-notification`.
    pub kind: String,
    pub recipient: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// When it was queued (again, after a retry).
    pub created_at: String,
    /// When the next attempt is due, while queued.
    pub next_attempt_at: Option<String>,
    /// What the SMTP server last answered, or why there was no answer.
    pub last_answer: Option<String>,
    pub sent_at: Option<String>,
    /// A worker is sending it right now.
    pub sending: bool,
}

fn message(r: OutboxRow) -> OutboxMessage {
    OutboxMessage {
        id: r.id,
        kind: r.kind,
        recipient: r.recipient,
        next_attempt_at: (r.status == "queued").then(|| view::rfc3339(r.next_attempt_at)),
        status: r.status,
        attempts: r.attempts,
        created_at: view::rfc3339(r.created_at),
        last_answer: r.last_answer,
        sent_at: r.sent_at.map(view::rfc3339),
        sending: r.claimed_by.is_some(),
    }
}

pub fn not_found() -> ApiError {
    ApiError::not_found(
        "mail_not_found",
        "There is no message with this id in the outbox.",
    )
}

/// A page of the outbox, newest first; `next` continues it.
pub fn list<C: Db>(
    c: &mut C,
    status: Option<&str>,
    before: Option<i64>,
) -> Result<(Vec<OutboxMessage>, Option<i64>), ApiError> {
    let mut rows = c.outbox_page(status, before, PAGE + 1)?;
    let next = if rows.len() > PAGE as usize {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows.into_iter().map(message).collect(), next))
}

/// The recipient appears as its keyed hash: enough to tell entries about one address
/// apart, and nothing a privacy request would have to find.
fn audit<C: Db>(
    c: &mut C,
    key: &ServerKey,
    moderator: &str,
    action: &str,
    row: &OutboxRow,
) -> Result<(), ApiError> {
    let detail = format!(
        "{} #{} to {}",
        row.kind,
        row.id,
        key.person_key(&row.recipient)
    );
    c.insert_audit(&NewAudit {
        at: view::now_micros(),
        moderator,
        action,
        comment_id: None,
        thread_id: None,
        detail: Some(&detail),
    })?;
    Ok(())
}

/// Queues a failed or waiting message again, due now (sent ones are not sent twice).
pub fn retry<C: Db>(
    c: &mut C,
    key: &ServerKey,
    moderator: &str,
    id: i64,
) -> Result<OutboxMessage, ApiError> {
    let row = c.outbox_row(id)?.ok_or_else(not_found)?;
    if !c.retry_mail(id, view::now_micros())? {
        return Err(ApiError::conflict(
            "mail_not_retryable",
            if row.status == "sent" {
                "This message was sent already."
            } else {
                "This message is being sent right now."
            },
        ));
    }
    audit(c, key, moderator, "mail_retry", &row)?;
    let row = c.outbox_row(id)?.ok_or_else(not_found)?;
    Ok(message(row))
}

/// Deletes a message, unless a worker is sending it right now.
pub fn drop<C: Db>(c: &mut C, key: &ServerKey, moderator: &str, id: i64) -> Result<(), ApiError> {
    let row = c.outbox_row(id)?.ok_or_else(not_found)?;
    if !c.drop_mail(id)? {
        return Err(ApiError::conflict(
            "mail_sending",
            "This message is being sent right now; try again in a moment.",
        ));
    }
    audit(c, key, moderator, "mail_drop", &row)
}

/// Records a test mail sent from the admin page; `to` is the address's keyed hash.
pub fn log_test<C: Db>(c: &mut C, moderator: &str, to: &str, answer: &str) -> Result<(), ApiError> {
    let detail = format!("to {to}: {answer}");
    c.insert_audit(&NewAudit {
        at: view::now_micros(),
        moderator,
        action: "mail_test",
        comment_id: None,
        thread_id: None,
        detail: Some(&detail),
    })?;
    Ok(())
}
