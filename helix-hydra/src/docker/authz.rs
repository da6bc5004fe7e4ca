//! A Docker authorization plugin per session engine, so what runs in a sandbox can use its
//! engine without reaching the host through it.
//!
//! dockerd runs as root on the host: without a check, `docker run --privileged` or
//! `-v /:/host` from inside a sandbox would reach the host. Each engine is started with
//! `--authorization-plugin hydra-{prefix}-{slot}`; dockerd then asks this server
//! (`/run/docker/plugins/hydra-{prefix}-{slot}.sock`, Docker's plugin protocol: JSON over
//! HTTP on a unix socket) about every API request before serving it, and [`decide`]
//! refuses:
//!
//! - privileged containers and privileged execs;
//! - bind mounts of host paths (named volumes are fine), except the engine's own socket
//!   and resolv.conf for the workspace; volumes with driver options (a `local` volume
//!   with `o=bind` is a bind mount); volume and logging drivers other than the default;
//! - the host's pid, ipc, uts, user and cgroup namespaces (network mode `host` is the
//!   session's own namespace and allowed);
//! - added capabilities beyond Docker's defaults and the network ones; devices, device
//!   rules and device requests; `unconfined` security options, unmasked `/proc` paths,
//!   a custom cgroup parent (which would leave the session's limits), other runtimes;
//! - plugin installation and swarm mode.
//!
//! Everything else passes, so `docker build`, `run`, `exec`, networks and named volumes
//! work as usual inside a sandbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::{HydraError, Result};

/// Where dockerd looks for plugin sockets.
pub(crate) const PLUGIN_DIR: &str = "/run/docker/plugins";
const MAX_REQUEST: usize = 32 * 1024 * 1024;

/// Capabilities a container may add: Docker's defaults and network administration of
/// its own namespace.
const ALLOWED_CAPS: [&str; 16] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
    "NET_ADMIN",
    "SYS_NICE",
];

#[derive(Debug, Deserialize)]
struct AuthzRequest {
    #[serde(rename = "RequestMethod", default)]
    method: String,
    #[serde(rename = "RequestUri", default)]
    uri: String,
    #[serde(rename = "RequestBody", default)]
    body: Option<String>,
}

#[derive(Debug, Serialize)]
struct AuthzResponse {
    #[serde(rename = "Allow")]
    allow: bool,
    #[serde(rename = "Msg", skip_serializing_if = "String::is_empty")]
    msg: String,
}

/// Decides one request: `Err(reason)` refuses it. `own_binds` are the host paths the
/// engine's own workspace may mount.
pub(crate) fn decide(
    method: &str,
    uri: &str,
    body: Option<&Value>,
    own_binds: &[String],
) -> Result<(), String> {
    let path = uri.split('?').next().unwrap_or("");
    // Strip the API version: /v1.41/containers/create -> /containers/create.
    let path = match path.strip_prefix("/v") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
            rest.find('/').map(|i| &rest[i..]).unwrap_or("/")
        }
        _ => path,
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if method == "POST" {
        match parts.as_slice() {
            ["containers", "create"] => return check_create(body, own_binds),
            ["containers", _, "exec"]
                if body
                    .and_then(|b| b.get("Privileged"))
                    .and_then(Value::as_bool)
                    == Some(true) =>
            {
                return Err("privileged exec is not allowed in a sandbox".into());
            }
            ["volumes", "create"] => {
                let b = body.cloned().unwrap_or(Value::Null);
                let driver = b.get("Driver").and_then(Value::as_str).unwrap_or("");
                if !(driver.is_empty() || driver == "local") {
                    return Err(format!(
                        "volume driver {driver:?} is not allowed in a sandbox"
                    ));
                }
                if b.get("DriverOpts")
                    .and_then(Value::as_object)
                    .is_some_and(|o| !o.is_empty())
                {
                    return Err(
                        "volume driver options (bind volumes) are not allowed in a sandbox".into(),
                    );
                }
            }
            ["plugins", ..] => {
                return Err("installing engine plugins is not allowed in a sandbox".into())
            }
            ["swarm", ..] => return Err("swarm mode is not allowed in a sandbox".into()),
            _ => {}
        }
    }
    Ok(())
}

