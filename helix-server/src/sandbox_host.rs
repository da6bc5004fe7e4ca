//! The in-process sandbox host of `helix serve` (`--sandboxes auto|on|off`).

use crate::config::{SandboxArgs, SandboxMode};
use anyhow::Context;
use helix_hydra::docker::{DockerConfig, DockerHost, ImageLibrary};
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
    cfg.uplink_pool = args
        .sandbox_uplink_pool
        .parse()
        .with_context(|| format!("bad --sandbox-uplink-pool {:?}", args.sandbox_uplink_pool))?;
    cfg.container_pool = args.sandbox_container_pool.parse().with_context(|| {
        format!(
            "bad --sandbox-container-pool {:?}",
            args.sandbox_container_pool
        )
    })?;
    cfg.warm_pool = args.sandbox_warm;
    cfg.max_sandboxes = args.sandbox_max;
    cfg.max_upload_bytes = args.sandbox_max_upload_bytes;
    cfg.default_disk_bytes = (args.sandbox_disk_bytes > 0).then_some(args.sandbox_disk_bytes);
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
        library
            .import_rootfs_with_sidecar(&name, Path::new(&path))
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

/// `helix sandbox-host`: a sandbox host that dials out to a control plane.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxHostArgs {
    /// The control plane, `http(s)://host:port`.
    #[arg(long, env = "HELIX_SERVER")]
    pub server: String,
    /// A node token (`hxr-...`, from `POST /api/v1/runner-tokens`); its runner id is
    /// this host's id.
    #[arg(long, env = "HELIX_SANDBOX_HOST_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Where the host keeps its state unless `--sandbox-state-dir` says otherwise.
    #[arg(long, env = "HELIX_DATA_DIR", default_value = ".helix-sandbox-host")]
    pub data_dir: std::path::PathBuf,
    /// The sandbox host's settings (`--sandboxes` is ignored: it is always on here).
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// Runs a sandbox host until SIGINT/SIGTERM: starts the Docker host, then keeps a link
/// to the control plane, reconnecting with backoff. Sandboxes keep running while the
/// link is down; they are stopped when the host stops.
pub async fn run_remote(args: SandboxHostArgs) -> anyhow::Result<()> {
    let mut sargs = args.sandbox.clone();
    sargs.sandbox_mode = SandboxMode::On;
    let host = start(&sargs, &args.data_dir)
        .await?
        .context("the sandbox host did not start")?;
    let max = host.config().max_sandboxes;
    let runtime: std::sync::Arc<dyn helix_hydra::SandboxRuntime> =
        std::sync::Arc::new(host.clone());
    let connector = helix_sched::runner::connect::WsConnector::with_path(
        &args.server,
        "/api/v1/sandbox-hosts/connect",
        args.token.clone(),
    )?;
    let link = async {
        let mut attempt = 0u32;
        loop {
            match helix_sched::runner::Connector::connect(&connector).await {
                Ok(connected) => {
                    attempt = 0;
                    let (rx, tx) = crate::sandbox_link::bridge(connected.transport);
                    match helix_hydra::remote::serve_link(runtime.clone(), max, rx, tx).await {
                        helix_hydra::remote::LinkEnd::Closed(why) => {
                            tracing::warn!(
                                reason = why,
                                "link to the control plane closed; reconnecting"
                            )
                        }
                        helix_hydra::remote::LinkEnd::Refused(why) => {
                            tracing::error!(
                                reason = why,
                                "the control plane broke the protocol; reconnecting"
                            )
                        }
                    }
                }
                Err(e) if e.contains(" 401 ") || e.contains(" 403 ") => {
                    anyhow::bail!("the control plane refused the token: {e}");
                }
                Err(e) => tracing::warn!(error = e, attempt, "cannot reach the control plane"),
            }
            attempt = attempt.saturating_add(1);
            // Full jitter, 0.5 s doubling up to 30 s.
            let cap = (500u64 << attempt.min(6)).min(30_000);
            let wait = rand::random::<u64>() % cap.max(1);
            tokio::time::sleep(std::time::Duration::from_millis(wait.max(100))).await;
        }
    };
    let result = tokio::select! {
        r = link => r,
        _ = crate::serve::shutdown_signal() => Ok(()),
    };
    host.shutdown().await;
    result
}
