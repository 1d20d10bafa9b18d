//! Signed, expiring, single-use action links in moderator mail.
//!
//! A token is `id.action.expiry.nonce.recipient.signature`: the HMAC (server key) covers
//! everything before the signature; the recipient (base64) becomes the moderator label in
//! the audit log. Single use is the `used_tokens` table: the nonce is inserted in the same
//! transaction as the action.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::domain::Action;
use crate::domain::CommentId;
use crate::security::ServerKey;

/// How long a mailed link works.
pub const VALID_FOR_SECS: i64 = 7 * 24 * 3600;
const DOMAIN: &str = "mail-action";

/// The actions a mail may offer.
pub const MAIL_ACTIONS: [&str; 3] = ["approve", "spam", "delete"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionToken {
    pub comment: CommentId,
    pub action: String,
    /// Unix seconds.
    pub expires: i64,
    pub nonce: String,
    pub recipient: String,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Malformed, or the signature does not match.
    Invalid,
    Expired,
}

impl ActionToken {
    pub fn new(comment: CommentId, action: &str, recipient: &str, now_secs: i64) -> Self {
        ActionToken {
            comment,
            action: action.to_owned(),
            expires: now_secs + VALID_FOR_SECS,
            nonce: crate::security::new_token(),
            recipient: recipient.to_owned(),
        }
    }

    fn payload(&self) -> String {
        format!(
            "{}.{}.{}.{}.{}",
            self.comment.0,
            self.action,
            self.expires,
            self.nonce,
            URL_SAFE_NO_PAD.encode(self.recipient.as_bytes())
        )
    }

    pub fn encode(&self, key: &ServerKey) -> String {
        let payload = self.payload();
        let sig = key.sign(DOMAIN, payload.as_bytes());
        format!("{payload}.{sig}")
    }

    /// Checks the signature, then the expiry.
    pub fn decode(key: &ServerKey, token: &str, now_secs: i64) -> Result<Self, Refused> {
        let token = token.trim();
        let (payload, sig) = token.rsplit_once('.').ok_or(Refused::Invalid)?;
        if token.len() > 1024 || !key.verify_signature(DOMAIN, payload.as_bytes(), sig) {
            return Err(Refused::Invalid);
        }
        let parts: Vec<&str> = payload.split('.').collect();
        let [id, action, expires, nonce, recipient] = parts[..] else {
            return Err(Refused::Invalid);
        };
        let t = ActionToken {
            comment: CommentId(id.parse().map_err(|_| Refused::Invalid)?),
            action: action.to_owned(),
            expires: expires.parse().map_err(|_| Refused::Invalid)?,
            nonce: nonce.to_owned(),
            recipient: URL_SAFE_NO_PAD
                .decode(recipient)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(Refused::Invalid)?,
        };
        if !MAIL_ACTIONS.contains(&t.action.as_str()) {
            return Err(Refused::Invalid);
        }
        if now_secs > t.expires {
            return Err(Refused::Expired);
        }
        Ok(t)
    }

    pub fn action(&self) -> Option<Action> {
        Action::parse(&self.action)
    }

    /// Who acted, as the audit log shows it.
    pub fn moderator_label(&self) -> String {
        // Links in webhook messages name the site's webhook, not an address.
        if self.recipient.starts_with("webhook:") {
            return self.recipient.clone();
        }
        format!("email:{}", self.recipient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_tamper_expiry() {
        let key = ServerKey::generate();
        let t = ActionToken::new(CommentId(42), "approve", "me@example.com", 1000);
        let s = t.encode(&key);
        assert_eq!(ActionToken::decode(&key, &s, 1000), Ok(t.clone()));
        let tampered = s.replacen("42.", "43.", 1);
        assert_eq!(
            ActionToken::decode(&key, &tampered, 1000),
            Err(Refused::Invalid)
        );
        let other = ServerKey::generate();
        assert_eq!(ActionToken::decode(&other, &s, 1000), Err(Refused::Invalid));
        assert_eq!(
            ActionToken::decode(&key, &s, 1000 + VALID_FOR_SECS + 1),
            Err(Refused::Expired)
        );
        assert_eq!(ActionToken::decode(&key, "x", 0), Err(Refused::Invalid));
    }
}
