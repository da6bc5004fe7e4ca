//! The host's image library.
//!
//! Each session has its own engine and so its own image store; images come from a
//! library on the sandbox host: root filesystem tarballs (what `docker export` or
//! `tar -C rootfs -c .` writes) with a small JSON config, imported into a session engine
//! on first use (`POST /images/create?fromSrc=-`, the API behind `docker import`). Warm
//! engines import the configured images ahead of time. No registry is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bollard::query_parameters::CreateImageOptions;
use bollard::Docker;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::{HydraError, Result};

/// How an imported image runs by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Default command (`CMD`).
    #[serde(default)]
    pub cmd: Vec<String>,
    /// Default environment (`ENV`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Default working directory (`WORKDIR`).
    #[serde(default)]
    pub workdir: Option<String>,
}

/// Splits `name[:tag]` into repository and tag (default `latest`), refusing anything that
/// could name a path outside the library.
pub fn parse_reference(reference: &str) -> Result<(String, String)> {
    let (repo, tag) = match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (reference, "latest"),
    };
    let repo_ok = !repo.is_empty()
        && repo.len() <= 200
        && repo
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
        && !repo
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !(repo_ok && tag_ok) {
        return Err(HydraError::invalid(format!(
            "image reference {reference:?} is not of the form name[:tag]"
        )));
    }
    Ok((repo.to_owned(), tag.to_owned()))
}

/// The library: `DIR/<repo with / as %>/<tag>.tar` and `.json`.
#[derive(Debug, Clone)]
pub struct ImageLibrary {
    dir: PathBuf,
}

impl ImageLibrary {
    /// A library rooted at `dir` (created when the first image is imported).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ImageLibrary { dir: dir.into() }
    }

    fn paths(&self, reference: &str) -> Result<(PathBuf, PathBuf)> {
        let (repo, tag) = parse_reference(reference)?;
        let base = self.dir.join(repo.replace('/', "%"));
        Ok((
            base.join(format!("{tag}.tar")),
            base.join(format!("{tag}.json")),
        ))
    }

    /// Adds (or replaces) an image from a root filesystem tarball.
    pub fn import_rootfs(
        &self,
        reference: &str,
        rootfs_tar: &Path,
        config: &ImageConfig,
    ) -> Result<()> {
        let (tar, json) = self.paths(reference)?;
        let parent = tar.parent().expect("library path has a parent");
        std::fs::create_dir_all(parent)
            .map_err(HydraError::io(format!("create {}", parent.display())))?;
        let tmp = tar.with_extension("tar.tmp");
        std::fs::copy(rootfs_tar, &tmp)
            .map_err(HydraError::io(format!("copy {}", rootfs_tar.display())))?;
        std::fs::rename(&tmp, &tar).map_err(HydraError::io("store image"))?;
        let body = serde_json::to_vec_pretty(config).expect("config serialises");
        std::fs::write(&json, body).map_err(HydraError::io("store image config"))?;
        Ok(())
    }

    /// [`Self::import_rootfs`] with the image's config from an optional
    /// `ROOTFS.tar.json` beside the tarball (ENV, WORKDIR, CMD); none: defaults.
    pub fn import_rootfs_with_sidecar(&self, reference: &str, rootfs_tar: &Path) -> Result<()> {
        let mut sidecar = rootfs_tar.as_os_str().to_owned();
        sidecar.push(".json");
        let sidecar = PathBuf::from(sidecar);
        let config: ImageConfig = match std::fs::read(&sidecar) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| HydraError::InvalidRequest {
                    reason: format!("bad image config {}: {e}", sidecar.display()),
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ImageConfig::default(),
            Err(e) => return Err(HydraError::io(format!("read {}", sidecar.display()))(e)),
        };
        if !rootfs_tar.is_file() {
            return Err(HydraError::InvalidRequest {
                reason: format!("image {reference}: {} is not a file", rootfs_tar.display()),
            });
        }
        self.import_rootfs(reference, rootfs_tar, &config)
    }

    /// Whether the library holds `reference`.
    pub fn contains(&self, reference: &str) -> bool {
        self.paths(reference).is_ok_and(|(tar, _)| tar.exists())
    }

    /// Makes sure the engine has `reference`, importing it from the library if needed.
    pub(crate) async fn ensure(&self, docker: &Docker, reference: &str) -> Result<()> {
        let (repo, tag) = parse_reference(reference)?;
        let full = format!("{repo}:{tag}");
        if docker.inspect_image(&full).await.is_ok() {
            return Ok(());
        }
        let (tar, json) = self.paths(reference)?;
        if !tar.exists() {
            return Err(HydraError::ImageNotFound {
                image: reference.to_owned(),
            });
        }
        let config: ImageConfig = match std::fs::read(&json) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                HydraError::invalid(format!("image config {}: {e}", json.display()))
            })?,
            Err(_) => ImageConfig::default(),
        };
        let mut changes = Vec::new();
        if !config.cmd.is_empty() {
            changes.push(format!(
                "CMD {}",
                serde_json::to_string(&config.cmd).expect("strings serialise")
            ));
        }
        for (k, v) in &config.env {
            changes.push(format!("ENV {k}={v}"));
        }
        if let Some(w) = &config.workdir {
            changes.push(format!("WORKDIR {w}"));
        }
        let file = tokio::fs::File::open(&tar)
            .await
            .map_err(HydraError::io(format!("open {}", tar.display())))?;
        let body = futures::stream::unfold(file, |mut f| async move {
            let mut buf = vec![0u8; 1 << 20];
            match f.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((bytes::Bytes::from(buf), f))
                }
            }
        });
        let opts = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo),
            tag: Some(tag),
            changes,
            ..Default::default()
        };
        let mut progress = docker.create_image(Some(opts), Some(bollard::body_stream(body)), None);
        while let Some(item) = progress.next().await {
            item.map_err(|e| HydraError::Engine {
                message: format!("import {reference}: {e}"),
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_refuse_paths() {
        assert_eq!(
            parse_reference("busybox").unwrap(),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            parse_reference("helix/desktop:1.2").unwrap(),
            ("helix/desktop".into(), "1.2".into())
        );
        for bad in ["../x", "a//b", "UP", "a:b/c:../", "", "x:", "a/../b"] {
            assert!(parse_reference(bad).is_err(), "{bad}");
        }
    }
}
