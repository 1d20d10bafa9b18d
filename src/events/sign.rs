//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the receiver checks
//! `webhook-signature` against the HMAC-SHA256, under the shared secret, of
//! `{webhook-id}.{webhook-timestamp}.{body}`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `v1,` and the base64 of the HMAC-SHA256 of `id.timestamp.body` under `key`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The headers of one attempt: the message id (the same on every attempt), the time of
/// this attempt, and the signature when the endpoint has a secret.
pub fn headers(
    key: Option<&[u8]>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("content-type", "application/json".to_owned()),
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
    ];
    if let Some(k) = key {
        h.push(("webhook-signature", signature(k, id, timestamp, body)));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn matches_the_reference_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let key = crate::config::parse_webhook_secret(secret).unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key.0, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn no_secret_no_signature() {
        let h = headers(None, "msg_1", 5, b"{}");
        assert!(h.iter().all(|(n, _)| *n != "webhook-signature"));
        let h = headers(Some(b"k"), "msg_1", 5, b"{}");
        assert!(h
            .iter()
            .any(|(n, v)| *n == "webhook-signature" && v.starts_with("v1,")));
    }
}
