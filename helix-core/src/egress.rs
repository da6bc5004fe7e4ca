//! Outbound HTTP for enterprise networks: every client Helix builds for calls out
//! (model providers, the OpenID provider) comes from [`client_builder`].
//!
//! - Proxies: `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` and `NO_PROXY` (upper or lower
//!   case), read by reqwest when the client is built.
//! - Private CAs: PEM certificates from `SSL_CERT_FILE` (a bundle) and every `*.pem`
//!   / `*.crt` file in `SSL_CERT_DIR` are trusted in addition to the built-in roots.

use crate::error::{CoreError, Result};
use std::path::Path;

/// A client builder with the proxy settings and extra CA certificates of this process.
pub fn client_builder() -> Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder();
    for cert in extra_roots()? {
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// The extra CA certificates named by `SSL_CERT_FILE` and `SSL_CERT_DIR`.
pub fn extra_roots() -> Result<Vec<reqwest::Certificate>> {
    let mut certs = Vec::new();
    if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        certs.extend(read_bundle(Path::new(&file))?);
    }
    if let Some(dir) = std::env::var_os("SSL_CERT_DIR").filter(|d| !d.is_empty()) {
        // SSL_CERT_DIR may list several directories, like PATH.
        for dir in std::env::split_paths(&dir) {
            let entries = std::fs::read_dir(&dir).map_err(|e| {
                CoreError::internal(format!("cannot read SSL_CERT_DIR {}: {e}", dir.display()))
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                let is_cert = path.extension().is_some_and(|e| e == "pem" || e == "crt");
                if is_cert && path.is_file() {
                    certs.extend(read_bundle(&path)?);
                }
            }
        }
    }
    Ok(certs)
}

fn read_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .map_err(|e| CoreError::internal(format!("cannot read {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        CoreError::internal(format!(
            "{} holds no valid PEM certificates: {e}",
            path.display()
        ))
    })?;
    if certs.is_empty() {
        return Err(CoreError::internal(format!(
            "{} holds no PEM certificates",
            path.display()
        )));
    }
    Ok(certs)
}