fn check_create(body: Option<&Value>, own_binds: &[String]) -> Result<(), String> {
    let Some(body) = body else {
        return Err("container create without a JSON body".into());
    };
    let Some(hc) = body.get("HostConfig").filter(|h| h.is_object()) else {
        return Ok(());
    };
    let s = |k: &str| hc.get(k).and_then(Value::as_str).unwrap_or("");
    let arr = |k: &str| {
        hc.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    if hc.get("Privileged").and_then(Value::as_bool) == Some(true) {
        return Err("privileged containers are not allowed in a sandbox".into());
    }
    for b in arr("Binds") {
        let spec = b.as_str().unwrap_or("");
        let src = spec.split(':').next().unwrap_or("");
        if src.starts_with('/') && !own_binds.iter().any(|o| o == src) {
            return Err(format!(
                "bind mount of host path {src:?} is not allowed in a sandbox; use a named volume"
            ));
        }
    }
    for m in arr("Mounts") {
        let kind = m.get("Type").and_then(Value::as_str).unwrap_or("");
        let src = m.get("Source").and_then(Value::as_str).unwrap_or("");
        match kind {
            "bind" if !own_binds.iter().any(|o| o == src) => {
                return Err(format!(
                    "bind mount of host path {src:?} is not allowed in a sandbox"
                ))
            }
            "volume" => {
                let opts = m.pointer("/VolumeOptions/DriverConfig");
                if opts.is_some_and(|o| !o.is_null()) {
                    return Err("volume driver options are not allowed in a sandbox".into());
                }
            }
            "npipe" | "cluster" => {
                return Err(format!("{kind} mounts are not allowed in a sandbox"))
            }
            _ => {}
        }
    }
    for (key, what) in [
        ("PidMode", "pid"),
        ("IpcMode", "ipc"),
        ("UTSMode", "uts"),
        ("UsernsMode", "user"),
        ("CgroupnsMode", "cgroup"),
    ] {
        if s(key) == "host" {
            return Err(format!(
                "the host's {what} namespace is not allowed in a sandbox"
            ));
        }
    }
    for cap in arr("CapAdd") {
        let c = cap.as_str().unwrap_or("").to_uppercase();
        let c = c.strip_prefix("CAP_").unwrap_or(&c);
        if !ALLOWED_CAPS.contains(&c) {
            return Err(format!("capability {c} is not allowed in a sandbox"));
        }
    }
    for (key, what) in [
        ("Devices", "devices"),
        ("DeviceCgroupRules", "device cgroup rules"),
        ("DeviceRequests", "device requests"),
    ] {
        if !arr(key).is_empty() {
            return Err(format!("{what} are not allowed in a sandbox"));
        }
    }
    for opt in arr("SecurityOpt") {
        let o = opt.as_str().unwrap_or("");
        if o.contains("unconfined") || o.contains("disable") || o.starts_with("systempaths") {
            return Err(format!("security option {o:?} is not allowed in a sandbox"));
        }
    }
    if hc
        .get("MaskedPaths")
        .and_then(Value::as_array)
        .is_some_and(|a| a.is_empty())
        || hc
            .get("ReadonlyPaths")
            .and_then(Value::as_array)
            .is_some_and(|a| a.is_empty())
    {
        return Err("unmasking /proc paths is not allowed in a sandbox".into());
    }
    if !s("CgroupParent").is_empty() {
        return Err("a custom cgroup parent is not allowed in a sandbox".into());
    }
    if !s("VolumeDriver").is_empty() {
        return Err("volume drivers are not allowed in a sandbox".into());
    }
    let runtime = s("Runtime");
    if !(runtime.is_empty() || runtime == "runc") {
        return Err(format!("runtime {runtime:?} is not allowed in a sandbox"));
    }
    if let Some(log) = hc.pointer("/LogConfig/Type").and_then(Value::as_str) {
        if !(log.is_empty() || log == "json-file" || log == "local" || log == "none") {
            return Err(format!("log driver {log:?} is not allowed in a sandbox"));
        }
    }
    Ok(())
}

/// A running plugin server; stops and removes its socket when dropped.
#[derive(Debug)]
pub(crate) struct AuthzPlugin {
    task: JoinHandle<()>,
    socket: PathBuf,
}

impl Drop for AuthzPlugin {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The socket path of a plugin name.
pub(crate) fn socket_path(name: &str) -> PathBuf {
    Path::new(PLUGIN_DIR).join(format!("{name}.sock"))
}

/// Starts the plugin `name` on its socket.
pub(crate) fn start(name: &str, own_binds: Vec<String>) -> Result<AuthzPlugin> {
    std::fs::create_dir_all(PLUGIN_DIR).map_err(HydraError::io(format!("create {PLUGIN_DIR}")))?;
    let socket = socket_path(name);
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .map_err(HydraError::io(format!("bind {}", socket.display())))?;
    let own_binds = Arc::new(own_binds);
    let plugin = name.to_owned();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let own = own_binds.clone();
            let plugin = plugin.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(stream, &own).await {
                    tracing::debug!(plugin, error = %e, "authz plugin connection");
                }
            });
        }
    });
    Ok(AuthzPlugin { task, socket })
}

async fn serve(stream: UnixStream, own_binds: &[String]) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        // One HTTP/1.1 request: request line, headers, Content-Length body.
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        if len > MAX_REQUEST {
            return Err(std::io::Error::other("request too large"));
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await?;
        let reply = match target.as_str() {
            "/Plugin.Activate" => serde_json::json!({"Implements": ["authz"]}).to_string(),
            "/AuthZPlugin.AuthZReq" => answer(&body, own_binds),
            "/AuthZPlugin.AuthZRes" => serde_json::json!({"Allow": true}).to_string(),
            _ => serde_json::json!({"Err": "unknown plugin method"}).to_string(),
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        );
        let w = reader.get_mut();
        w.write_all(head.as_bytes()).await?;
        w.write_all(reply.as_bytes()).await?;
    }
}

