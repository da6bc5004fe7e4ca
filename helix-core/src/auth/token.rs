//! Random tokens and their hashes: login-session tokens, CSRF tokens, API keys, runner
//! tokens.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every Helix API key starts with this.
pub const API_KEY_PREFIX: &str = "hx-";
/// How many characters of a key are kept to recognise it.
pub const API_KEY_SHOWN_PREFIX_LEN: usize = 10;

/// Every runner token starts with this. It is not a prefix of [`API_KEY_PREFIX`] nor
/// the other way round, so neither kind of secret is ever taken for the other.
pub const RUNNER_TOKEN_PREFIX: &str = "hxr-";
/// How many characters of a runner token are kept to recognise it.
pub const RUNNER_TOKEN_SHOWN_PREFIX_LEN: usize = 12;

/// 32 random bytes, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API key secret: `hx-` followed by a random token.
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token())
}

/// A new runner token secret: `hxr-` followed by a random token.
pub fn new_runner_token() -> String {
    format!("{RUNNER_TOKEN_PREFIX}{}", random_token())
}

/// SHA-256 of a token, hex. Tokens are 256-bit random, so a fast hash is the right
/// tool: it cannot be brute-forced, and lookups stay a single indexed read.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in constant time.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        let k = new_api_key();
        assert!(k.starts_with("hx-"));
        assert_eq!(hash_token(&k), hash_token(&k));
        assert_ne!(hash_token(&k), hash_token(&new_api_key()));
        let r = new_runner_token();
        assert!(r.starts_with("hxr-") && r.len() == 4 + 43);
        assert!(
            !r.starts_with(API_KEY_PREFIX),
            "a runner token is never an api key"
        );
        assert!(!k.starts_with(RUNNER_TOKEN_PREFIX));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
