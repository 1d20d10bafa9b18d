//! Reply notifications, with double opt-in.
//!
//! Readers may also follow a whole thread (`POST /api/v1/subscriptions`): then every new
//! approved comment in it joins their digest, with the same confirmation and unsubscribe.
//!
//! A comment with `notify_replies` and an email makes its author a subscriber of the site
//! (unconfirmed): one confirmation mail goes out, at most every [`RESEND_AFTER`], however
//! many comments they post meanwhile. Its link confirms on a POST (mail scanners follow
//! GETs). Once confirmed, each approved reply to one of their comments (not their own,
//! not to a comment since deleted or refused) joins a digest row per subscriber and
//! thread, written from the approval's event (see `crate::events`: the change records it
//! in its own transaction, the dispatcher hands it over a moment later, once, in a
//! transaction of its own). The mail worker turns a digest into one
//! message once it is [`crate::config::SmtpSettings::reply_delay`] old, deleting the row
//! in the same transaction, so several quick replies make one mail, sent once even with
//! several instances. What the mail says is decided then: a reply deleted meanwhile or an
//! unsubscription is honoured.

use askama::Template;
use lettre::message::Mailbox;

use super::compose::{compose, thread_message_id, Content};
use super::i18n::{self, fill, Strings};
use super::{one_line, Mailer};
use crate::config::Settings;
use crate::db::models::ThreadRow;
use crate::db::subscriptions::{NotifyRow, SubscriberRow};
use crate::db::Db;
use crate::error::ApiError;
use crate::security::ServerKey;

/// An unconfirmed address gets another confirmation mail only after this long.
pub const RESEND_AFTER_SECS: i64 = 6 * 3600;
/// A request to follow a thread mails its own confirmation, at most this often per
/// address: a reader may follow several threads in an evening, a stranger cannot fill
/// their inbox.
pub const FOLLOW_RESEND_AFTER_SECS: i64 = 10 * 60;
/// How long a confirmation link works.
pub const CONFIRM_VALID_SECS: i64 = 7 * 24 * 3600;
const CONFIRM_DOMAIN: &str = "mail-confirm";
/// Digests turned into mail per transaction.
const FLUSH_BATCH: i64 = 20;

fn micros(secs: i64) -> i64 {
    secs * 1_000_000
}

fn template_error(e: askama::Error) -> ApiError {
    ApiError::internal(anyhow::anyhow!("mail template: {e}"))
}

/// The signed link that confirms a subscriber: its id and creation time (so a later
/// subscriber that reuses the id is not confirmed by an old link), an expiry, and what
/// following it agrees to: the thread to follow (0: none) and the language of the mail.
/// Nothing of it is stored before the link is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmToken {
    pub subscriber: i64,
    pub created_at: i64,
    pub expires: i64,
    pub thread: i64,
    pub lang: &'static str,
}

impl ConfirmToken {
    pub fn encode(&self, key: &ServerKey) -> String {
        let payload = format!(
            "{}.{}.{}.{}.{}",
            self.subscriber, self.created_at, self.expires, self.thread, self.lang
        );
        let sig = key.sign(CONFIRM_DOMAIN, payload.as_bytes());
        format!("{payload}.{sig}")
    }

    /// `None` if malformed, tampered with or expired.
    pub fn decode(key: &ServerKey, token: &str, now_secs: i64) -> Option<Self> {
        let token = token.trim();
        if token.len() > 300 {
            return None;
        }
        let (payload, sig) = token.rsplit_once('.')?;
        if !key.verify_signature(CONFIRM_DOMAIN, payload.as_bytes(), sig) {
            return None;
        }
        let mut parts = payload.split('.');
        let mut number = || parts.next()?.parse::<i64>().ok();
        let (subscriber, created_at, expires, thread) =
            (number()?, number()?, number()?, number()?);
        let lang = i18n::strings(parts.next()?).lang;
        let t = ConfirmToken {
            subscriber,
            created_at,
            expires,
            thread,
            lang,
        };
        (parts.next().is_none() && now_secs <= t.expires).then_some(t)
    }
}

#[derive(Template)]
#[template(path = "mail/confirm.txt")]
struct ConfirmText<'a> {
    m: &'a ConfirmMail,
}

#[derive(Template)]
#[template(path = "mail/confirm.html")]
struct ConfirmHtml<'a> {
    m: &'a ConfirmMail,
}

struct ConfirmMail {
    lang: &'static str,
    subject: String,
    intro: String,
    action: &'static str,
    link: String,
    ignore: &'static str,
}

