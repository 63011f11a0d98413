//! Credentials from the OS CSPRNG, stored only as SHA-256 (SPEC §6).
//!
//! Every secret here is machine-generated with at least 122 random bits, so a fast hash
//! is enough: there is nothing to brute-force, and a slow password hash would cap the
//! service at a few hundred requests a second.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of a secret, hex-encoded: what the store keeps instead of the secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        SecretHash(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    /// Wraps a hash read back from the store.
    pub fn from_stored(hex: String) -> Self {
        SecretHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 8-character prefix that logs may show (SPEC §6).
    pub fn log_prefix(&self) -> &str {
        &self.0[..8.min(self.0.len())]
    }

    /// Constant-time comparison, so timing reveals nothing of a stored hash.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes
}

/// 256 random bits, base64url: authorization codes, ccg tokens and client secrets.
pub fn new_opaque_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A UUID v4 string (122 random bits): access tokens, as in the documented example.
pub fn new_access_token() -> String {
    uuid::Builder::from_random_bytes(random_bytes::<16>())
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_secrets_carry_256_bits_and_differ() {
        let a = new_opaque_secret();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, new_opaque_secret());
    }

    #[test]
    fn access_tokens_are_uuid_v4() {
        let token = new_access_token();
        let parsed = uuid::Uuid::parse_str(&token).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }

    #[test]
    fn hashes_are_sha256_hex_and_compare_by_value() {
        let h = SecretHash::of("password");
        assert_eq!(
            h.as_str(),
            "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        );
        assert!(h.matches(&SecretHash::of("password")));
        assert!(!h.matches(&SecretHash::of("Password")));
        assert_eq!(h.log_prefix(), "5e884898");
    }
}
