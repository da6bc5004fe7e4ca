//! `helix serve` configuration from flags and environment variables.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// How the instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Embedded defaults: generated secrets are fine.
    Development,
    /// Refuses to start with missing or default secrets.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags of `helix serve`; each also reads a `HELIX_*` variable.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "HELIX_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "HELIX_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Where the embedded database and generated key live.
    #[arg(long, env = "HELIX_DATA_DIR", default_value = ".helix-data")]
    pub data_dir: PathBuf,
    /// `postgres://...` for PostgreSQL; default: SQLite in the data dir.
    #[arg(long, env = "HELIX_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The URL users reach Helix at (default http://localhost:PORT).
    #[arg(long, env = "HELIX_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `development` or `production`.
    #[arg(
        long = "env",
        env = "HELIX_ENV",
        value_enum,
        default_value = "development"
    )]
    pub mode: Mode,
    /// 64 hex characters; encrypts secrets at rest. Generated into the data dir when
    /// unset, except in production.
    #[arg(long, env = "HELIX_ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,
    /// Turn off self-registration (the first user can still register).
    #[arg(long, env = "HELIX_DISABLE_REGISTRATION")]
    pub disable_registration: bool,
    /// Log format.
    #[arg(long, env = "HELIX_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Largest request body in bytes (chat requests carry whole conversations).
    #[arg(long, env = "HELIX_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds until a response must have started (a stream may then run longer).
    #[arg(long, env = "HELIX_REQUEST_TIMEOUT_SECS", default_value_t = 300)]
    pub request_timeout_secs: u64,
    /// How often open WebSockets (live updates, desktop streams) check that their
    /// credentials still hold; signed out or revoked, they are closed.
    #[arg(long, env = "HELIX_LIVE_REAUTH_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub live_reauth_secs: u64,
    /// Reverse proxies in front of Helix (comma-separated addresses or CIDRs): their
    /// `X-Forwarded-For` names the client, for per-address sign-in throttling.
    #[arg(long, env = "HELIX_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<crate::client_addr::Cidr>,
    /// Let users and org admins add provider endpoints on private, loopback and
    /// link-local addresses (site admins' global endpoints always may).
    #[arg(long, env = "HELIX_ALLOW_PRIVATE_UPSTREAMS")]
    pub allow_private_upstreams: bool,
    /// Seconds an API key's check and a user's memberships are reused before they are
    /// read again (0: every request). Changes made through any replica on the same
    /// event bus take effect at once regardless; this bounds a missed notification.
    #[arg(long, env = "HELIX_AUTH_CACHE_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub auth_cache_secs: u64,
    /// Login session lifetime in hours.
    #[arg(long, env = "HELIX_SESSION_TTL_HOURS", default_value_t = 168)]
    pub session_ttl_hours: u32,
    /// SSO settings.
    #[command(flatten)]
    pub oidc: OidcArgs,
    /// The web UI's production build; default `frontend/dist` when it exists.
    #[arg(long, env = "HELIX_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// GPU runners and the scheduler.
    #[command(flatten)]
    pub runners: RunnerPoolArgs,
    /// The in-process sandbox host.
    #[command(flatten)]
    pub sandboxes: SandboxArgs,
    /// Desktops streamed to browsers.
    #[command(flatten)]
    pub desktops: crate::desktops::DesktopArgs,
}

/// Whether `helix serve` runs an in-process sandbox host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxMode {
    /// On when the process runs as root and `dockerd` is installed; otherwise off with a
    /// warning.
    Auto,
    /// On; failing to start it stops the server.
    On,
    /// Off: the sandbox API answers `not_configured`.
    Off,
}

