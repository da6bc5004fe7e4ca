//! [`DockerHost`]: the Docker backend of [`SandboxRuntime`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptions;
use bytes::Bytes;
use chrono::Utc;
use tokio::sync::{Mutex, Notify, RwLock};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::docker::engine::{Engine, EngineOptions, EngineRecord};
use crate::docker::firewall::{self, Chains};
use crate::docker::gc::{self, GcReport};
use crate::docker::images::ImageLibrary;
use crate::docker::{dns, ops, sys};
use crate::sandbox::{
    check_timeout, ExecSpec, ExecStream, FileEntry, LogStream, SandboxId, SandboxInfo,
    SandboxRuntime, SandboxSpec, SandboxState, DEFAULT_TIMEOUT,
};
use crate::{AddrPool, HydraError, Result, Subnet};

/// Configuration of a Docker sandbox host.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// Persistent state: address pools, engine records, engine data roots, image library.
    pub state_dir: PathBuf,
    /// Runtime state: engine sockets, pid files, exec roots (keep the path short: unix
    /// socket paths are limited to 107 bytes).
    pub run_dir: PathBuf,
    /// Names every namespace (`{prefix}-N`), veth (`hy{prefix}N`), cgroup and firewall
    /// chain of this host: 2 to 4 lowercase letters. Two hosts on one machine need two
    /// prefixes.
    pub prefix: String,
    /// Where the /30 links between the host and each session come from.
    pub uplink_pool: Subnet,
    /// Where each session's container networks come from.
    pub container_pool: Subnet,
    /// The size of one session's share of `container_pool` (a /20 holds 16 /24 networks).
    pub session_prefix_len: u8,
    /// The dockerd binary.
    pub dockerd: PathBuf,
    /// How many ready engines to keep for fast creation.
    pub warm_pool: usize,
    /// Images imported into warm engines ahead of time.
    pub warm_images: Vec<String>,
    /// Most sandboxes at once.
    pub max_sandboxes: usize,
    /// Largest file upload.
    pub max_upload_bytes: u64,
    /// Largest file read.
    pub max_read_bytes: u64,
    /// TCP ports of the host that sessions may reach (e.g. a local HTTP proxy).
    pub allow_host_tcp_ports: Vec<u16>,
    /// Resolvers the session DNS forwards to (default: the host's `/etc/resolv.conf`).
    pub upstream_dns: Option<Vec<SocketAddr>>,
    /// How often expired sandboxes are looked for.
    pub reap_interval: Duration,
    /// Disk of a sandbox that does not ask for a size (and of warm engines); `None`: no
    /// quota (the host's filesystem). Needs loop devices and `mkfs.ext4`.
    pub default_disk_bytes: Option<u64>,
}

impl DockerConfig {
    /// Defaults rooted at `state_dir` and `run_dir`.
    pub fn new(state_dir: impl Into<PathBuf>, run_dir: impl Into<PathBuf>) -> Self {
        DockerConfig {
            state_dir: state_dir.into(),
            run_dir: run_dir.into(),
            prefix: "hx".into(),
            uplink_pool: "10.250.0.0/16".parse().expect("valid cidr"),
            container_pool: "10.128.0.0/12".parse().expect("valid cidr"),
            session_prefix_len: 20,
            dockerd: "dockerd".into(),
            warm_pool: 0,
            warm_images: Vec::new(),
            max_sandboxes: 64,
            max_upload_bytes: 100 * 1024 * 1024,
            max_read_bytes: 100 * 1024 * 1024,
            allow_host_tcp_ports: Vec::new(),
            upstream_dns: None,
            reap_interval: Duration::from_secs(1),
            default_disk_bytes: Some(10 << 30),
        }
    }

