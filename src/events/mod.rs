//! The event stream's consumers.
//!
//! Every change worth telling (a comment created, approved, edited, deleted, filed as
//! spam; a reaction added) is one row of `events`, written by `service::events::record` in
//! the change's own transaction: a change rolled back leaves no event, a committed one
//! always has its event. Posting only writes that row; nothing here runs in a request.
//!
//! The dispatcher ([`dispatch`]) takes pending events in a transaction of its own and, in
//! it, hands each to its consumers and marks it dispatched: the feeds' record (a comment
//! published or held joins `feed_entries`, which the Atom feeds read: see
//! `service::feeds`), the moderators' mail about a
//! new comment (`comment.created`, see `email::compose::new_comment_mails`), reply mail
//! (a comment seen for the first time joins the digests of whoever asked, see
//! `email::replies`), and the site's webhooks (one row of `webhook_deliveries` per
//! matching endpoint, its body rendered once). Mail goes into the outbox, whose worker
//! sends and retries it (`email::worker`). An event is taken by a conditional update that
//! only one transaction can make (instances sharing a PostgreSQL may prepare the same
//! event; the second to commit finds it taken and queues nothing), and a crash before the
//! commit hands the events back: each is handled, and each mail queued, once. The
//! dispatcher looks again every `[events] interval` when there was nothing to do.
//!
//! Their writes go through the instance's writer, batched with the comments' own: on
//! SQLite a second connection writing beside it would make both wait on the file's lock.
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

/// A runtime for a plain thread to wait on the writer with.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
}

/// Runs `work` through the instance's writer (in a savepoint of one of its batches) and
/// waits for it, from a plain thread.
pub(crate) fn write<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    pool: &crate::db::Pool,
    work: impl FnOnce(crate::db::ConnRef<'_>) -> Result<T, crate::error::ApiError> + Send + 'static,
) -> Result<T, crate::error::ApiError> {
    rt.block_on(pool.write_changing(None, move |c| work(c).map(|t| (t, Vec::new()))))
}

/// Lowers the calling thread's CPU priority (nice 10), and that of the threads it starts:
/// on a busy machine, requests come first and deliveries wait (they never make a comment
/// wait; see benches/README.md). Where this is not possible it changes nothing.
pub(crate) fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: both calls only read and set the calling thread's own scheduling
        // priority; no memory is shared.
        let lowered = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10)
        };
        if lowered != 0 {
            tracing::debug!("events: cannot lower a background thread's priority");
        }
    }
}
