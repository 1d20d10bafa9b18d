//! The messages themselves: multipart plain text + HTML from templates embedded in the
//! binary, with our own `Message-ID`, `Date`, `Auto-Submitted`, and threading per post.
//! Moderator mail speaks the site's `language`; mail to commenters theirs (see `i18n`).

use std::time::SystemTime;

use askama::Template;
use lettre::message::header::{
    ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue,
};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use sha2::{Digest, Sha256};

use super::i18n::{self, fill, Strings};
use super::links::ActionToken;
use super::{one_line, Mailer};
use crate::config::{NotifyModerators, SiteSettings};
use crate::db::models::ThreadRow;
use crate::db::outbox::NewMail;
use crate::db::MailStore;
use crate::domain::CommentId;
use crate::error::ApiError;
use diesel::QueryResult;

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation replies to our mail.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// `List-Unsubscribe: <URL>` (RFC 2369): the address a mail client's "unsubscribe" posts
/// to. Our own URL, ASCII only (a key and an id).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): one POST, no page.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// A message ready for the outbox.
#[derive(Debug, Clone)]
pub struct Composed {
    pub sender: String,
    pub recipient: String,
    pub message: String,
}

impl Composed {
    /// Queues it, due now, in the caller's transaction. `person` is the address it is to or
    /// about, kept only as a keyed hash so that privacy requests find it.
    pub fn enqueue<C: MailStore>(
        &self,
        c: &mut C,
        kind: &str,
        person_key: Option<&str>,
        now: i64,
    ) -> QueryResult<()> {
        c.enqueue_mail(&NewMail {
            created_at: now,
            kind,
            sender: &self.sender,
            recipient: &self.recipient,
            message: &self.message,
            next_attempt_at: now,
            person_key,
        })
    }
}

/// The stable id every mail about one post refers to, so mail clients thread them.
pub fn thread_message_id(mailer: &Mailer, site: &str, slug: &str) -> String {
    let mut h = Sha256::new();
    h.update(site.as_bytes());
    h.update([0]);
    h.update(slug.as_bytes());
    let digest = hex::encode(&h.finalize()[..12]);
    format!("<thread-{digest}@{}>", mailer.domain)
}

/// What a message says: the subject and both parts.
pub struct Content {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Builds one message. `subject` and every header value pass through [`one_line`], and
/// lettre encodes them: no user text can add a header. `unsubscribe` is the one-click
/// unsubscribe URL of mail to commenters.
pub fn compose(
    mailer: &Mailer,
    to: &Mailbox,
    thread_id: &str,
    content: Content,
    unsubscribe: Option<&str>,
) -> Result<Composed, ApiError> {
    let Content {
        subject,
        text,
        html,
    } = content;
    let id = format!("<{}@{}>", crate::security::new_token(), mailer.domain);
    let part = |ct: ContentType, body: String| {
        SinglePart::builder()
            .header(ct)
            // Base64: any text, any line length, exactly as written.
            .header(ContentTransferEncoding::Base64)
            .body(body)
    };
    let mut builder = Message::builder()
        .from(mailer.from.clone())
        .to(to.clone())
        .subject(one_line(&subject, 200))
        .message_id(Some(id))
        .date(SystemTime::now())
        .in_reply_to(thread_id.to_owned())
        .references(thread_id.to_owned())
        .header(AutoSubmitted);
    if let Some(url) = unsubscribe {
        builder = builder
            .header(ListUnsubscribe(one_line(url, 500)))
            .header(ListUnsubscribePost);
    }
    let message = builder
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, text))
                .singlepart(part(ContentType::TEXT_HTML, html)),
        )
        .map_err(|e| ApiError::internal(anyhow::anyhow!("cannot build a mail: {e}")))?;
    Ok(Composed {
        sender: mailer.from.email.to_string(),
        recipient: to.email.to_string(),
        message: String::from_utf8_lossy(&message.formatted()).into_owned(),
    })
}

#[derive(Template)]
#[template(path = "mail/new_comment.txt")]
struct NewCommentText<'a> {
    m: &'a NewCommentMail,
}

#[derive(Template)]
#[template(path = "mail/new_comment.html")]
struct NewCommentHtml<'a> {
    m: &'a NewCommentMail,
}

/// What a moderator's mail about a new comment says.
pub struct NewCommentMail {
    /// The site's language, and its words.
    pub s: &'static Strings,
    pub subject: String,
    /// "A new comment waits for moderation on …", with the thread's name.
    pub intro: String,
    /// "Each link … works once, for N days."
    pub links_note: String,
    pub thread_name: String,
    pub post_url: Option<String>,
    pub author: String,
    pub email: Option<String>,
    pub body: String,
    pub comment_link: String,
    pub admin_link: String,
    /// `(label, link)` for approve, spam, delete.
    pub actions: Vec<(&'static str, String)>,
}

/// The new comment, as stored (its status as its event says).
pub struct NewCommentEvent<'a> {
    pub id: CommentId,
    pub pending: bool,
    pub author: Option<&'a str>,
    pub email: Option<&'a str>,
    pub body: &'a str,
    /// The post's address as known (stored, else as the comment gave it: on the site).
    pub post_url: Option<&'a str>,
}

/// Whether this site's moderators hear of this comment.
pub fn moderators_want(site: &SiteSettings, pending: bool) -> bool {
    !site.moderators.is_empty()
        && match site.notify_moderators {
            NotifyModerators::All => true,
            NotifyModerators::Pending => pending,
            NotifyModerators::None => false,
        }
}