    /// Checks the settings (what [`DockerHost::start`] checks first).
    pub fn validate(&self) -> Result<()> {
        let p = &self.prefix;
        if !(2..=4).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(HydraError::invalid(
                "prefix must be 2 to 4 lowercase letters",
            ));
        }
        if self.uplink_pool.prefix_len() > 28 {
            return Err(HydraError::invalid(
                "uplink_pool must hold at least four /30s",
            ));
        }
        if !(16..=24).contains(&self.session_prefix_len)
            || self.session_prefix_len < self.container_pool.prefix_len()
        {
            return Err(HydraError::invalid(
                "session_prefix_len must be within container_pool and between /16 and /24",
            ));
        }
        if self
            .default_disk_bytes
            .is_some_and(|d| d < crate::sandbox::MIN_DISK)
        {
            return Err(HydraError::invalid(
                "default_disk_bytes must be at least 128 MiB",
            ));
        }
        if self.uplink_pool.overlaps(&self.container_pool) {
            return Err(HydraError::invalid(
                "uplink_pool and container_pool overlap",
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Session {
    info: std::sync::Mutex<SandboxInfo>,
    engine: Arc<Engine>,
    base_env: Vec<String>,
}

/// A ready engine; `workspace` names the image of a workspace already running in it
/// (started ahead for the first of `warm_images`, with the default command).
#[derive(Debug)]
struct Warm {
    engine: Engine,
    workspace: Option<String>,
}

#[derive(Debug)]
struct Inner {
    cfg: DockerConfig,
    opts: EngineOptions,
    images: ImageLibrary,
    chains: Chains,
    pools: Mutex<(AddrPool, AddrPool)>,
    sessions: RwLock<HashMap<SandboxId, Arc<Session>>>,
    warm: Mutex<Vec<Warm>>,
    warm_wanted: Arc<Notify>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    /// The prefix lock; `None` once [`DockerHost::shutdown`] gave it up.
    lock: std::sync::Mutex<Option<nix::fcntl::Flock<std::fs::File>>>,
}

/// Runs sandboxes, each with its own dockerd in its own network namespace.
///
/// Needs root, `ip` (iproute2), `iptables`, `nsenter` and `dockerd`. At start it removes
/// everything a previous process with the same prefix left behind; see `docs/sandboxes.md`.
#[derive(Debug, Clone)]
pub struct DockerHost {
    inner: Arc<Inner>,
}

impl DockerHost {
    /// Checks the environment, collects garbage, installs the firewall rules and starts
    /// the warm pool and the reaper.
    pub async fn start(cfg: DockerConfig) -> Result<(DockerHost, GcReport)> {
        cfg.validate()?;
        preflight(&cfg).await?;
        let lock = lock_prefix(&cfg.prefix)?;
        let records = cfg.state_dir.join("engines");
        for dir in [&cfg.state_dir, &records, &cfg.run_dir] {
            std::fs::create_dir_all(dir)
                .map_err(HydraError::io(format!("create {}", dir.display())))?;
        }
        let report = gc::collect_all(&cfg.prefix, &records, &cfg.run_dir).await;
        // Everything of the previous run is gone, so are its address assignments.
        let uplink_file = cfg.state_dir.join("uplink-pool.json");
        let pool_file = cfg.state_dir.join("container-pool.json");
        let _ = std::fs::remove_file(&uplink_file);
        let _ = std::fs::remove_file(&pool_file);
        let uplinks = AddrPool::open(uplink_file, cfg.uplink_pool, 30)?;
        let pools = AddrPool::open(pool_file, cfg.container_pool, cfg.session_prefix_len)?;
        let chains = Chains::new(&cfg.prefix);
        firewall::install(
            &chains,
            cfg.uplink_pool,
            cfg.container_pool,
            &cfg.allow_host_tcp_ports,
        )
        .await?;
        let opts = EngineOptions {
            dockerd: cfg.dockerd.clone(),
            upstream_dns: cfg.upstream_dns.clone().unwrap_or_else(dns::host_resolvers),
            search_domains: dns::host_search_domains(),
        };
        let inner = Arc::new(Inner {
            images: ImageLibrary::new(cfg.state_dir.join("images")),
            opts,
            chains,
            pools: Mutex::new((uplinks, pools)),
            sessions: RwLock::new(HashMap::new()),
            warm: Mutex::new(Vec::new()),
            warm_wanted: Arc::new(Notify::new()),
            tasks: std::sync::Mutex::new(Vec::new()),
            lock: std::sync::Mutex::new(Some(lock)),
            cfg,
        });
        let host = DockerHost { inner };
        let reaper = tokio::spawn(reap_loop(Arc::downgrade(&host.inner)));
        let filler = tokio::spawn(warm_loop(Arc::downgrade(&host.inner)));
        host.inner
            .tasks
            .lock()
            .expect("tasks lock")
            .extend([reaper, filler]);
        tracing::info!(
            engines = report.engines,
            orphans = report.orphans,
            "sandbox host started"
        );
        Ok((host, report))
    }

    /// The host's image library.
    pub fn images(&self) -> &ImageLibrary {
        &self.inner.images
    }

    /// The configuration the host runs with.
    pub fn config(&self) -> &DockerConfig {
        &self.inner.cfg
    }

    /// The Docker socket of a sandbox's own engine, on the host (for operators debugging a
    /// session with `docker -H unix://...`, and for benchmarks).
    pub async fn engine_socket(&self, id: &SandboxId) -> Result<PathBuf> {
        Ok(self.session(id).await?.engine.record.socket())
    }

    /// Number of ready engines in the warm pool.
    pub async fn warm_ready(&self) -> usize {
        self.inner.warm.lock().await.len()
    }

    /// Kills every sandbox and warm engine, stops background work and gives up the
    /// prefix (another host may start with it); creating a sandbox fails after this
    /// with `host_unavailable`. The firewall chains stay (they hold no per-session
    /// state); [`DockerHost::uninstall`] removes them.
    pub async fn shutdown(&self) {
        // Taken first: a create racing the shutdown is refused (and gives its engine back)
        // rather than leaked. A second shutdown does nothing: the prefix may already be
        // another host's, whose engines the collection below would take.
        let Some(lock) = self.inner.lock.lock().expect("lock lock").take() else {
            return;
        };
        let tasks: Vec<JoinHandle<()>> = self
            .inner
            .tasks
            .lock()
            .expect("tasks lock")
            .drain(..)
            .collect();
        for t in tasks {
            t.abort();
            // Wait until it is gone, so nothing is half-made after this point.
            let _ = t.await;
        }
        let ids: Vec<SandboxId> = self.inner.sessions.read().await.keys().cloned().collect();
        for id in ids {
            let _ = self.kill(&id).await;
        }
        let warm: Vec<Warm> = self.inner.warm.lock().await.drain(..).collect();
        for w in warm {
            self.inner.destroy_engine(w.engine).await;
        }
        // An engine the warm pool was starting when it was stopped is known only by its
        // record and names: collect it like a crash's leftovers.
        let cfg = &self.inner.cfg;
        let report =
            gc::collect_all(&cfg.prefix, &cfg.state_dir.join("engines"), &cfg.run_dir).await;
        if report.engines + report.orphans > 0 {
            tracing::info!(
                engines = report.engines,
                orphans = report.orphans,
                "shutdown collected half-started engines"
            );
        }
        drop(lock);
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.lock.lock().expect("lock lock").is_none() {
            return Err(closed(&self.inner.cfg.prefix));
        }
        Ok(())
    }

    /// Shuts down and removes the firewall chains too.
    pub async fn uninstall(&self) -> Result<()> {
        self.shutdown().await;
        firewall::remove(&self.inner.chains).await
    }

    async fn session(&self, id: &SandboxId) -> Result<Arc<Session>> {
        self.inner
            .sessions
            .read()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| HydraError::SandboxNotFound { id: id.to_string() })
    }

    async fn running(&self, id: &SandboxId) -> Result<Arc<Session>> {
        let s = self.session(id).await?;
        if state_of(&s).await != SandboxState::Running {
            return Err(HydraError::SandboxNotRunning { id: id.to_string() });
        }
        Ok(s)
    }

    async fn info(&self, s: &Session) -> SandboxInfo {
        let state = state_of(s).await;
        let mut info = s.info.lock().expect("info lock").clone();
        info.state = state;
        info
    }
}

async fn state_of(s: &Session) -> SandboxState {
    // A wedged engine must not stall listings for everyone.
    let inspect = s.engine.docker.inspect_container(ops::WORKSPACE, None);
    match tokio::time::timeout(Duration::from_secs(5), inspect).await {
        Ok(Ok(c)) if c.state.as_ref().and_then(|st| st.running) == Some(true) => {
            SandboxState::Running
        }
        _ => SandboxState::Stopped,
    }
}

fn closed(prefix: &str) -> HydraError {
    HydraError::HostUnavailable {
        host: format!("{prefix} (shut down)"),
    }
}

/// One host per prefix per machine: a second would collect the first one's engines as
/// garbage. The lock is released when the host (its last clone) is dropped or the
/// process dies.
fn lock_prefix(prefix: &str) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let path = format!("/run/helix-hydra-{prefix}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(HydraError::io(format!("open {path}")))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        HydraError::AtCapacity {
            reason: format!(
                "another sandbox host uses prefix {prefix:?} on this machine ({path} is locked); \
                 give each host its own prefix"
            ),
        }
    })
}

