//! Credentials from the OS CSPRNG (`random`), stored only as SHA-256 (SPEC §6).
//!
//! Every secret here is machine-generated with at least 122 random bits, so a fast hash
//! is enough: there is nothing to brute-force, and a slow password hash would cap the
//! service at a few hundred requests a second.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::random::random_bytes;

/// The SHA-256 of a secret, hex-encoded: what the store keeps instead of the secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self::keyed("", secret)
    }

    /// The store key of an authorization code. A code this service issued starts with its
    /// issue time (`new_auth_code`); the key keeps that public prefix before the SHA-256, so
    /// codes sit in the store in issue order: minting appends, and a redemption, which
    /// follows its mint within seconds, finds its row on a recently used page instead of a
    /// random one. Any other string is keyed by its SHA-256 alone.
    pub fn of_code(code: &str) -> Self {
        Self::keyed(issue_time_prefix(code).unwrap_or(""), code)
    }

    /// `prefix`, then the SHA-256 of `secret` in hex, built in one allocation: every
    /// request hashes at least one credential.
    fn keyed(prefix: &str, secret: &str) -> Self {
        let mut digits = [0u8; 2 * 32];
        hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut digits)
            .expect("a SHA-256 is 32 bytes");
        let mut key = String::with_capacity(prefix.len() + digits.len());
        key.push_str(prefix);
        key.push_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
        SecretHash(key)
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

/// 256 random bits, base64url: authorization codes, ccg tokens and client secrets.
pub fn new_opaque_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Hex digits of the issue time (Unix milliseconds) that start an authorization code.
const TIME_DIGITS: usize = 12;
/// Length of `new_opaque_secret`'s output.
const SECRET_CHARS: usize = 43;

/// An authorization code: its issue time in 12 hex digits (not secret: it orders codes in
/// the store, see `SecretHash::of_code`), then 256 random bits (SPEC §6).
pub fn new_auth_code(issued_at_millis: i64) -> String {
    let time = issued_at_millis.clamp(0, (1 << (4 * TIME_DIGITS)) - 1);
    format!("{time:012x}{}", new_opaque_secret())
}

fn issue_time_prefix(code: &str) -> Option<&str> {
    let prefix = code.get(..TIME_DIGITS)?;
    let well_formed = code.len() == TIME_DIGITS + SECRET_CHARS
        && prefix
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    well_formed.then_some(prefix)
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
    fn auth_codes_carry_their_issue_time_and_256_bits() {
        let code = new_auth_code(0x0123_4567_89ab);
        assert_eq!(&code[..12], "0123456789ab");
        assert_eq!(URL_SAFE_NO_PAD.decode(&code[12..]).unwrap().len(), 32);
        assert_ne!(code, new_auth_code(0x0123_4567_89ab));
    }

    #[test]
    fn code_keys_sort_by_issue_time_and_hide_the_secret() {
        let (early, late) = (new_auth_code(1_000), new_auth_code(2_000));
        let (early_key, late_key) = (SecretHash::of_code(&early), SecretHash::of_code(&late));
        assert!(early_key.as_str() < late_key.as_str());
        assert_eq!(&early_key.as_str()[12..], SecretHash::of(&early).as_str());
        assert!(!early_key.as_str().contains(&early[12..]));
    }

    #[test]
    fn other_strings_are_keyed_by_their_hash_alone() {
        for code in ["", "short", "Zk1pQ2Vb9xTn0r4Ywq8sJd3LmA6uHc2eFg7iKo5pRtU"] {
            assert_eq!(SecretHash::of_code(code), SecretHash::of(code));
        }
        let upper = format!("0123456789AB{}", new_opaque_secret());
        assert_eq!(SecretHash::of_code(&upper), SecretHash::of(&upper));
        let multibyte = format!("0123456789é{}", new_opaque_secret());
        assert_eq!(SecretHash::of_code(&multibyte), SecretHash::of(&multibyte));
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