/// A mail that is one link to follow (as the confirmation is): its subject, what it is
/// about, the link and what to do if it was not asked for, in the confirmation's layout.
pub fn link_mail(
    lang: &'static str,
    subject: String,
    intro: String,
    action: &'static str,
    link: String,
    ignore: &'static str,
) -> Result<Content, ApiError> {
    let m = ConfirmMail {
        lang,
        subject,
        intro,
        action,
        link,
        ignore,
    };
    Ok(Content {
        subject: m.subject.clone(),
        text: ConfirmText { m: &m }.render().map_err(template_error)?,
        html: ConfirmHtml { m: &m }.render().map_err(template_error)?,
    })
}

fn thread_name(thread: &ThreadRow) -> String {
    one_line(thread.title.as_deref().unwrap_or(&thread.slug), 120)
}

/// The address as lettre takes it. The edge accepts addresses lettre may still refuse
/// (its parser is its own); such a reader simply gets no mail, and the comment or digest
/// is not failed for it.
fn mailbox(email: &str) -> Option<Mailbox> {
    match email.parse() {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "an address the mail library refuses: no mail to it");
            None
        }
    }
}

/// What a reader asked to be mailed about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Replies to their comment (the comment's `notify_replies`).
    Replies,
    /// Every new comment of the thread.
    Thread,
}

/// A reader asked for mail: makes them a subscriber (unconfirmed if new), and queues a
/// confirmation mail if they are not confirmed yet or ask to follow a thread they do not
/// follow. Nothing else changes until its link is followed: not the thread followed, not
/// the language. In the transaction of the comment or request that asked. True if a mail
/// was queued.
pub fn subscribe<C: Db>(
    c: &mut C,
    mailer: &Mailer,
    thread: &ThreadRow,
    email_key: &str,
    lang: &str,
    follow: Follow,
    now: i64,
) -> Result<bool, ApiError> {
    let Some(to) = mailbox(email_key) else {
        return Ok(false);
    };
    let sub = c.upsert_subscriber(
        &thread.site,
        email_key,
        lang,
        &crate::security::new_token(),
        now,
    )?;
    let confirmed = sub.confirmed_at.is_some();
    let wanted = match follow {
        Follow::Replies => !confirmed,
        Follow::Thread => !(confirmed && c.follows_thread(sub.id, thread.id)?),
    };
    let resend_after = match follow {
        Follow::Replies => RESEND_AFTER_SECS,
        Follow::Thread => FOLLOW_RESEND_AFTER_SECS,
    };
    if !wanted || !c.claim_confirmation(sub.id, now, now - micros(resend_after))? {
        return Ok(false);
    }
    // The mail is in the language of this request, which its link then makes theirs.
    let s = i18n::strings(lang);
    let name = thread_name(thread);
    let token = ConfirmToken {
        subscriber: sub.id,
        created_at: sub.created_at,
        expires: now / 1_000_000 + CONFIRM_VALID_SECS,
        thread: if follow == Follow::Thread {
            thread.id
        } else {
            0
        },
        lang: s.lang,
    };
    let content = link_mail(
        s.lang,
        fill(s.confirm_subject, &[("thread", &name)]),
        fill(
            match follow {
                Follow::Replies => s.confirm_intro,
                Follow::Thread => s.confirm_intro_thread,
            },
            &[("thread", &name)],
        ),
        s.confirm_action,
        mailer.link(&format!("/mail/confirm?t={}", token.encode(&mailer.key))),
        s.confirm_ignore,
    )?;
    let thread_id = thread_message_id(mailer, &thread.site, &thread.slug);
    let composed = compose(mailer, &to, &thread_id, content, None)?;
    composed.enqueue(
        c,
        "reply-confirm",
        Some(&mailer.key.person_key(email_key)),
        now,
    )?;
    Ok(true)
}

/// Whether `reply` is worth a mail to `parent`'s author: both visible, the parent asked
/// for it, and the reply is not their own.
fn wanted(parent: &NotifyRow, reply: &NotifyRow) -> bool {
    reply.parent_id == Some(parent.id)
        && parent.status == "approved"
        && reply.status == "approved"
        && parent.notify_replies
        && parent.email_key.is_some()
        && reply.email_key != parent.email_key
}

