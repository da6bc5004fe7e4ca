//! One session engine: a network namespace joined to the host by a veth pair, a DNS
//! server inside it, and a dockerd of its own inside it.
//!
//! Everything an engine creates is named from its *slot* and written to a record file
//! before it is created, so [`teardown`] can remove all of it after a crash: the record,
//! or failing that the names alone (see `gc.rs`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::docker::authz::{self, AuthzPlugin};
use crate::docker::dns::{self, DnsServer, NameTable};
use crate::docker::sys;
use crate::{HydraError, Result, Subnet};

const DOCKERD_READY_TIMEOUT: Duration = Duration::from_secs(60);
const DOCKERD_STOP_GRACE: Duration = Duration::from_secs(5);
/// Requests to a session engine; long because exec streams go through the same client.
const CLIENT_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// Turns IPv6 off on every interface of a namespace, present and future.
const DISABLE_IPV6: &str =
    "for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do [ -e \"$f\" ] && echo 1 > \"$f\"; done; true";

/// Run by `sh -c` with dockerd's command line as arguments.
const HIDE_SYSTEM_CONTAINERD: &str =
    "if [ -d /run/containerd ]; then mount -t tmpfs -o size=1m,mode=0711 tmpfs /run/containerd || exit 1; fi; exec \"$0\" \"$@\"";

/// The first letters of every session veth's host end.
pub(crate) const HOST_VETH_MARK: &str = "hy";

/// What an engine consists of; stored as JSON in `STATE/engines/<key>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EngineRecord {
    pub key: String,
    pub slot: u32,
    pub prefix: String,
    pub uplink: Subnet,
    pub pool: Subnet,
    pub data_dir: PathBuf,
    pub run_dir: PathBuf,
    /// Size of the engine's own filesystem (a sparse ext4 image on a loop device holding
    /// its data-root), or `None` for the host's filesystem.
    #[serde(default)]
    pub disk_bytes: Option<u64>,
}

impl EngineRecord {
    pub fn netns(&self) -> String {
        format!("{}-{}", self.prefix, self.slot)
    }
    /// `hy` marks every hydra host veth of every host prefix, so the firewall can tell
    /// session links from any other link with one wildcard (`hy+`).
    pub fn host_veth(&self) -> String {
        format!("{}{}{}", HOST_VETH_MARK, self.prefix, self.slot)
    }
    pub fn ns_veth(&self) -> String {
        format!("hz{}{}", self.prefix, self.slot)
    }
    /// The engine's authorization plugin (`authz.rs`).
    pub fn plugin_name(&self) -> String {
        format!("hydra-{}-{}", self.prefix, self.slot)
    }
    pub fn cgroup(&self) -> String {
        format!("{}-{}", self.prefix, self.slot)
    }
    /// The host's end of the veth (the session's default gateway).
    pub fn gateway(&self) -> Ipv4Addr {
        offset(self.uplink.network(), 1)
    }
    /// The session's end of the veth: its DNS server, the workspace's address as seen
    /// from the host, the address published ports are reached at.
    pub fn address(&self) -> Ipv4Addr {
        offset(self.uplink.network(), 2)
    }
    pub fn socket(&self) -> PathBuf {
        self.run_dir.join("docker.sock")
    }
    pub fn pidfile(&self) -> PathBuf {
        self.run_dir.join("docker.pid")
    }
    pub fn resolv_conf(&self) -> PathBuf {
        self.data_dir.join("resolv.conf")
    }
}

fn offset(ip: Ipv4Addr, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip) + n)
}

/// A started engine.
#[derive(Debug)]
pub(crate) struct Engine {
    pub record: EngineRecord,
    pub docker: Docker,
    _dns: DnsServer,
    _authz: AuthzPlugin,
    child: tokio::sync::Mutex<Option<tokio::process::Child>>,
}

/// Options that are the same for every engine of a host.
#[derive(Debug, Clone)]
pub(crate) struct EngineOptions {
    pub dockerd: PathBuf,
    pub upstream_dns: Vec<std::net::SocketAddr>,
    pub search_domains: Vec<String>,
}

impl Engine {
    /// Creates the namespace, the veth pair, the DNS server and dockerd, and waits until
    /// dockerd answers. On failure everything created so far is torn down.
    pub async fn start(record: EngineRecord, opts: &EngineOptions) -> Result<Engine> {
        let span = tracing::info_span!("engine_start", slot = record.slot, netns = %record.netns());
        match Self::start_inner(&record, opts).instrument(span).await {
            Ok(engine) => Ok(engine),
            Err(e) => {
                teardown(&record).await;
                Err(e)
            }
        }
    }

