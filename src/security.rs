//! Keyed hashes for edit tokens, visitor ids and avatars.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The server's secret key (stored in the database so every instance shares it).
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

impl ServerKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        ServerKey(k)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s).ok()?;
        Some(ServerKey(bytes.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn mac(&self, domain: &str, data: &[u8]) -> [u8; 32] {
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(domain.as_bytes());
        m.update(&[0]);
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// A URL-safe signature of `data` (mailed action links).
    pub fn sign(&self, domain: &str, data: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(domain, data))
    }

    /// A `urn:uuid:` (version 8: custom) keyed by this server: stable for `data`, unlike
    /// any other installation's (Atom ids).
    pub fn uuid(&self, domain: &str, data: &[u8]) -> String {
        let mut b = self.mac(domain, data);
        b[6] = (b[6] & 0x0f) | 0x80;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(&b[..16]);
        format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Checks a signature from [`ServerKey::sign`] in constant time.
    pub fn verify_signature(&self, domain: &str, data: &[u8], sig: &str) -> bool {
        let Ok(presented) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        self.mac(domain, data).ct_eq(presented.as_slice()).into()
    }

    /// What is stored for an edit token.
    pub fn hash_edit_token(&self, token: &str) -> String {
        hex::encode(self.mac("edit-token", token.as_bytes()))
    }

    /// Compares a presented token with a stored hash in constant time.
    pub fn verify_edit_token(&self, token: &str, stored_hex: &str) -> bool {
        let Ok(stored) = hex::decode(stored_hex) else {
            return false;
        };
        let presented = self.mac("edit-token", token.as_bytes());
        presented.ct_eq(stored.as_slice()).into()
    }

    /// What is stored for a visitor id.
    pub fn hash_visitor(&self, visitor: &str) -> String {
        hex::encode(&self.mac("visitor", visitor.as_bytes())[..16])
    }

    /// What is stored for a moderator's session token.
    pub fn hash_session_token(&self, token: &str) -> String {
        hex::encode(self.mac("session", token.as_bytes()))
    }

    /// The CSRF token of a session: derived from it, so nothing more is stored, and
    /// unguessable without both the session and the key.
    pub fn csrf_token(&self, session_hash: &str) -> String {
        URL_SAFE_NO_PAD.encode(&self.mac("csrf", session_hash.as_bytes())[..24])
    }

    /// Whether a presented CSRF token is the session's, in constant time.
    pub fn verify_csrf_token(&self, session_hash: &str, presented: &str) -> bool {
        let expected = self.csrf_token(session_hash);
        expected.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// A client address as moderators see it and bans match it: a keyed hash, stable
    /// across instances, that tells nothing of the address.
    pub fn hash_ip(&self, ip: &str) -> String {
        hex::encode(&self.mac("ip", ip.as_bytes())[..12])
    }

    /// A stable, non-reversible identicon seed.
    /// A public tag for this installation (the same on every instance of it): exports name
    /// comments written here `afterword:TAG:ID`, so merging two installations never
    /// mistakes one's comment 5 for the other's.
    pub fn instance_tag(&self) -> String {
        hex::encode(&self.mac("instance", b"")[..4])
    }

    pub fn avatar(&self, seed: &str) -> String {
        hex::encode(&self.mac("avatar", seed.as_bytes())[..8])
    }
}

/// A fresh edit token: 32 random bytes, base64url.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_their_hash_and_key() {
        let key = ServerKey::generate();
        let t = new_token();
        assert_eq!(t.len(), 43);
        let h = key.hash_edit_token(&t);
        assert!(!h.contains(&t));
        assert!(key.verify_edit_token(&t, &h));
        assert!(!key.verify_edit_token(&new_token(), &h));
        assert!(!key.verify_edit_token(&t, "zz"));
        assert!(!key.verify_edit_token(&t, &h[..10]));
        assert!(!ServerKey::generate().verify_edit_token(&t, &h));
    }

    #[test]
    fn key_round_trips_and_hides_in_debug() {
        let key = ServerKey::generate();
        let back = ServerKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(key.avatar("x"), back.avatar("x"));
        assert!(ServerKey::from_hex("abcd").is_none());
        assert_eq!(format!("{key:?}"), "ServerKey(<redacted>)");
    }

    #[test]
    fn hashes_are_domain_separated() {
        let key = ServerKey::generate();
        assert_ne!(key.hash_visitor("a")[..16], key.avatar("a")[..16]);
        assert_eq!(key.avatar("a").len(), 16);
        assert_eq!(key.hash_visitor("a").len(), 32);
    }
}