/// Comments became visible, each `(id, now)` at its `now` (published at once, or
/// approved by a moderator): each joins the digest of its parent's author, if they asked
/// for replies and confirmed, and of each confirmed follower of the thread, never its own
/// author's. Run from the events of those changes, a moment later (see `crate::events`):
/// who had confirmed by `now` counts, not who confirmed since.
pub fn comments_approved<C: Db>(c: &mut C, approved: &[(i64, i64)]) -> Result<(), ApiError> {
    if approved.is_empty() {
        return Ok(());
    }
    // Read once for the whole batch: the comments, their parents, each thread and its
    // followers (the dispatcher hands over up to a batch of events in one write).
    let ids: Vec<i64> = approved.iter().map(|(id, _)| *id).collect();
    let comments = c.notify_comments(&ids)?;
    let parent_ids: Vec<i64> = comments.iter().filter_map(|r| r.parent_id).collect();
    let parents = if parent_ids.is_empty() {
        Vec::new()
    } else {
        c.notify_comments(&parent_ids)?
    };
    let mut threads: Vec<(ThreadRow, Vec<SubscriberRow>)> = Vec::new();
    for &(comment_id, now) in approved {
        let Some(comment) = comments.iter().find(|r| r.id == comment_id) else {
            continue;
        };
        let at = match threads.iter().position(|(t, _)| t.id == comment.thread_id) {
            Some(i) => i,
            None => {
                let thread = c.thread_by_id(comment.thread_id)?;
                let followers = c.thread_followers(thread.id)?;
                threads.push((thread, followers));
                threads.len() - 1
            }
        };
        let (thread, followers) = &threads[at];
        let mut done: Vec<i64> = Vec::new();
        let parent = comment
            .parent_id
            .and_then(|p| parents.iter().find(|r| r.id == p));
        if let Some(parent) = parent.filter(|p| wanted(p, comment)) {
            let email = parent.email_key.as_deref().unwrap_or_default();
            if let Some(sub) = c.subscriber(&thread.site, email)? {
                if sub.confirmed_at.is_some_and(|t| t <= now) {
                    c.add_to_digest(sub.id, thread.id, comment.id, now)?;
                    done.push(sub.id);
                }
            }
        }
        for follower in followers {
            if done.contains(&follower.id)
                || comment.email_key.as_deref() == Some(&follower.email)
                || follower.confirmed_at.is_none_or(|t| t > now)
            {
                continue;
            }
            c.add_to_digest(follower.id, thread.id, comment.id, now)?;
        }
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "mail/reply.txt")]
struct ReplyText<'a> {
    m: &'a ReplyMail,
}

#[derive(Template)]
#[template(path = "mail/reply.html")]
struct ReplyHtml<'a> {
    m: &'a ReplyMail,
}

struct ReplyItem {
    heading: String,
    body: String,
    link: Option<String>,
}

struct ReplyMail {
    lang: &'static str,
    subject: String,
    replies: Vec<ReplyItem>,
    read_it: &'static str,
    why: &'static str,
    unsubscribe_thread: &'static str,
    unsubscribe_thread_label: &'static str,
    unsubscribe_thread_link: String,
    unsubscribe_all: &'static str,
    unsubscribe_all_label: &'static str,
    unsubscribe_all_link: String,
}