async fn preflight(cfg: &DockerConfig) -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err(HydraError::invalid(
            "the docker sandbox host must run as root (it creates namespaces and firewall rules)",
        ));
    }
    for tool in ["ip", "iptables", "nsenter"] {
        sys::run("which", &[tool])
            .await
            .map_err(|_| HydraError::Command {
                command: tool.into(),
                detail: "not installed (Debian: iproute2, iptables, util-linux)".into(),
            })?;
    }
    let dockerd = cfg.dockerd.to_string_lossy().into_owned();
    sys::run("which", &[&dockerd])
        .await
        .map_err(|_| HydraError::Command {
            command: dockerd.clone(),
            detail: "not installed (Debian: docker.io)".into(),
        })?;
    if cfg.default_disk_bytes.is_some() {
        // Disk quotas mount a loop device per engine.
        sys::run("which", &["mkfs.ext4"])
            .await
            .map_err(|_| HydraError::Command {
                command: "mkfs.ext4".into(),
                detail: "not installed (Debian: e2fsprogs); or run without disk quotas".into(),
            })?;
        sys::run("losetup", &["-f"])
            .await
            .map_err(|e| HydraError::Command {
                command: "losetup -f".into(),
                detail: format!("no loop device for disk quotas ({e}); run without disk quotas"),
            })?;
    }
    // A pool that overlaps a route of the host would shadow part of the host's network.
    let routes = sys::ip(&["-4", "route", "show"]).await.unwrap_or_default();
    for line in routes.lines() {
        let Some(dst) = line.split_whitespace().next() else {
            continue;
        };
        let Ok(net) = dst.parse::<Subnet>() else {
            continue;
        };
        let own = line.contains(&format!(" dev hy{}", cfg.prefix));
        for (what, pool) in [
            ("uplink_pool", cfg.uplink_pool),
            ("container_pool", cfg.container_pool),
        ] {
            if !own && net.overlaps(&pool) {
                return Err(HydraError::invalid(format!(
                    "{what} {pool} overlaps the host's route to {net}; choose another range"
                )));
            }
        }
    }
    Ok(())
}

