//! What the endpoints do, generic over the backend: handlers parse, these decide.
//! One file per capability.

pub mod comments;
pub mod events;
pub mod federation;
pub mod feeds;
pub mod hooks;
pub mod moderation;
pub mod outbox;
pub mod privacy;
pub mod reactions;
pub mod replies;
pub mod spam;

pub use comments::*;
