//! Privacy requests: everything stored about one email address, as JSON, and its erasure.
//!
//! An address is a person across every site of the server. Their comments are found by
//! the lower-cased address (`email_key`); outbox mail by recipient, or by the keyed hash
//! of the address it is to or about (`ServerKey::person_key`: the moderators' mail about
//! a new comment). Bans on the address are shown and kept on erasure, under the keyed
//! hash: they protect the site, and an erasure request must not lift them.

use serde::Serialize;

use crate::cache::ThreadKey;
use crate::db::Db;
use crate::domain::{CommentId, Email};
use crate::error::ApiError;
use crate::security::ServerKey;
use crate::view::rfc3339;

use super::moderation::{self, Action};

/// A reader's own request, proven by a link mailed to the address: signed, expiring,
/// holding the address (it goes only to that address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestToken {
    pub email_key: String,
    pub expires: i64,
}

const REQUEST_DOMAIN: &str = "privacy-request";
/// How long a mailed privacy link works.
pub const REQUEST_VALID_SECS: i64 = 24 * 3600;

impl RequestToken {
    pub fn encode(&self, key: &ServerKey) -> String {
        use base64::Engine;
        let payload = format!(
            "{}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.email_key),
            self.expires
        );
        let sig = key.sign(REQUEST_DOMAIN, payload.as_bytes());
        format!("{payload}.{sig}")
    }

    /// `None` if malformed, tampered with or expired.
    pub fn decode(key: &ServerKey, token: &str, now_secs: i64) -> Option<Self> {
        use base64::Engine;
        let token = token.trim();
        if token.len() > 1000 {
            return None;
        }
        let (payload, sig) = token.rsplit_once('.')?;
        if !key.verify_signature(REQUEST_DOMAIN, payload.as_bytes(), sig) {
            return None;
        }
        let (email, expires) = payload.split_once('.')?;
        let email = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(email)
            .ok()?;
        let t = RequestToken {
            email_key: String::from_utf8(email).ok()?,
            expires: expires.parse().ok()?,
        };
        (now_secs <= t.expires).then_some(t)
    }
}

/// The token of the link to a reader's data, valid for [`REQUEST_VALID_SECS`] from `now`
/// (mailed by `email::privacy::queue_request_link`).
pub fn request_token(key: &ServerKey, email_key: &str, now: i64) -> String {
    RequestToken {
        email_key: email_key.to_owned(),
        expires: now / 1_000_000 + REQUEST_VALID_SECS,
    }
    .encode(key)
}

/// Who the audit log names for an erasure.
pub const ERASER: &str = "privacy erase";
/// Who the audit log names for an erasure a reader asked for themselves.
pub const READER: &str = "privacy request";

/// What an export shows as the recipient of mail about the person to a moderator.
const MODERATOR: &str = "(a moderator)";

#[derive(Debug, Serialize)]
pub struct PersonData {
    pub email: String,
    pub comments: Vec<PersonCommentJson>,
    /// Reply-mail subscriptions, one per site.
    pub subscriptions: Vec<PersonSubscriptionJson>,
    /// Mail waiting in, or kept by, the outbox to or about the address.
    pub mail: Vec<PersonMailJson>,
    pub bans: Vec<PersonBanJson>,
}