/// A string ending in a colon, as a button or link text.
pub fn label(s: &'static str) -> &'static str {
    s.trim_end_matches([':', '：', ' '])
}

/// The unsubscribe link of a subscriber; `thread` narrows it to one thread.
pub fn unsubscribe_link(mailer: &Mailer, key: &str, thread: Option<i64>) -> String {
    match thread {
        Some(t) => mailer.link(&format!("/mail/unsubscribe?k={key}&thread={t}")),
        None => mailer.link(&format!("/mail/unsubscribe?k={key}")),
    }
}

/// Turns due digests into outbox mail, deleting them: run it in one transaction, so a
/// digest becomes exactly one message. Returns how many digests it took.
pub fn flush_digests<C: Db>(
    c: &mut C,
    mailer: &Mailer,
    settings: &Settings,
    delay_micros: i64,
    now: i64,
) -> Result<usize, ApiError> {
    let due = c.take_due_digests(now - delay_micros, FLUSH_BATCH)?;
    for d in &due {
        let Some(sub) = c.subscriber_by_id(d.subscriber_id)? else {
            continue;
        };
        if sub.confirmed_at.is_none() {
            continue;
        }
        let mut ids: Vec<i64> = d
            .comment_ids
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let comments = c.notify_comments(&ids)?;
        let parent_ids: Vec<i64> = comments.iter().filter_map(|r| r.parent_id).collect();
        let parents = c.notify_comments(&parent_ids)?;
        let follows = c.follows_thread(sub.id, d.thread_id)?;
        // Decided now, not when queued: a comment deleted or an unsubscription meanwhile
        // is honoured.
        let mut items: Vec<(&NotifyRow, bool)> = comments
            .iter()
            .filter_map(|r| {
                let reply = parents
                    .iter()
                    .any(|p| wanted(p, r) && p.email_key.as_deref() == Some(sub.email.as_str()));
                let followed = follows
                    && r.status == "approved"
                    && r.thread_id == d.thread_id
                    && r.email_key.as_deref() != Some(sub.email.as_str());
                (reply || followed).then_some((r, reply))
            })
            .collect();
        if items.is_empty() {
            continue;
        }
        items.sort_by_key(|(r, _)| r.id);
        let thread = c.thread_by_id(d.thread_id)?;
        queue_digest(c, mailer, settings, &sub, &thread, &items, now)?;
    }
    Ok(due.len())
}

fn queue_digest<C: Db>(
    c: &mut C,
    mailer: &Mailer,
    settings: &Settings,
    sub: &SubscriberRow,
    thread: &ThreadRow,
    items: &[(&NotifyRow, bool)],
    now: i64,
) -> Result<(), ApiError> {
    let all_replies = items.iter().all(|(_, reply)| *reply);
    let Some(to) = mailbox(&sub.email) else {
        return Ok(());
    };
    let s: &Strings = i18n::strings(&sub.lang);
    let name = thread_name(thread);
    let site = crate::domain::SiteId::parse(&thread.site)
        .ok()
        .and_then(|id| settings.site(&id));
    let post = crate::view::thread_link(site, &thread.slug, thread.url.as_deref())
        .map(|l| l.split('#').next().unwrap_or(&l).to_owned());
    let shown = items
        .iter()
        .map(|(r, reply)| {
            let author = one_line(r.author.as_deref().unwrap_or(s.anonymous), 100);
            ReplyItem {
                heading: fill(
                    if *reply { s.replied } else { s.wrote },
                    &[("author", &author)],
                ),
                body: r.body.clone(),
                link: post
                    .as_ref()
                    .map(|p| format!("{p}#afterword-comment-{}", r.id)),
            }
        })
        .collect();
    let n = items.len().to_string();
    let (one, many) = if all_replies {
        (s.reply_subject_one, s.reply_subject_many)
    } else {
        (s.comment_subject_one, s.comment_subject_many)
    };
    let subject = if items.len() == 1 {
        fill(one, &[("thread", &name)])
    } else {
        fill(many, &[("thread", &name), ("n", &n)])
    };
    let thread_link = unsubscribe_link(mailer, &sub.unsubscribe_key, Some(thread.id));
    let m = ReplyMail {
        lang: s.lang,
        subject: subject.clone(),
        replies: shown,
        read_it: s.read_it,
        why: if all_replies { s.why } else { s.why_thread },
        unsubscribe_thread: s.unsubscribe_thread,
        unsubscribe_thread_label: label(s.unsubscribe_thread),
        unsubscribe_thread_link: thread_link.clone(),
        unsubscribe_all: s.unsubscribe_all,
        unsubscribe_all_label: label(s.unsubscribe_all),
        unsubscribe_all_link: unsubscribe_link(mailer, &sub.unsubscribe_key, None),
    };
    let content = Content {
        subject,
        text: ReplyText { m: &m }.render().map_err(template_error)?,
        html: ReplyHtml { m: &m }.render().map_err(template_error)?,
    };
    let thread_id = thread_message_id(mailer, &thread.site, &thread.slug);
    let composed = compose(mailer, &to, &thread_id, content, Some(&thread_link))?;
    composed.enqueue(
        c,
        "reply-notification",
        Some(&mailer.key.person_key(&sub.email)),
        now,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirm_token_round_trip_tamper_expiry() {
        let key = ServerKey::generate();
        let t = ConfirmToken {
            subscriber: 7,
            created_at: 123,
            expires: 1000,
            thread: 9,
            lang: "de",
        };
        let s = t.encode(&key);
        assert_eq!(ConfirmToken::decode(&key, &s, 1000), Some(t));
        assert_eq!(ConfirmToken::decode(&key, &s, 1001), None);
        assert_eq!(
            ConfirmToken::decode(&key, &s.replacen("7.", "8.", 1), 0),
            None
        );
        assert_eq!(ConfirmToken::decode(&ServerKey::generate(), &s, 0), None);
        assert_eq!(ConfirmToken::decode(&key, "1.2", 0), None);
    }
}
