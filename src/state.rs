//! What every handler shares.

use std::sync::Arc;

use crate::auth::limiter::LoginLimiter;
use crate::auth::password::Hasher;
use crate::cache::ThreadCache;
use crate::config::Settings;
use crate::db::Pool;
use crate::ratelimit::RateLimiter;
use crate::security::ServerKey;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: Pool,
    pub cache: Arc<ThreadCache>,
    pub key: ServerKey,
    pub comment_limiter: RateLimiter,
    /// Authors' edits and deletes.
    pub edit_limiter: RateLimiter,
    /// Password checks, a few at a time.
    pub hasher: Hasher,
    pub login_limiter: LoginLimiter,
    pub reaction_limiter: RateLimiter,
    /// Texts stored lately, for the spam checks' duplicate test.
    pub recent_texts: Arc<crate::service::spam::RecentTexts>,
    /// `None` when email is off (no `[smtp]`).
    pub mailer: Option<Arc<crate::email::Mailer>>,
    /// The SMTP transport, for the admin page's test mail; `None` when email is off.
    pub smtp: Option<lettre::SmtpTransport>,
    /// Webmentions per source domain.
    pub webmention_limiter: crate::federation::webmention::DomainLimiter,
}
