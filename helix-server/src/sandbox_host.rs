//! The in-process sandbox host of `helix serve` (`--sandboxes auto|on|off`).

use crate::config::{SandboxArgs, SandboxMode};
use anyhow::Context;
use helix_hydra::docker::{DockerConfig, DockerHost, ImageConfig, ImageLibrary};
use std::path::Path;

/// Starts the Docker sandbox host if the flags ask for it and the machine allows it.
/// `auto` turns into `None` (with a warning) where `on` would fail.
pub async fn start(args: &SandboxArgs, data_dir: &Path) -> anyhow::Result<Option<DockerHost>> {
    if args.sandbox_mode == SandboxMode::Off {
        return Ok(None);
    }
    match start_inner(args, data_dir).await {
        Ok(host) => Ok(Some(host)),
        Err(e) if args.sandbox_mode == SandboxMode::Auto => {
            tracing::warn!(
                error = format!("{e:#}"),
                "sandboxes are off (--sandboxes on to require them)"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

async fn start_inner(args: &SandboxArgs, data_dir: &Path) -> anyhow::Result<DockerHost> {
    let state_dir = args
        .sandbox_state_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("sandboxes"));
    let state_dir = if state_dir.is_absolute() {
        state_dir
    } else {
        std::env::current_dir()?.join(state_dir)
    };
    let mut cfg = DockerConfig::new(
        state_dir,
        format!("/run/helix-hydra/{}", args.sandbox_prefix),
    );
    cfg.prefix = args.sandbox_prefix.clone();
    cfg.warm_pool = args.sandbox_warm;
    cfg.max_sandboxes = args.sandbox_max;
    cfg.max_upload_bytes = args.sandbox_max_upload_bytes;
    let mut imports = Vec::new();
    for spec in args.sandbox_images.iter().filter(|s| !s.is_empty()) {
        let (name, path) = spec
            .split_once('=')
            .with_context(|| format!("bad --sandbox-image {spec:?}: expected NAME=ROOTFS.tar"))?;
        imports.push((name.trim().to_owned(), path.trim().to_owned()));
    }
    cfg.warm_images = imports
        .first()
        .map(|(n, _)| vec![n.clone()])
        .unwrap_or_default();
    // Imported before the host starts, so warm engines find them.
    let library = ImageLibrary::new(cfg.state_dir.join("images"));
    for (name, path) in imports {
        // An optional `ROOTFS.tar.json` beside the tarball gives ENV, WORKDIR and CMD.
        let sidecar = format!("{path}.json");
        let config: ImageConfig = match std::fs::read(&sidecar) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("bad image config {sidecar}"))?,
            Err(_) => ImageConfig::default(),
        };
        library
            .import_rootfs(&name, Path::new(&path), &config)
            .with_context(|| format!("cannot import sandbox image {name} from {path}"))?;
    }
    let (host, gc) = DockerHost::start(cfg)
        .await
        .context("cannot start the sandbox host")?;
    tracing::info!(
        prefix = %host.config().prefix,
        collected = gc.engines + gc.orphans,
        "sandbox host ready"
    );
    Ok(host)
}
