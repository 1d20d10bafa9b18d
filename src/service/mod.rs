//! What the endpoints do, generic over the backend: handlers parse, these decide.
//! One file per capability.

pub mod comments;
pub mod reactions;

pub use comments::*;
