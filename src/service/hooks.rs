//! Webhook deliveries as moderators see them: what is queued, delivered or failed and
//! the receiver's last answer; their retry and drop, and a test event, each in the audit
//! log.

use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Settings;
use crate::db::events::{DeliveryRow, NewDelivery};
use crate::db::moderation::NewAudit;
use crate::db::Db;
use crate::domain::SiteId;
use crate::error::ApiError;
use crate::events::format::{self, Message, TEST_KIND};
use crate::view;

/// Deliveries per page.
pub const PAGE: i64 = 50;

/// One delivery of an event to one endpoint (without its body).
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// The event it carries; `null` for a test event.
    pub event_id: Option<i64>,
    /// Its `webhook-id`: the same on every attempt.
    pub message_id: String,
    pub site: String,
    /// The endpoint's URL as configured.
    pub endpoint: String,
    /// `comment.created`, …, or `webhook.test`.
    pub kind: String,
    /// `standard`, `slack`, `discord`, `matrix` or `ntfy`.
    pub format: String,
    /// `queued`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// When it was queued (again, after a retry).
    pub created_at: String,
    /// When the next attempt is due, while queued.
    pub next_attempt_at: Option<String>,
    /// What the receiver last answered (its status and first bytes), or why there was no
    /// answer.
    pub last_answer: Option<String>,
    pub delivered_at: Option<String>,
    /// A worker is sending it right now.
    pub sending: bool,
}

fn delivery(r: DeliveryRow) -> Delivery {
    Delivery {
        id: r.id,
        event_id: r.event_id,
        message_id: r.message_id,
        site: r.site,
        endpoint: r.endpoint,
        kind: r.kind,
        format: r.format,
        next_attempt_at: (r.status == "queued").then(|| view::rfc3339(r.next_attempt_at)),
        status: r.status,
        attempts: r.attempts,
        created_at: view::rfc3339(r.created_at),
        last_answer: r.last_answer,
        delivered_at: r.delivered_at.map(view::rfc3339),
        sending: r.claimed_by.is_some(),
    }
}

pub fn not_found() -> ApiError {
    ApiError::not_found(
        "delivery_not_found",
        "There is no webhook delivery with this id.",
    )
}

/// A page of deliveries, newest first; `next` continues it.
pub fn list<C: Db>(
    c: &mut C,
    status: Option<&str>,
    before: Option<i64>,
) -> Result<(Vec<Delivery>, Option<i64>), ApiError> {
    let mut rows = c.deliveries_page(status, before, PAGE + 1)?;
    let next = if rows.len() > PAGE as usize {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows.into_iter().map(delivery).collect(), next))
}

fn audit<C: Db>(c: &mut C, moderator: &str, action: &str, detail: &str) -> Result<(), ApiError> {
    c.insert_audit(&NewAudit {
        at: view::now_micros(),
        moderator,
        action,
        comment_id: None,
        thread_id: None,
        detail: Some(detail),
    })?;
    Ok(())
}

/// Queues a failed or waiting delivery again, due now (delivered ones are not sent twice).
pub fn retry<C: Db>(c: &mut C, moderator: &str, id: i64) -> Result<Delivery, ApiError> {
    let row = c.delivery_row(id)?.ok_or_else(not_found)?;
    if !c.retry_delivery(id, view::now_micros())? {
        return Err(ApiError::conflict(
            "delivery_not_retryable",
            if row.status == "delivered" {
                "This delivery was delivered already."
            } else {
                "This delivery is being sent right now."
            },
        ));
    }
    let detail = format!("{} #{} to {}", row.kind, row.id, row.endpoint);
    audit(c, moderator, "webhook_retry", &detail)?;
    let row = c.delivery_row(id)?.ok_or_else(not_found)?;
    Ok(delivery(row))
}

/// Deletes a delivery, unless a worker is sending it right now.
pub fn drop<C: Db>(c: &mut C, moderator: &str, id: i64) -> Result<(), ApiError> {
    let row = c.delivery_row(id)?.ok_or_else(not_found)?;
    if !c.drop_delivery(id)? {
        return Err(ApiError::conflict(
            "delivery_sending",
            "This delivery is being sent right now; try again in a moment.",
        ));
    }
    let detail = format!("{} #{} to {}", row.kind, row.id, row.endpoint);
    audit(c, moderator, "webhook_drop", &detail)
}

pub fn no_such_webhook() -> ApiError {
    ApiError::not_found(
        "webhook_not_found",
        "This site has no webhook with this url in the configuration.",
    )
    .with_field("url")
}

/// Queues a test event (`webhook.test`) to one configured endpoint, due now: it goes out
/// like any delivery, signed, and shows here with the receiver's answer.
pub fn test<C: Db>(
    c: &mut C,
    settings: &Settings,
    moderator: &str,
    site: &str,
    url: &str,
) -> Result<Delivery, ApiError> {
    let hook = SiteId::parse(site)
        .ok()
        .and_then(|id| settings.site(&id))
        .and_then(|s| s.webhooks.iter().find(|w| w.url == url))
        .ok_or_else(no_such_webhook)?;
    let now = view::now_micros();
    let m = Message {
        kind: TEST_KIND.to_owned(),
        at: now,
        site: site.to_owned(),
        thread: None,
        comment: None,
        detail: serde_json::json!({ "by": moderator }),
        actions: Vec::new(),
    };
    let message_id = format!("msg_afterword_test_{}", crate::security::new_token());
    c.insert_delivery(&NewDelivery {
        event_id: None,
        message_id: &message_id,
        site,
        endpoint: &hook.url,
        kind: TEST_KIND,
        format: hook.format.as_str(),
        body: &format::render(hook.format, &hook.url, &m),
        created_at: now,
        next_attempt_at: now,
    })?;
    audit(c, moderator, "webhook_test", &format!("to {}", hook.url))?;
    let (rows, _) = list(c, None, None)?;
    rows.into_iter()
        .find(|d| d.message_id == message_id)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the test delivery is not there")))
}