fn answer(body: &[u8], own_binds: &[String]) -> String {
    let resp = match serde_json::from_slice::<AuthzRequest>(body) {
        Ok(req) => {
            let payload = req
                .body
                .as_deref()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            match decide(&req.method, &req.uri, payload.as_ref(), own_binds) {
                Ok(()) => AuthzResponse {
                    allow: true,
                    msg: String::new(),
                },
                Err(msg) => {
                    tracing::info!(method = %req.method, uri = %req.uri, reason = %msg, "sandbox engine request refused");
                    AuthzResponse { allow: false, msg }
                }
            }
        }
        Err(e) => AuthzResponse {
            allow: false,
            msg: format!("unreadable authorization request: {e}"),
        },
    };
    serde_json::to_string(&resp).expect("response serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(hc: Value) -> Result<(), String> {
        decide(
            "POST",
            "/v1.41/containers/create?name=x",
            Some(&json!({"Image": "x", "HostConfig": hc})),
            &["/run/hx/1/docker.sock".into()],
        )
    }

    #[test]
    fn ordinary_containers_pass() {
        assert!(create(json!({})).is_ok());
        assert!(create(json!({"Binds": ["data:/data", "/run/hx/1/docker.sock:/var/run/docker.sock"], "NetworkMode": "host", "CapAdd": ["NET_ADMIN"]})).is_ok());
        assert!(create(json!({"Mounts": [{"Type": "volume", "Source": "v", "Target": "/v"}, {"Type": "tmpfs", "Target": "/t"}]})).is_ok());
        assert!(decide("GET", "/v1.41/containers/json", None, &[]).is_ok());
        assert!(decide(
            "POST",
            "/v1.41/volumes/create",
            Some(&json!({"Name": "v"})),
            &[]
        )
        .is_ok());
        assert!(decide(
            "POST",
            "/containers/abc/exec",
            Some(&json!({"Cmd": ["ls"]})),
            &[]
        )
        .is_ok());
    }

    #[test]
    fn ways_to_the_host_are_refused() {
        for hc in [
            json!({"Privileged": true}),
            json!({"Binds": ["/:/host"]}),
            json!({"Binds": ["/etc:/etc:ro"]}),
            json!({"Mounts": [{"Type": "bind", "Source": "/", "Target": "/h"}]}),
            json!({"Mounts": [{"Type": "volume", "Source": "v", "Target": "/v", "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": {"o": "bind", "device": "/"}}}}]}),
            json!({"PidMode": "host"}),
            json!({"IpcMode": "host"}),
            json!({"UsernsMode": "host"}),
            json!({"CapAdd": ["SYS_ADMIN"]}),
            json!({"CapAdd": ["cap_sys_module"]}),
            json!({"CapAdd": ["ALL"]}),
            json!({"Devices": [{"PathOnHost": "/dev/sda"}]}),
            json!({"SecurityOpt": ["seccomp=unconfined"]}),
            json!({"SecurityOpt": ["apparmor:unconfined"]}),
            json!({"MaskedPaths": []}),
            json!({"CgroupParent": "/"}),
            json!({"Runtime": "other"}),
            json!({"LogConfig": {"Type": "syslog"}}),
        ] {
            assert!(create(hc.clone()).is_err(), "{hc}");
        }
        assert!(decide("POST", "/v1.41/containers/create", None, &[]).is_err());
        assert!(decide(
            "POST",
            "/v1.41/containers/abc/exec",
            Some(&json!({"Privileged": true})),
            &[]
        )
        .is_err());
        assert!(decide(
            "POST",
            "/v1.41/volumes/create",
            Some(&json!({"DriverOpts": {"o": "bind", "device": "/"}})),
            &[]
        )
        .is_err());
        assert!(decide("POST", "/v1.41/plugins/pull?remote=x", None, &[]).is_err());
        assert!(decide("POST", "/v1.41/swarm/init", None, &[]).is_err());
    }

    #[test]
    fn the_wire_format_round_trips() {
        let body = base64::engine::general_purpose::STANDARD
            .encode(br#"{"HostConfig":{"Privileged":true}}"#);
        let req = json!({"RequestMethod": "POST", "RequestUri": "/v1.41/containers/create", "RequestBody": body});
        let out: Value = serde_json::from_str(&answer(req.to_string().as_bytes(), &[])).unwrap();
        assert_eq!(out["Allow"], false);
        assert!(out["Msg"].as_str().unwrap().contains("privileged"));
        let req = json!({"RequestMethod": "GET", "RequestUri": "/_ping"});
        let out: Value = serde_json::from_str(&answer(req.to_string().as_bytes(), &[])).unwrap();
        assert_eq!(out["Allow"], true);
    }
}
