//! Sandboxes on this machine, without a server: the same [`Sandbox`] handles, backed
//! by a sandbox runtime in this process (the Docker host of `helix-hydra`: a dockerd of
//! its own per sandbox; needs root and Docker's binaries).

use crate::error::{Error, Result};
use crate::sandbox::Sandbox;
use helix_hydra::docker::{DockerConfig, DockerHost, ImageLibrary};
use helix_hydra::{HydraError, SandboxId, SandboxInfo, SandboxRuntime, SandboxSpec};
use std::path::PathBuf;
use std::sync::Arc;

/// Where and how a local sandbox host runs. The defaults do not collide with a
/// `helix serve` on the same machine. Deserialises from a map where every field may be
/// left out (the bindings pass their keyword arguments this way).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// This host's engine data roots, address pools and image library live in
    /// `STATE_DIR/PREFIX` (kept between runs). Default `/var/tmp/helix-local`.
    pub state_dir: PathBuf,
    /// Names of this host's namespaces, links and firewall chains: 2-4 lowercase
    /// letters, one host per prefix per machine (`helix serve` uses `hx`). Default `hxl`.
    /// Hosts running at the same time need their own prefixes AND their own pools.
    pub prefix: String,
    /// The /30 host links come from here. Default `10.249.0.0/16`.
    pub uplink_pool: String,
    /// Each sandbox's container networks come from here. Default `10.192.0.0/12`.
    pub container_pool: String,
    /// Images imported into the library at start: `(NAME[:TAG], ROOTFS.tar)`; an
    /// optional `ROOTFS.tar.json` beside the tarball gives ENV, WORKDIR and CMD.
    pub images: Vec<(String, PathBuf)>,
    /// Most sandboxes at once. Default 16.
    pub max_sandboxes: usize,
    /// Each sandbox's own disk (ext4 on a loop device) unless its spec asks; `None`:
    /// no quota, sandboxes share the host's filesystem. Default `None`.
    pub disk_bytes: Option<u64>,
    /// Ready engines kept for fast creation (of the first image). Default 0.
    pub warm: usize,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig::new("/var/tmp/helix-local")
    }
}

impl LocalConfig {
    /// Defaults, keeping state in `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        LocalConfig {
            state_dir: state_dir.into(),
            prefix: "hxl".into(),
            uplink_pool: "10.249.0.0/16".into(),
            container_pool: "10.192.0.0/12".into(),
            images: Vec::new(),
            max_sandboxes: 16,
            disk_bytes: None,
            warm: 0,
        }
    }
}

/// Sandboxes run by this process. Cloning shares the host.
///
/// ```no_run
/// # async fn demo() -> helix_client::Result<()> {
/// use helix_client::{ExecSpec, LocalConfig, LocalSandboxes, SandboxSpec};
///
/// let mut cfg = LocalConfig::new("/var/tmp/my-ci-sandboxes");
/// cfg.images.push(("busybox:1".into(), "busybox-rootfs.tar".into()));
/// let host = LocalSandboxes::start(cfg).await?;
/// let sandbox = host.create_sandbox(SandboxSpec::new("busybox:1")).await?;
/// let out = sandbox.run(ExecSpec::new(["echo", "hi"])).await?.wait().await?;
/// assert_eq!(out.stdout, b"hi\n");
/// host.shutdown().await; // kills every sandbox it made
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LocalSandboxes {
    runtime: Arc<dyn SandboxRuntime>,
    docker: Option<DockerHost>,
}

/// A host-side error as the server would report it: same code, same status.
pub(crate) fn hydra_error(e: HydraError) -> Error {
    Error {
        status: Some(e.http_status()),
        code: e.code().to_owned(),
        message: e.to_string(),
    }
}

impl LocalSandboxes {
    /// Starts a Docker sandbox host in this process (collecting whatever a crashed
    /// earlier host with the same prefix left behind).
    pub async fn start(cfg: LocalConfig) -> Result<Self> {
        let state_dir = std::path::absolute(&cfg.state_dir)
            .map_err(|e| {
                Error::new(
                    crate::INVALID_ARGUMENT,
                    format!("state_dir {}: {e}", cfg.state_dir.display()),
                )
            })?
            .join(&cfg.prefix);
        let mut dc = DockerConfig::new(&state_dir, format!("/run/helix-hydra/{}", cfg.prefix));
        dc.prefix = cfg.prefix.clone();
        let pool = |what: &str, s: &str| {
            s.parse().map_err(|e: HydraError| {
                Error::new(crate::INVALID_ARGUMENT, format!("{what} {s:?}: {e}"))
            })
        };
        dc.uplink_pool = pool("uplink_pool", &cfg.uplink_pool)?;
        dc.container_pool = pool("container_pool", &cfg.container_pool)?;
        dc.max_sandboxes = cfg.max_sandboxes;
        dc.default_disk_bytes = cfg.disk_bytes;
        dc.warm_pool = cfg.warm;
        dc.warm_images = cfg
            .images
            .first()
            .map(|(n, _)| vec![n.clone()])
            .unwrap_or_default();
        // Checked before anything is written under STATE_DIR/PREFIX.
        dc.validate().map_err(hydra_error)?;
        let library = ImageLibrary::new(state_dir.join("images"));
        for (name, path) in &cfg.images {
            library
                .import_rootfs_with_sidecar(name, path)
                .map_err(hydra_error)?;
        }
        let (host, _gc) = DockerHost::start(dc).await.map_err(hydra_error)?;
        Ok(LocalSandboxes {
            runtime: Arc::new(host.clone()),
            docker: Some(host),
        })
    }

    /// Sandboxes on any runtime (another backend, or a fake in tests).
    pub fn from_runtime(runtime: Arc<dyn SandboxRuntime>) -> Self {
        LocalSandboxes {
            runtime,
            docker: None,
        }
    }

    /// Creates a sandbox; it is running when this returns.
    pub async fn create_sandbox(&self, spec: SandboxSpec) -> Result<Sandbox> {
        let info = self.runtime.create(spec).await.map_err(hydra_error)?;
        Ok(Sandbox::local(self.runtime.clone(), info))
    }

    /// A handle on a sandbox of this host.
    pub async fn connect_sandbox(&self, sandbox_id: &str) -> Result<Sandbox> {
        let id = SandboxId::parse(sandbox_id).map_err(hydra_error)?;
        let info = self.runtime.get(&id).await.map_err(hydra_error)?;
        Ok(Sandbox::local(self.runtime.clone(), info))
    }

    /// This host's sandboxes, oldest first.
    pub async fn list_sandboxes(&self) -> Result<Vec<SandboxInfo>> {
        self.runtime.list().await.map_err(hydra_error)
    }

    /// Kills every sandbox and stops the host's background work (a Docker host only;
    /// another runtime is left as it is). Handles fail with `sandbox_not_found` after.
    pub async fn shutdown(&self) {
        if let Some(d) = &self.docker {
            d.shutdown().await;
        }
    }
}