impl Inner {
    async fn new_engine(&self, disk_bytes: Option<u64>) -> Result<Engine> {
        let key = format!("e{}", ulid::Ulid::new().to_string().to_lowercase());
        let (uplink, pool) = {
            let mut pools = self.pools.lock().await;
            let uplink = pools.0.allocate(&key)?;
            let pool = match pools.1.allocate(&key) {
                Ok(p) => p,
                Err(e) => {
                    let _ = pools.0.release(&key);
                    return Err(e);
                }
            };
            (uplink, pool)
        };
        let slot = (u32::from(uplink.network()) - u32::from(self.cfg.uplink_pool.network())) / 4;
        let record = EngineRecord {
            key: key.clone(),
            slot,
            prefix: self.cfg.prefix.clone(),
            uplink,
            pool,
            data_dir: self.cfg.state_dir.join("engines").join(&key),
            run_dir: self.cfg.run_dir.join(slot.to_string()),
            disk_bytes,
        };
        let record_path = self.record_path(&key);
        let body = serde_json::to_vec_pretty(&record).expect("record serialises");
        if let Err(e) = std::fs::write(&record_path, body) {
            self.release(&key).await;
            return Err(HydraError::io("write engine record")(e));
        }
        match Engine::start(record, &self.opts).await {
            Ok(e) => Ok(e),
            Err(e) => {
                let _ = std::fs::remove_file(&record_path);
                self.release(&key).await;
                Err(e)
            }
        }
    }

