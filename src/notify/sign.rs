//! Signing deliveries: each webhook has a secret, shown once when it is created, and every
//! delivery carries `X-Switchyard-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, the
//! scheme GitHub and Stripe receivers already know. Pure: no I/O besides the random source.

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Switchyard-Signature";
pub const EVENT_HEADER: &str = "X-Switchyard-Event";
/// The outbox row's id: the same on every retry, so a receiver can drop duplicates.
pub const DELIVERY_HEADER: &str = "X-Switchyard-Delivery";

/// A new secret: 32 random bytes (256 bits), hex, behind a prefix that says what it is.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// The header value for `body` signed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn signs_like_the_rfc_test_vector() {
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn secrets_are_long_random_and_distinct() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), "whsec_".len() + 64);
        assert!(a.starts_with("whsec_"));
    }
}
