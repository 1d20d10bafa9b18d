//! The event stream's consumers.
//!
//! Every change worth telling (a comment created, approved, edited, deleted, filed as
//! spam; a reaction added) is one row of `events`, written by `service::events::record` in
//! the change's own transaction: a change rolled back leaves no event, a committed one
//! always has its event. Posting only writes that row; nothing here runs in a request.
//!
//! The dispatcher ([`dispatch`]) takes pending events in a transaction of its own and, in
//! it, hands each to its consumers and marks it dispatched: reply mail (a comment seen for
//! the first time joins the digests of whoever asked, see `email::replies`), and the site's
//! webhooks (one row of `webhook_deliveries` per matching endpoint, its body rendered
//! once). Instances sharing a PostgreSQL take disjoint events (`FOR UPDATE SKIP LOCKED`),
//! and a crash before the commit hands the events back: each is handled once.
//!
//! Deliveries are sent by one thread per endpoint ([`delivery`]), which claims that
//! endpoint's due rows with a lease as the mail outbox does, so a slow or dead endpoint
//! only ever holds up its own deliveries. Each attempt is signed the Standard Webhooks way
//! ([`sign`]), goes through the guarded client (`crate::outbound`: no private addresses
//! unless allowed, timeouts, no redirects, at most a few KB of the answer read), and is
//! retried with backoff for 48 hours.

pub mod delivery;
pub mod dispatch;
pub mod format;
pub mod sign;

/// The server's public address for links, without the final `/`.
pub fn base_url(settings: &crate::config::Settings) -> String {
    match &settings.public_url {
        Some(u) => u.as_str().trim_end_matches('/').to_owned(),
        None => format!("http://{}", settings.listen),
    }
}