    fn record_path(&self, key: &str) -> PathBuf {
        self.cfg
            .state_dir
            .join("engines")
            .join(format!("{key}.json"))
    }

    async fn release(&self, key: &str) {
        let mut pools = self.pools.lock().await;
        let _ = pools.0.release(key);
        let _ = pools.1.release(key);
    }

    async fn destroy_engine(&self, engine: Engine) {
        let key = engine.record.key.clone();
        engine.destroy().await;
        let _ = std::fs::remove_file(self.record_path(&key));
        self.release(&key).await;
    }

    /// An engine for `spec`: a warm one whose workspace already runs the spec's image
    /// (then `true` is returned and only limits remain to apply), any other warm one, or
    /// a new one.
    async fn take_engine(&self, spec: &SandboxSpec) -> Result<(Engine, bool)> {
        let wanted = normalise(&spec.image);
        let disk = spec.limits.disk_bytes.or(self.cfg.default_disk_bytes);
        let taken = {
            let mut warm = self.warm.lock().await;
            // Warm engines have the default disk: another size needs a new engine.
            let exact = warm.iter().position(|w| {
                spec.command.is_none()
                    && w.workspace.is_some()
                    && w.workspace == wanted
                    && w.engine.record.disk_bytes == disk
            });
            let any = || {
                warm.iter()
                    .rposition(|w| w.engine.record.disk_bytes == disk)
            };
            let index = exact.or_else(any);
            index.map(|i| warm.remove(i))
        };
        self.warm_wanted.notify_one();
        match taken {
            Some(Warm {
                engine,
                workspace: Some(image),
            }) if Some(&image) == wanted.as_ref() && spec.command.is_none() => Ok((engine, true)),
            Some(Warm {
                engine,
                workspace: Some(_),
            }) => {
                // Prestarted with another image: clear it out.
                let opts = bollard::query_parameters::RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                };
                if let Err(e) = engine
                    .docker
                    .remove_container(ops::WORKSPACE, Some(opts))
                    .await
                {
                    self.destroy_engine(engine).await;
                    return Err(ops::engine_err(e));
                }
                Ok((engine, false))
            }
            Some(Warm { engine, .. }) => Ok((engine, false)),
            None => Ok((self.new_engine(disk).await?, false)),
        }
    }
}

fn normalise(image: &str) -> Option<String> {
    crate::docker::images::parse_reference(image)
        .ok()
        .map(|(repo, tag)| format!("{repo}:{tag}"))
}

