//! The mail with the link to a reader's own data (`/privacy`).

use super::compose::{compose, Content};
use super::Mailer;
use crate::db::MailStore;
use crate::error::ApiError;

/// Queues the mail with the link to a reader's data (`token`, see
/// `service::privacy::request_token`), in the caller's transaction. The same for an
/// address the server knows or not: the answer must not tell them apart.
pub fn queue_request_link<C: MailStore>(
    c: &mut C,
    mailer: &Mailer,
    email_key: &str,
    token: &str,
    now: i64,
) -> Result<(), ApiError> {
    let Ok(to) = email_key.parse::<lettre::message::Mailbox>() else {
        return Ok(());
    };
    let link = mailer.link(&format!("/privacy?t={token}"));
    let content: Content = super::replies::link_mail(
        "en",
        "Your data on this comment server".to_owned(),
        format!(
            "Someone (we hope you) asked for what this server stores about {email_key}: \
             the comments written with it, reply-mail subscriptions, mail waiting to be sent. \
             The page behind this link, for 24 hours, offers it as a download and a button \
             to erase it."
        ),
        "See and erase your data:",
        link,
        "If you did not ask, ignore this mail: nothing is shown or erased without this link.",
    )?;
    let id = format!("<privacy@{}>", mailer.domain);
    let composed = compose(mailer, &to, &id, content, None)?;
    composed.enqueue(
        c,
        "privacy-link",
        Some(&mailer.key.person_key(email_key)),
        now,
    )?;
    Ok(())
}