/// The button or link that does `action` (one of `links::MAIL_ACTIONS`), in `s`'s language.
pub fn action_label(s: &Strings, action: &str) -> &'static str {
    match action {
        "approve" => s.mod_approve,
        "spam" => s.mod_spam,
        _ => s.mod_delete,
    }
}

/// The outbox's `kind` of a moderator's mail about a new comment.
pub const NEW_COMMENT_KIND: &str = "moderator-new-comment";

/// The mail to each of the site's moderators about a new comment (none if they do not
/// want it), and the keyed hash of the commenter's address it is about. Made by the event
/// dispatcher from the comment's `comment.created` event (see `crate::events`), which
/// queues them in the transaction that marks the event dispatched.
pub fn new_comment_mails(
    mailer: &Mailer,
    site: &SiteSettings,
    thread: &ThreadRow,
    ev: &NewCommentEvent<'_>,
    now_micros: i64,
) -> Result<(Vec<Composed>, Option<String>), ApiError> {
    let mut out = Vec::new();
    if !moderators_want(site, ev.pending) {
        return Ok((out, None));
    }
    let now_secs = now_micros / 1_000_000;
    let s = i18n::strings(site.language);
    let thread_name = one_line(thread.title.as_deref().unwrap_or(&thread.slug), 200);
    let author = one_line(ev.author.unwrap_or(s.anonymous), 100);
    let post_url = thread.url.as_deref().or(ev.post_url).map(str::to_owned);
    let comment_link = match &post_url {
        Some(u) => format!("{u}#afterword-comment-{}", ev.id.0),
        None => mailer.link(&format!("/admin/comments?thread={}", thread.id)),
    };
    let names = [
        ("author", author.as_str()),
        ("thread", thread_name.as_str()),
    ];
    let (subject, intro) = if ev.pending {
        (s.mod_subject_pending, s.mod_intro_pending)
    } else {
        (s.mod_subject_new, s.mod_intro_new)
    };
    let (subject, intro) = (fill(subject, &names), fill(intro, &names));
    let days = (super::links::VALID_FOR_SECS / 86_400).to_string();
    let links_note = fill(s.mod_links_note, &[("n", &days)]);
    let thread_id = thread_message_id(mailer, &thread.site, &thread.slug);
    let about = ev.email.map(|e| mailer.key.person_key(e));
    for moderator in &site.moderators {
        let to: Mailbox = moderator
            .as_str()
            .parse()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("moderator address: {e}")))?;
        let actions = super::links::MAIL_ACTIONS
            .iter()
            .map(|a| {
                let token = ActionToken::new(ev.id, a, moderator.as_str(), now_secs);
                (
                    action_label(s, a),
                    mailer.link(&format!(
                        "/admin/mail/action?t={}",
                        token.encode(&mailer.key)
                    )),
                )
            })
            .collect();
        let m = NewCommentMail {
            s,
            subject: subject.clone(),
            intro: intro.clone(),
            links_note: links_note.clone(),
            thread_name: thread_name.clone(),
            post_url: post_url.clone(),
            author: author.clone(),
            email: ev.email.map(|e| one_line(e, 320)),
            body: ev.body.to_owned(),
            comment_link: comment_link.clone(),
            admin_link: mailer.link(if ev.pending {
                "/admin"
            } else {
                "/admin/comments"
            }),
            actions,
        };
        let render = |e: askama::Error| ApiError::internal(anyhow::anyhow!("mail template: {e}"));
        let text = NewCommentText { m: &m }.render().map_err(render)?;
        let html = NewCommentHtml { m: &m }.render().map_err(render)?;
        let content = Content {
            subject: subject.clone(),
            text,
            html,
        };
        out.push(compose(mailer, &to, &thread_id, content, None)?);
    }
    Ok((out, about))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_text_can_add_a_header() {
        let mailer = Mailer {
            from: "Afterword <comments@example.com>".parse().unwrap(),
            base: url::Url::parse("https://c.example/").unwrap(),
            key: crate::security::ServerKey::generate(),
            domain: "example.com".into(),
        };
        let to: Mailbox = "mod@example.com".parse().unwrap();
        let m = compose(
            &mailer,
            &to,
            "<thread-x@example.com>",
            Content {
                subject: "Hi\r\nBcc: evil@example.org\nX-Evil: 1".into(),
                text: "text\r\nBcc: no".into(),
                html: "<p>html</p>".into(),
            },
            Some("https://c.example/mail/unsubscribe?k=a\r\nBcc: x@y"),
        )
        .unwrap();
        let head = m.message.split("\r\n\r\n").next().unwrap().to_owned();
        for line in head.split("\r\n") {
            let l = line.to_ascii_lowercase();
            assert!(
                !l.starts_with("bcc:") && !l.starts_with("x-evil:"),
                "{head}"
            );
        }
        assert!(
            head.contains("Subject: Hi Bcc: evil@example.org X-Evil: 1"),
            "{head}"
        );
        assert!(head.contains("Auto-Submitted: auto-generated"), "{head}");
        assert!(
            head.contains("List-Unsubscribe: <https://c.example/mail/unsubscribe?k=a Bcc: x@y>"),
            "{head}"
        );
        assert!(
            head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{head}"
        );
        assert_eq!(m.recipient, "mod@example.com");
    }
}
