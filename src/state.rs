//! What every handler shares.

use std::sync::Arc;

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
    pub reaction_limiter: RateLimiter,
}