    async fn start_inner(record: &EngineRecord, opts: &EngineOptions) -> Result<Engine> {
        for dir in [&record.data_dir, &record.run_dir] {
            std::fs::create_dir_all(dir)
                .map_err(HydraError::io(format!("create {}", dir.display())))?;
        }
        let ns = record.netns();
        let (hv, nv) = (record.host_veth(), record.ns_veth());
        let gw = format!("{}/30", record.gateway());
        let addr = format!("{}/30", record.address());
        sys::ip(&["netns", "add", &ns]).await?;
        sys::ip(&["-n", &ns, "link", "set", "lo", "up"]).await?;
        sys::ip(&[
            "link", "add", &hv, "type", "veth", "peer", "name", &nv, "netns", &ns,
        ])
        .await?;
        sys::ip(&["addr", "add", &gw, "dev", &hv]).await?;
        sys::ip(&["link", "set", &hv, "up"]).await?;
        sys::ip(&["-n", &ns, "addr", "add", &addr, "dev", &nv]).await?;
        sys::ip(&["-n", &ns, "link", "set", &nv, "up"]).await?;
        sys::ip(&[
            "-n",
            &ns,
            "route",
            "add",
            "default",
            "via",
            &record.gateway().to_string(),
        ])
        .await?;
        // IPv4 only: no IPv6 on the link or in the session, so nothing reaches the host
        // (or another session) over link-local IPv6 around the IPv4 firewall.
        let host_v6 = format!("/proc/sys/net/ipv6/conf/{hv}/disable_ipv6");
        if std::path::Path::new(&host_v6).exists() {
            std::fs::write(&host_v6, "1").map_err(HydraError::io("disable IPv6 on the uplink"))?;
        }
        sys::ip(&["netns", "exec", &ns, "sh", "-c", DISABLE_IPV6]).await?;

        if let Some(size) = record.disk_bytes {
            mount_disk(record, size).await?;
        }

        let mut resolv = format!("nameserver {}\n", record.address());
        let mut search = vec![dns::SESSION_DOMAIN.to_owned()];
        search.extend(opts.search_domains.iter().cloned());
        resolv.push_str(&format!("search {}\noptions ndots:1\n", search.join(" ")));
        std::fs::write(record.resolv_conf(), resolv)
            .map_err(HydraError::io("write resolv.conf"))?;

        let log = std::fs::File::create(record.data_dir.join("dockerd.log"))
            .map_err(HydraError::io("create dockerd.log"))?;
        let log2 = log.try_clone().map_err(HydraError::io("dockerd.log"))?;
        let bip = {
            let first = Subnet::new(record.pool.network(), 24)?;
            format!("{}/24", first.gateway().expect("a /24 has a gateway"))
        };
        // The plugin answers before dockerd starts: dockerd checks it at start.
        let own_binds = vec![
            record.socket().to_string_lossy().into_owned(),
            record.resolv_conf().to_string_lossy().into_owned(),
        ];
        let authz = authz::start(&record.plugin_name(), own_binds)?;
        let nspath = format!("--net=/run/netns/{ns}");
        // The engine's own settings only, not the host's /etc/docker/daemon.json.
        let config_file = record.run_dir.join("daemon.json");
        std::fs::write(&config_file, "{}\n").map_err(HydraError::io("write daemon.json"))?;
        let mut cmd = tokio::process::Command::new("nsenter");
        // In its own mount namespace, with the host's /run/containerd hidden: dockerd
        // would otherwise use a system containerd (whose shims live in the host's network
        // namespace) instead of starting its own inside the session's.
        cmd.arg(&nspath)
            .arg("--")
            .arg("unshare")
            .arg("--mount")
            .arg("--propagation")
            .arg("slave")
            .arg("--")
            .arg("sh")
            .arg("-c")
            .arg(HIDE_SYSTEM_CONTAINERD)
            .arg(&opts.dockerd)
            .arg("--config-file")
            .arg(&config_file)
            .arg("--exec-opt")
            .arg("native.cgroupdriver=cgroupfs")
            .arg("--data-root")
            .arg(record.data_dir.join("docker"))
            .arg("--exec-root")
            .arg(record.run_dir.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", record.socket().display()))
            .arg("--pidfile")
            .arg(record.pidfile())
            .arg("--bip")
            .arg(&bip)
            .arg("--default-address-pool")
            .arg(format!("base={},size=24", record.pool))
            .arg("--dns")
            .arg(record.address().to_string())
            .arg("--cgroup-parent")
            .arg(format!("/{}", record.cgroup()))
            .arg("--authorization-plugin")
            .arg(record.plugin_name())
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .kill_on_drop(false);
        let child = cmd.spawn().map_err(|e| HydraError::Command {
            command: "nsenter dockerd".into(),
            detail: e.to_string(),
        })?;

        let deadline = tokio::time::Instant::now() + DOCKERD_READY_TIMEOUT;
        let docker = loop {
            if record.socket().exists() {
                let docker = Docker::connect_with_unix(
                    &record.socket().to_string_lossy(),
                    CLIENT_TIMEOUT_SECS,
                    bollard::API_DEFAULT_VERSION,
                )
                .map_err(|e| HydraError::Engine {
                    message: e.to_string(),
                })?;
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), docker.ping()).await
                {
                    break docker;
                }
            }
            if tokio::time::Instant::now() > deadline {
                let tail = std::fs::read_to_string(record.data_dir.join("dockerd.log"))
                    .unwrap_or_default();
                let tail: String = tail.lines().rev().take(8).collect::<Vec<_>>().join(" | ");
                return Err(HydraError::Command {
                    command: "dockerd".into(),
                    detail: format!("not ready after {DOCKERD_READY_TIMEOUT:?}: {tail}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        };
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| HydraError::Engine {
                message: e.to_string(),
            })?;

        let mut fixed = HashMap::new();
        fixed.insert("workspace".to_owned(), record.address());
        let names = Arc::new(NameTable::new(docker.clone(), fixed));
        let listen = SocketAddrV4::new(record.address(), 53);
        let dns = dns::start(&ns, listen, names, opts.upstream_dns.clone()).await?;
        Ok(Engine {
            record: record.clone(),
            docker,
            _dns: dns,
            _authz: authz,
            child: tokio::sync::Mutex::new(Some(child)),
        })
    }

    /// Stops dockerd and removes everything the engine created.
    pub async fn destroy(self) {
        if let Some(mut child) = self.child.lock().await.take() {
            // Reap nsenter (which exec'd dockerd) once teardown has stopped it.
            teardown(&self.record).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
        } else {
            teardown(&self.record).await;
        }
    }
}

/// Gives the engine a filesystem of its own, `size` bytes, as its data-root: a sparse
/// ext4 image on a loop device (mounted in the host's namespace, so teardown and garbage
/// collection find it). A full sandbox then fails its own writes, not the host's.
async fn mount_disk(record: &EngineRecord, size: u64) -> Result<()> {
    let image = record.data_dir.join("disk.img");
    let root = record.data_dir.join("docker");
    std::fs::create_dir_all(&root).map_err(HydraError::io("create the data-root"))?;
    let file = std::fs::File::create(&image).map_err(HydraError::io("create disk image"))?;
    file.set_len(size)
        .map_err(HydraError::io("size disk image"))?;
    drop(file);
    let img = image.to_string_lossy().into_owned();
    sys::run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-m",
            "0",
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1",
            &img,
        ],
    )
    .await?;
    sys::run("mount", &["-o", "loop", &img, &root.to_string_lossy()]).await?;
    Ok(())
}

/// Removes everything an engine record names; safe to call on anything half-created or
/// already gone.
pub(crate) async fn teardown(record: &EngineRecord) {
    let ns = record.netns();
    if let Some(pid) = sys::read_pidfile(&record.pidfile()) {
        sys::terminate(pid, "dockerd", DOCKERD_STOP_GRACE).await;
    }
    // containerd, shims and host-network workspaces live in the namespace.
    sys::kill_all(&sys::netns_pids(&ns).await);
    // Containers with namespaces of their own live in the engine's cgroup tree.
    sys::destroy_cgroup(&record.cgroup()).await;
    sys::kill_all(&sys::netns_pids(&ns).await);
    sys::unmount_under(&record.run_dir);
    sys::unmount_under(&record.data_dir);
    if let Err(e) = sys::delete_netns(&ns).await {
        tracing::warn!(netns = %ns, error = %e, "cannot delete namespace");
    }
    if let Err(e) = sys::delete_link(&record.host_veth()).await {
        tracing::warn!(link = %record.host_veth(), error = %e, "cannot delete veth");
    }
    let _ = std::fs::remove_file(authz::socket_path(&record.plugin_name()));
    for dir in [&record.run_dir, &record.data_dir] {
        if let Err(e) = sys::remove_tree(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove engine directory");
        }
    }
}

/// Reads every record under `dir`.
pub(crate) fn read_records(dir: &Path) -> Vec<(PathBuf, EngineRecord)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let bytes = std::fs::read(e.path()).ok()?;
            let rec = serde_json::from_slice(&bytes).ok()?;
            Some((e.path(), rec))
        })
        .collect()
}
