//! Secrets at rest: AES-256-GCM under `HELIX_ENCRYPTION_KEY`.
//!
//! A sealed secret is `version (1 byte) || nonce (12 bytes) || ciphertext+tag`. The
//! caller passes associated data (e.g. the provider endpoint id) so a ciphertext
//! cannot be moved to another row and still decrypt.

use crate::error::{CoreError, Result};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use std::path::{Path, PathBuf};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
/// The file the embedded default keeps its generated key in.
pub const KEY_FILE: &str = "encryption.key";

/// Encrypts and decrypts secrets with one 256-bit key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// Where the key of a [`SecretBox`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// Given by the operator (`HELIX_ENCRYPTION_KEY`).
    Provided,
    /// Read from the data dir, generated on an earlier start.
    File(PathBuf),
    /// Generated now and written to the data dir.
    Generated(PathBuf),
}

impl SecretBox {
    /// A box from a 64-character hex key (32 bytes). Refuses keys that are obviously
    /// not random (all one byte value), which are what placeholder keys look like.
    pub fn from_hex(hex_key: &str) -> Result<Self> {
        let bytes = hex::decode(hex_key.trim())
            .map_err(|_| CoreError::invalid("HELIX_ENCRYPTION_KEY", "must be 64 hex characters"))?;
        if bytes.len() != 32 {
            return Err(CoreError::invalid(
                "HELIX_ENCRYPTION_KEY",
                "must be 32 bytes (64 hex characters)",
            ));
        }
        if bytes.iter().all(|b| *b == bytes[0]) {
            return Err(CoreError::invalid(
                "HELIX_ENCRYPTION_KEY",
                "is a placeholder (one repeated byte); generate one with `openssl rand -hex 32`",
            ));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(CoreError::internal)?;
        Ok(Self { cipher })
    }

    /// The embedded default: uses `provided` when set, else the key file in `data_dir`,
    /// else generates one there with mode 0600.
    pub fn load_or_generate(provided: Option<&str>, data_dir: &Path) -> Result<(Self, KeySource)> {
        if let Some(key) = provided {
            return Ok((Self::from_hex(key)?, KeySource::Provided));
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((Self::from_hex(&text)?, KeySource::File(path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let text = hex::encode(key);
                write_private(&path, &text)?;
                Ok((Self::from_hex(&text)?, KeySource::Generated(path)))
            }
            Err(e) => Err(CoreError::internal(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Encrypts `plaintext`, binding it to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CoreError::internal("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`seal`](Self::seal) produced with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(CoreError::internal("sealed secret is malformed"));
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| CoreError::internal("secret cannot be decrypted: wrong key or tampered"))
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CoreError::internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut f = opts
        .open(path)
        .map_err(|e| CoreError::internal(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| CoreError::internal(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let (sb, src) =
            SecretBox::load_or_generate(None, tempfile::tempdir().unwrap().path()).unwrap();
        assert!(matches!(src, KeySource::Generated(_)));
        let sealed = sb.seal(b"sk-secret", b"pe_1").unwrap();
        assert!(!sealed.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(sb.open(&sealed, b"pe_1").unwrap(), b"sk-secret");
        assert!(sb.open(&sealed, b"pe_2").is_err(), "aad binds the row");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(sb.open(&bad, b"pe_1").is_err());
        assert!(sb.open(&sealed[..10], b"pe_1").is_err());
    }

    #[test]
    fn generated_key_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = SecretBox::load_or_generate(None, dir.path()).unwrap();
        let sealed = a.seal(b"x", b"").unwrap();
        let (b, src) = SecretBox::load_or_generate(None, dir.path()).unwrap();
        assert!(matches!(src, KeySource::File(_)));
        assert_eq!(b.open(&sealed, b"").unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(SecretBox::from_hex("abc").is_err());
        assert!(SecretBox::from_hex(&"00".repeat(32)).is_err());
        assert!(SecretBox::from_hex(&"zz".repeat(32)).is_err());
        assert!(SecretBox::from_hex(&"ab".repeat(16)).is_err());
    }
}

/// Secret values that are placeholders, never real secrets.
const PLACEHOLDERS: &[&str] = &[
    "",
    "changeme",
    "change-me",
    "secret",
    "password",
    "helix",
    "test",
    "example",
];

/// What a production deployment must not be missing. Returns every problem at once so
/// an operator fixes them in one go.
pub fn production_problems(
    encryption_key: Option<&str>,
    public_url: Option<&str>,
    oidc_client_secret: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    match encryption_key {
        None => problems.push(
            "HELIX_ENCRYPTION_KEY is not set (generate one: openssl rand -hex 32)".to_owned(),
        ),
        Some(k) => {
            if let Err(e) = SecretBox::from_hex(k) {
                problems.push(e.to_string());
            }
        }
    }
    match public_url {
        None => problems.push("HELIX_PUBLIC_URL is not set".to_owned()),
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
            problems.push(format!("HELIX_PUBLIC_URL {u:?} is not an http(s) URL"))
        }
        Some(_) => {}
    }
    if let Some(s) = oidc_client_secret {
        if PLACEHOLDERS.contains(&s.trim().to_lowercase().as_str()) {
            problems.push("HELIX_OIDC_CLIENT_SECRET is a placeholder".to_owned());
        }
    }
    problems
}

#[cfg(test)]
mod production_tests {
    use super::production_problems;

    #[test]
    fn production_needs_real_secrets() {
        assert_eq!(production_problems(None, None, Some("changeme")).len(), 3);
        let key = "0123456789abcdef".repeat(4);
        assert!(production_problems(
            Some(&key),
            Some("https://helix.example.com"),
            Some("s3cr3t-value")
        )
        .is_empty());
        assert_eq!(
            production_problems(Some(&"11".repeat(32)), Some("https://h"), None).len(),
            1
        );
    }
}