fn proxy_env() -> Vec<String> {
    let mut env = Vec::new();
    for k in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    ] {
        if let Ok(v) = std::env::var(k) {
            env.push(format!("{k}={v}"));
        }
    }
    env
}

const KEEP_ALIVE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

async fn start_workspace(inner: &Inner, engine: &Engine, spec: &SandboxSpec) -> Result<()> {
    inner.images.ensure(&engine.docker, &spec.image).await?;
    sys::apply_cgroup_limits(&engine.record.cgroup(), &spec.limits)?;
    let mut env = proxy_env();
    env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
    let rec = &engine.record;
    let cmd = spec
        .command
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), KEEP_ALIVE.into()]);
    let labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: Some(cmd),
        env: Some(env),
        hostname: None,
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some("host".into()),
            binds: Some(vec![
                format!("{}:/var/run/docker.sock", rec.socket().display()),
                format!("{}:/etc/resolv.conf:ro", rec.resolv_conf().display()),
            ]),
            init: Some(true),
            memory: spec.limits.memory_bytes.map(|m| m as i64),
            memory_swap: spec.limits.memory_bytes.map(|m| m as i64),
            nano_cpus: spec.limits.cpus.map(|c| (c * 1e9) as i64),
            pids_limit: spec.limits.pids,
            ..Default::default()
        }),
        ..Default::default()
    };
    engine
        .docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(ops::WORKSPACE.into()),
                ..Default::default()
            }),
            body,
        )
        .await
        .map_err(ops::engine_err)?;
    engine
        .docker
        .start_container(ops::WORKSPACE, None)
        .await
        .map_err(ops::engine_err)?;
    Ok(())
}