#[derive(Debug, Serialize)]
pub struct PersonCommentJson {
    pub id: i64,
    pub site: String,
    pub slug: String,
    pub parent_id: Option<i64>,
    pub status: String,
    pub body: String,
    pub author: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub notify_replies: bool,
    /// The keyed hash of the client address (never the address), until it is purged.
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PersonSubscriptionJson {
    pub site: String,
    /// The language of their mail.
    pub lang: String,
    pub created_at: String,
    /// `null` until they confirmed the opt-in mail.
    pub confirmed_at: Option<String>,
    /// Threads followed as a whole, as `site` and `slug`.
    pub threads: Vec<ThreadRef>,
}

#[derive(Debug, Serialize)]
pub struct ThreadRef {
    pub site: String,
    pub slug: String,
}

#[derive(Debug, Serialize)]
pub struct PersonMailJson {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct PersonBanJson {
    pub id: i64,
    pub site: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// The address as comments are keyed by it; an invalid one is an error, not "nothing".
pub fn email_key(raw: &str) -> Result<String, ApiError> {
    match Email::parse(raw)? {
        Some(e) => Ok(e.as_str().to_lowercase()),
        None => Err(
            ApiError::unprocessable("invalid_email", "An email address is needed.")
                .with_field("email"),
        ),
    }
}

pub fn export<C: Db>(c: &mut C, key: &ServerKey, email_key: &str) -> Result<PersonData, ApiError> {
    let comments = c
        .person_comments(email_key)?
        .into_iter()
        .map(|p| PersonCommentJson {
            id: p.id,
            site: p.site,
            slug: p.slug,
            parent_id: p.parent_id,
            status: p.status,
            body: p.body,
            author: p.author,
            email: p.email,
            website: p.website,
            notify_replies: p.notify_replies,
            ip_hash: p.ip,
            user_agent: p.user_agent,
            created_at: rfc3339(p.created_at),
            edited_at: p.edited_at.map(rfc3339),
        })
        .collect();
    let mut subscriptions = Vec::new();
    for s in c.person_subscriptions(email_key)? {
        let threads = c
            .followed_threads(s.id)?
            .into_iter()
            .map(|(site, slug)| ThreadRef { site, slug })
            .collect();
        subscriptions.push(PersonSubscriptionJson {
            site: s.site,
            lang: s.lang,
            created_at: rfc3339(s.created_at),
            confirmed_at: s.confirmed_at.map(rfc3339),
            threads,
        });
    }
    let mail = c
        .person_mail(email_key, &key.person_key(email_key))?
        .into_iter()
        .map(|m| PersonMailJson {
            id: m.id,
            kind: m.kind,
            // Mail about them went to a moderator, whose address is not theirs to see.
            recipient: if m.recipient.eq_ignore_ascii_case(email_key) {
                m.recipient
            } else {
                MODERATOR.to_owned()
            },
            status: m.status,
            created_at: rfc3339(m.created_at),
        })
        .collect();
    let bans = c
        .person_bans(email_key)?
        .into_iter()
        .map(|b| PersonBanJson {
            id: b.id,
            site: b.site,
            action: b.action,
            reason: b.reason,
            created_at: rfc3339(b.created_at),
            expires_at: b.expires_at.map(rfc3339),
        })
        .collect();
    Ok(PersonData {
        email: email_key.to_owned(),
        comments,
        subscriptions,
        mail,
        bans,
    })
}

/// What an erasure does with the person's comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentsTo {
    /// Kept, with no name, address, website or client data, and a new avatar.
    Anonymize,
    /// Deleted for good (an empty placeholder where replies hang under one).
    Delete,
}

#[derive(Debug, Default, Serialize)]
pub struct Erased {
    pub comments_anonymized: usize,
    pub comments_deleted: usize,
    pub subscriptions_dropped: usize,
    pub mail_dropped: usize,
    pub bans_kept: usize,
    /// Old audit entries whose detail named the address (newer ones hold a keyed hash).
    pub audit_entries_scrubbed: usize,
}

/// Erases what is stored about the address, in one transaction (the caller's write), and
/// says which threads changed so that caches drop them.
pub fn erase<C: Db>(
    c: &mut C,
    key: &ServerKey,
    email_key: &str,
    to: CommentsTo,
) -> Result<(Erased, Vec<ThreadKey>), ApiError> {
    erase_as(c, key, ERASER, email_key, to)
}

/// [`erase`], with the audit log naming `by`.
pub fn erase_as<C: Db>(
    c: &mut C,
    key: &ServerKey,
    by: &str,
    email_key: &str,
    to: CommentsTo,
) -> Result<(Erased, Vec<ThreadKey>), ApiError> {
    let mut done = Erased::default();
    let mut changed: Vec<ThreadKey> = Vec::new();
    let mut theirs = c.person_comments(email_key)?;
    // Newest first: a reply goes before the comment it answers, so no placeholder stays
    // for replies that are gone too.
    theirs.reverse();
    for p in theirs {
        let thread = ThreadKey {
            site: p.site.clone(),
            slug: p.slug.clone(),
        };
        match to {
            CommentsTo::Anonymize => {
                let avatar = key.avatar(&format!("erased:{}", p.id));
                c.anonymize_comment(p.id, &avatar)?;
                done.comments_anonymized += 1;
            }
            CommentsTo::Delete => {
                moderation::act(c, by, CommentId(p.id), Action::Purge)?;
                done.comments_deleted += 1;
            }
        }
        if !changed.contains(&thread) {
            changed.push(thread);
        }
    }
    // Subscriptions, their pending digests and queued mail to the address; then whatever
    // else the outbox keeps to or about it (sent mail, moderators' mail naming it).
    let (subscriptions, queued) = c.forget_email(None, email_key)?;
    done.subscriptions_dropped = subscriptions;
    let person = key.person_key(email_key);
    let mail: Vec<i64> = c
        .person_mail(email_key, &person)?
        .iter()
        .map(|m| m.id)
        .collect();
    done.mail_dropped = queued + c.delete_mail(&mail)?;
    done.bans_kept = c.hide_bans(email_key, &person)?;
    done.audit_entries_scrubbed = c.scrub_audit(email_key)?;
    Ok((done, changed))
}
