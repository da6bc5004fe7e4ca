//! Shared state of the HTTP host.

use crate::metrics::Metrics;
use helix_core::ControlPlane;
use std::sync::Arc;

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The control plane: all behaviour lives there.
    pub cp: ControlPlane,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// HTTP settings.
    pub http: Arc<HttpSettings>,
    /// The hub GPU runners connect to, when this host has one.
    pub runners: Option<helix_sched::hub::RunnerHub>,
    /// Sandboxes, when this host runs a sandbox host.
    pub sandboxes: Option<Arc<helix_hydra::SandboxService>>,
    /// Every sandbox host (the in-process one and those that dial in) as one runtime.
    pub fleet: Option<helix_hydra::remote::SandboxFleet>,
    /// The in-process Docker sandbox host behind `sandboxes`, if any (for shutdown).
    pub sandbox_host: Option<helix_hydra::docker::DockerHost>,
    /// Desktops viewers may stream (`--desktop`).
    pub desktops: crate::desktops::DesktopRegistry,
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The URL users reach Helix at (links, OIDC callback, cookie `Secure`).
    pub public_url: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: std::time::Duration,
    /// The web UI's production build (`frontend/dist`), served for non-API paths.
    pub web_dir: Option<std::path::PathBuf>,
    /// How often a WebSocket (live updates, a desktop stream) checks that the
    /// credentials it was opened with still hold; signed out, it is closed.
    pub live_reauth_every: std::time::Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client (login throttling).
    pub trusted_proxies: Vec<crate::client_addr::Cidr>,
}

impl HttpSettings {
    /// Whether cookies must be `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            public_url: "http://localhost:8080".into(),
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: std::time::Duration::from_secs(300),
            web_dir: None,
            live_reauth_every: std::time::Duration::from_secs(15),
            trusted_proxies: Vec::new(),
        }
    }
}

impl AppState {
    /// State over a control plane with default HTTP settings.
    pub fn new(cp: ControlPlane, http: HttpSettings) -> Self {
        AppState {
            cp,
            metrics: Arc::new(Metrics::new()),
            http: Arc::new(http),
            runners: None,
            sandboxes: None,
            fleet: None,
            sandbox_host: None,
            desktops: Default::default(),
        }
    }

    /// With sandboxes served by `runtime`.
    pub fn with_sandboxes(mut self, runtime: Arc<dyn helix_hydra::SandboxRuntime>) -> Self {
        self.sandboxes = Some(Arc::new(helix_hydra::SandboxService::new(runtime)));
        self
    }

    /// With a fleet of sandbox hosts: remote hosts may dial in, and `local` (the
    /// in-process Docker host, if any) takes sandboxes too.
    pub fn with_fleet(mut self, local: Option<helix_hydra::docker::DockerHost>) -> Self {
        let member = local.as_ref().map(|h| {
            let max = h.config().max_sandboxes;
            (
                Arc::new(h.clone()) as Arc<dyn helix_hydra::SandboxRuntime>,
                max,
            )
        });
        let fleet = helix_hydra::remote::SandboxFleet::new(member);
        self.sandbox_host = local;
        self.fleet = Some(fleet.clone());
        self.with_sandboxes(Arc::new(fleet))
    }

    /// With a runner hub (runners may connect; admins see the scheduler).
    pub fn with_runners(mut self, hub: helix_sched::hub::RunnerHub) -> Self {
        self.runners = Some(hub);
        self
    }
}