#[async_trait]
impl SandboxRuntime for DockerHost {
    async fn create(&self, spec: SandboxSpec) -> Result<SandboxInfo> {
        spec.validate()?;
        self.check_open()?;
        let inner = &self.inner;
        // The host's disk size is also the most a sandbox may ask for.
        match (spec.limits.disk_bytes, inner.cfg.default_disk_bytes) {
            (Some(_), None) => {
                return Err(HydraError::invalid(
                    "limits.disk_bytes: disk quotas are off on this sandbox host",
                ))
            }
            (Some(asked), Some(max)) if asked > max => {
                return Err(HydraError::invalid(format!(
                    "limits.disk_bytes: at most {max} bytes on this sandbox host"
                )))
            }
            _ => {}
        }
        if !inner.images.contains(&spec.image) {
            return Err(HydraError::ImageNotFound {
                image: spec.image.clone(),
            });
        }
        if inner.sessions.read().await.len() >= inner.cfg.max_sandboxes {
            return Err(HydraError::AtCapacity {
                reason: format!("{} sandboxes running", inner.cfg.max_sandboxes),
            });
        }
        let id = SandboxId::generate();
        let span = tracing::info_span!("sandbox_create", sandbox = %id, image = %spec.image);
        // Runs to the end even if the caller goes away, so nothing is left half-made; a
        // sandbox whose caller left is listed and expires like any other.
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.create(id, spec).await }.instrument(span))
            .await
            .map_err(|e| HydraError::Engine {
                message: format!("create task failed: {e}"),
            })?
    }

    async fn get(&self, id: &SandboxId) -> Result<SandboxInfo> {
        let s = self.session(id).await?;
        Ok(self.info(&s).await)
    }

    async fn list(&self) -> Result<Vec<SandboxInfo>> {
        let sessions: Vec<Arc<Session>> =
            self.inner.sessions.read().await.values().cloned().collect();
        let mut out = Vec::with_capacity(sessions.len());
        for s in sessions {
            out.push(self.info(&s).await);
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn exec(&self, id: &SandboxId, spec: ExecSpec) -> Result<ExecStream> {
        spec.validate()?;
        let s = self.running(id).await?;
        ops::exec(&s.engine.docker, &s.base_env, spec).await
    }

    async fn write_file(&self, id: &SandboxId, path: &str, data: Bytes) -> Result<()> {
        crate::paths::sandbox_path(path)?;
        let s = self.running(id).await?;
        ops::write_file(
            &s.engine.docker,
            path,
            data,
            self.inner.cfg.max_upload_bytes,
        )
        .await
    }

    async fn read_file(&self, id: &SandboxId, path: &str) -> Result<Bytes> {
        crate::paths::sandbox_path(path)?;
        let s = self.running(id).await?;
        ops::read_file(&s.engine.docker, path, self.inner.cfg.max_read_bytes).await
    }

    async fn list_dir(&self, id: &SandboxId, path: &str) -> Result<Vec<FileEntry>> {
        crate::paths::sandbox_path(path)?;
        let s = self.running(id).await?;
        ops::list_dir(&s.engine.docker, path).await
    }

    async fn port_target(&self, id: &SandboxId, port: u16) -> Result<SocketAddr> {
        if port == 0 {
            return Err(HydraError::invalid("port must be 1-65535"));
        }
        let s = self.running(id).await?;
        Ok(SocketAddr::new(s.engine.record.address().into(), port))
    }

    async fn logs(&self, id: &SandboxId, follow: bool) -> Result<LogStream> {
        let s = self.session(id).await?;
        Ok(ops::logs(&s.engine.docker, follow))
    }

    async fn set_timeout(&self, id: &SandboxId, timeout: Duration) -> Result<SandboxInfo> {
        check_timeout(timeout)?;
        let s = self.session(id).await?;
        {
            let mut info = s.info.lock().expect("info lock");
            info.expires_at = Utc::now() + chrono::Duration::from_std(timeout).unwrap_or_default();
        }
        Ok(self.info(&s).await)
    }

    async fn kill(&self, id: &SandboxId) -> Result<()> {
        let s = self
            .inner
            .sessions
            .write()
            .await
            .remove(id)
            .ok_or_else(|| HydraError::SandboxNotFound { id: id.to_string() })?;
        let span = tracing::info_span!("sandbox_kill", sandbox = %id);
        // Streams still running hold the engine; tear it down whatever they do, and to
        // the end even if the caller goes away.
        let inner = self.inner.clone();
        let task = async move {
            let record = s.engine.record.clone();
            match Arc::try_unwrap(s) {
                Ok(session) => match Arc::try_unwrap(session.engine) {
                    Ok(engine) => inner.destroy_engine(engine).await,
                    Err(shared) => inner.destroy_record(&record, shared).await,
                },
                Err(shared) => inner.destroy_record(&record, shared.engine.clone()).await,
            }
            tracing::info!("sandbox killed");
        };
        let _ = tokio::spawn(task.instrument(span)).await;
        Ok(())
    }
}

impl Inner {
    async fn create(self: Arc<Self>, id: SandboxId, spec: SandboxSpec) -> Result<SandboxInfo> {
        let inner = &self;
        let (engine, prestarted) = inner.take_engine(&spec).await?;
        let ready = if prestarted {
            sys::apply_cgroup_limits(&engine.record.cgroup(), &spec.limits)
        } else {
            start_workspace(inner, &engine, &spec).await
        };
        if let Err(e) = ready {
            inner.destroy_engine(engine).await;
            return Err(e);
        }
        let now = Utc::now();
        let timeout = spec.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let info = SandboxInfo {
            id: id.clone(),
            image: spec.image.clone(),
            state: SandboxState::Running,
            labels: spec.labels.clone(),
            limits: spec.limits.clone(),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(timeout).unwrap_or_default(),
        };
        let mut base_env = proxy_env();
        base_env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
        // Checked again under the sessions lock: a shutdown that began while this engine
        // started has listed (or will list) the sessions to kill after closing the host,
        // so a sandbox added now would be left behind. Closed: give the engine back.
        let mut sessions = inner.sessions.write().await;
        if inner.lock.lock().expect("lock lock").is_none() {
            drop(sessions);
            inner.destroy_engine(engine).await;
            return Err(closed(&inner.cfg.prefix));
        }
        let session = Arc::new(Session {
            info: std::sync::Mutex::new(info.clone()),
            engine: Arc::new(engine),
            base_env,
        });
        sessions.insert(id, session);
        drop(sessions);
        tracing::info!("sandbox created");
        Ok(info)
    }

    async fn destroy_record(&self, record: &EngineRecord, _still_shared: Arc<Engine>) {
        crate::docker::engine::teardown(record).await;
        let _ = std::fs::remove_file(self.record_path(&record.key));
        self.release(&record.key).await;
    }
}

fn engine_alive(record: &EngineRecord) -> bool {
    sys::read_pidfile(&record.pidfile())
        .is_some_and(|pid| sys::alive(pid) && sys::comm(pid).as_deref() == Some("dockerd"))
}

/// Every `reap_interval`: kills expired sandboxes and collects sessions and warm engines
/// whose dockerd died.
async fn reap_loop(inner: std::sync::Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let interval = strong.cfg.reap_interval;
        let now = Utc::now();
        let expired: Vec<SandboxId> = strong
            .sessions
            .read()
            .await
            .iter()
            .filter(|(_, s)| s.info.lock().expect("info lock").expires_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        // Sessions whose engine died (dockerd killed, OOM) are dead: collect them.
        let dead: Vec<SandboxId> = strong
            .sessions
            .read()
            .await
            .iter()
            .filter(|(_, s)| !engine_alive(&s.engine.record))
            .map(|(id, _)| id.clone())
            .collect();
        let dead_warm: Vec<Warm> = {
            let mut warm = strong.warm.lock().await;
            let (alive, dead): (Vec<Warm>, Vec<Warm>) =
                warm.drain(..).partition(|w| engine_alive(&w.engine.record));
            *warm = alive;
            dead
        };
        let host = DockerHost { inner: strong };
        for id in expired {
            tracing::info!(sandbox = %id, "sandbox timed out");
            let _ = host.kill(&id).await;
        }
        for id in dead {
            tracing::warn!(sandbox = %id, "sandbox engine died; collecting the sandbox");
            let _ = host.kill(&id).await;
        }
        for w in dead_warm {
            tracing::warn!(
                slot = w.engine.record.slot,
                "warm engine died; collecting it"
            );
            host.inner.destroy_engine(w.engine).await;
            host.inner.warm_wanted.notify_one();
        }
        drop(host);
        tokio::time::sleep(interval).await;
    }
}

async fn warm_loop(inner: std::sync::Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let want = strong.cfg.warm_pool;
        let have = strong.warm.lock().await.len();
        if have < want {
            match strong.new_engine(strong.cfg.default_disk_bytes).await {
                Ok(engine) => {
                    for image in &strong.cfg.warm_images {
                        if let Err(e) = strong.images.ensure(&engine.docker, image).await {
                            tracing::warn!(image, error = %e, "warm pool: cannot import image");
                        }
                    }
                    // The first warm image gets its workspace started ahead, so creating a
                    // sandbox of it only applies limits.
                    let mut workspace = None;
                    if let Some(image) = strong.cfg.warm_images.first() {
                        match start_workspace(&strong, &engine, &SandboxSpec::new(image.clone()))
                            .await
                        {
                            Ok(()) => workspace = normalise(image),
                            Err(e) => {
                                tracing::warn!(image, error = %e, "warm pool: cannot prestart a workspace")
                            }
                        }
                    }
                    strong.warm.lock().await.push(Warm { engine, workspace });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "warm pool: cannot start engine");
                    drop(strong);
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
            continue;
        }
        let wanted = strong.warm_wanted.clone();
        drop(strong);
        let _ = tokio::time::timeout(Duration::from_secs(5), wanted.notified()).await;
    }
}