/// The in-process sandbox host (a dockerd per sandbox; see docs/sandboxes.md).
#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// Run sandboxes in this process: `auto`, `on` or `off`.
    #[arg(
        long = "sandboxes",
        env = "HELIX_SANDBOXES",
        value_enum,
        default_value = "auto"
    )]
    pub sandbox_mode: SandboxMode,
    /// Persistent sandbox state (engine data roots, image library); default DATA_DIR/sandboxes.
    #[arg(long, env = "HELIX_SANDBOX_STATE_DIR")]
    pub sandbox_state_dir: Option<PathBuf>,
    /// Names of this host's namespaces, links, cgroups and firewall chains (2-4 lowercase
    /// letters); one sandbox host per prefix per machine.
    #[arg(long, env = "HELIX_SANDBOX_PREFIX", default_value = "hx")]
    pub sandbox_prefix: String,
    /// The /30 links between the host and each sandbox come from here; must not overlap
    /// the host's networks or another sandbox host's range on the same machine.
    #[arg(
        long,
        env = "HELIX_SANDBOX_UPLINK_POOL",
        default_value = "10.250.0.0/16"
    )]
    pub sandbox_uplink_pool: String,
    /// Each sandbox's container networks (a /20 each) come from here.
    #[arg(
        long,
        env = "HELIX_SANDBOX_CONTAINER_POOL",
        default_value = "10.128.0.0/12"
    )]
    pub sandbox_container_pool: String,
    /// Disk of each sandbox (its own ext4 filesystem on a loop device) unless it asks for
    /// a size; 0 turns disk quotas off (sandboxes then share the host's filesystem).
    #[arg(long, env = "HELIX_SANDBOX_DISK_BYTES", default_value_t = 10 << 30)]
    pub sandbox_disk_bytes: u64,
    /// Ready engines kept for fast creation.
    #[arg(long, env = "HELIX_SANDBOX_WARM", default_value_t = 1)]
    pub sandbox_warm: usize,
    /// Most sandboxes at once.
    #[arg(long, env = "HELIX_SANDBOX_MAX", default_value_t = 16)]
    pub sandbox_max: usize,
    /// Largest file upload into a sandbox (the request body limit applies too).
    #[arg(long, env = "HELIX_SANDBOX_MAX_UPLOAD_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub sandbox_max_upload_bytes: u64,
    /// Import an image into the library at start: `NAME[:TAG]=ROOTFS.tar` (repeat; `;`
    /// in the variable). The first one is also imported into warm engines.
    #[arg(
        long = "sandbox-image",
        env = "HELIX_SANDBOX_IMAGES",
        value_delimiter = ';'
    )]
    pub sandbox_images: Vec<String>,
}

/// The runner pool: the scheduler's settings, and the in-process runner.
#[derive(Debug, Clone, Args)]
pub struct RunnerPoolArgs {
    /// Run a runner inside this process serving this model (repeat; `;` in the
    /// variable), e.g. `name=tiny,runtime=llama_cpp,source=/m/tiny.gguf,ctx=2048`.
    #[arg(
        long = "runner-model",
        env = "HELIX_RUNNER_MODELS",
        value_delimiter = ';'
    )]
    pub runner_models: Vec<String>,
    /// GPUs of the in-process runner, `NAME:MEMORY` (default: NVML, else the CPU).
    #[arg(long = "runner-gpu", env = "HELIX_RUNNER_GPUS", value_delimiter = ';')]
    pub runner_gpus: Vec<String>,
    /// Seconds an idle model instance stays loaded.
    #[arg(long, env = "HELIX_RUNNER_KEEP_ALIVE_SECS", default_value_t = 300)]
    pub runner_keep_alive_secs: u64,
    /// Models to keep loaded, `model=instances` (comma-separated).
    #[arg(long, env = "HELIX_RUNNER_PREWARM", value_delimiter = ',')]
    pub runner_prewarm: Vec<String>,
    /// Longest a call waits for a model slot (loading included), in seconds.
    #[arg(long, env = "HELIX_RUNNER_QUEUE_WAIT_SECS", default_value_t = 600)]
    pub runner_queue_wait_secs: u64,
}

/// OpenID Connect SSO settings; SSO is on when an issuer is set.
#[derive(Debug, Clone, Args)]
pub struct OidcArgs {
    /// Issuer URL of the OpenID provider.
    #[arg(long, env = "HELIX_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Client id registered at the provider.
    #[arg(long, env = "HELIX_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// Client secret.
    #[arg(long, env = "HELIX_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Extra scopes, comma-separated.
    #[arg(
        long,
        env = "HELIX_OIDC_SCOPES",
        value_delimiter = ',',
        default_value = "email,profile"
    )]
    pub oidc_scopes: Vec<String>,
    /// Only these email domains may sign in (comma-separated; empty: any).
    #[arg(long, env = "HELIX_OIDC_ALLOWED_DOMAINS", value_delimiter = ',')]
    pub oidc_allowed_domains: Vec<String>,
    /// Claim that lists groups.
    #[arg(long, env = "HELIX_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,
    /// Groups whose members are site admins (comma-separated).
    #[arg(long, env = "HELIX_OIDC_ADMIN_GROUPS", value_delimiter = ',')]
    pub oidc_admin_groups: Vec<String>,
    /// `group=org_id:role` grants, comma-separated.
    #[arg(long, env = "HELIX_OIDC_GROUP_ROLES", value_delimiter = ',')]
    pub oidc_group_roles: Vec<String>,
}

impl ServeConfig {
    /// The public URL, defaulting to localhost on the configured port.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{}", self.port))
            .trim_end_matches('/')
            .to_owned()
    }
}
