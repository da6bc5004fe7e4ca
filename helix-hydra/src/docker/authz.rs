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
const NO_BODY: &str = "the request has no JSON body under 1 MiB to authorize";

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
    // The router matches the decoded path: so must we.
    let path = percent_decode(uri.split('?').next().unwrap_or(""))?;
    // Strip the API version: /v1.41/containers/create -> /containers/create. Versions
    // before 1.24 took a HostConfig on `start`, which would skip the create checks.
    let path = match path.strip_prefix("/v") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
            let (version, rest) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let mut it = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
            let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
            if (major, minor) < (1, 24) {
                return Err(format!(
                    "engine API version {version} is not allowed in a sandbox (1.24 or later)"
                ));
            }
            rest.to_owned()
        }
        _ => path,
    };
    // Go decodes JSON keys case-insensitively (Unicode simple folding): check what it
    // will see, and refuse keys that fold to the same name.
    let folded = body.map(fold_keys).transpose()?;
    let body = folded.as_ref();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if method == "POST" {
        match parts.as_slice() {
            ["containers", "create"] => return check_create(body, own_binds),
            // dockerd passes no body to the plugin when it is over 1 MiB or not JSON:
            // requests whose body decides are refused without one.
            ["containers", _, "exec"] | ["volumes", "create"] if body.is_none() => {
                return Err(NO_BODY.into());
            }
            ["containers", _, "exec"]
                if body
                    .and_then(|b| b.get("privileged"))
                    .and_then(Value::as_bool)
                    == Some(true) =>
            {
                return Err("privileged exec is not allowed in a sandbox".into());
            }
            ["volumes", "create"] => {
                let b = body.cloned().unwrap_or(Value::Null);
                let driver = b.get("driver").and_then(Value::as_str).unwrap_or("");
                if !(driver.is_empty() || driver == "local") {
                    return Err(format!(
                        "volume driver {driver:?} is not allowed in a sandbox"
                    ));
                }
                if b.get("driveropts")
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
        return Err(NO_BODY.into());
    };
    let Some(hc) = body.get("hostconfig").filter(|h| h.is_object()) else {
        return Ok(());
    };
    let s = |k: &str| hc.get(k).and_then(Value::as_str).unwrap_or("");
    let arr = |k: &str| {
        hc.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    if hc.get("privileged").and_then(Value::as_bool) == Some(true) {
        return Err("privileged containers are not allowed in a sandbox".into());
    }
    for b in arr("binds") {
        let spec = b.as_str().unwrap_or("");
        let src = spec.split(':').next().unwrap_or("");
        if src.starts_with('/') && !own_binds.iter().any(|o| o == src) {
            return Err(format!(
                "bind mount of host path {src:?} is not allowed in a sandbox; use a named volume"
            ));
        }
    }
    for m in arr("mounts") {
        let kind = m.get("type").and_then(Value::as_str).unwrap_or("");
        let src = m.get("source").and_then(Value::as_str).unwrap_or("");
        match kind {
            "bind" if !own_binds.iter().any(|o| o == src) => {
                return Err(format!(
                    "bind mount of host path {src:?} is not allowed in a sandbox"
                ))
            }
            "volume" => {
                let opts = m.pointer("/volumeoptions/driverconfig");
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
        ("pidmode", "pid"),
        ("ipcmode", "ipc"),
        ("utsmode", "uts"),
        ("usernsmode", "user"),
        ("cgroupnsmode", "cgroup"),
    ] {
        if s(key) == "host" {
            return Err(format!(
                "the host's {what} namespace is not allowed in a sandbox"
            ));
        }
    }
    for cap in arr("capadd") {
        let c = cap.as_str().unwrap_or("").to_uppercase();
        let c = c.strip_prefix("CAP_").unwrap_or(&c);
        if !ALLOWED_CAPS.contains(&c) {
            return Err(format!("capability {c} is not allowed in a sandbox"));
        }
    }
    for (key, what) in [
        ("devices", "devices"),
        ("devicecgrouprules", "device cgroup rules"),
        ("devicerequests", "device requests"),
    ] {
        if !arr(key).is_empty() {
            return Err(format!("{what} are not allowed in a sandbox"));
        }
    }
    for opt in arr("securityopt") {
        let o = opt.as_str().unwrap_or("");
        // Only ever tightening: custom seccomp/AppArmor/SELinux settings can loosen.
        if !(o == "no-new-privileges"
            || o == "no-new-privileges:true"
            || o == "no-new-privileges=true")
        {
            return Err(format!("security option {o:?} is not allowed in a sandbox"));
        }
    }
    // Replacing the masked or read-only /proc paths at all unmasks the defaults.
    if ["maskedpaths", "readonlypaths"]
        .iter()
        .any(|k| hc.get(*k).is_some_and(|v| !v.is_null()))
    {
        return Err("changing the masked /proc paths is not allowed in a sandbox".into());
    }
    if !s("cgroupparent").is_empty() {
        return Err("a custom cgroup parent is not allowed in a sandbox".into());
    }
    if !s("volumedriver").is_empty() {
        return Err("volume drivers are not allowed in a sandbox".into());
    }
    let runtime = s("runtime");
    if !(runtime.is_empty() || runtime == "runc") {
        return Err(format!("runtime {runtime:?} is not allowed in a sandbox"));
    }
    if let Some(log) = hc.pointer("/logconfig/type").and_then(Value::as_str) {
        if !(log.is_empty() || log == "json-file" || log == "local" || log == "none") {
            return Err(format!("log driver {log:?} is not allowed in a sandbox"));
        }
    }
    Ok(())
}

/// `%XX` escapes decoded; malformed escapes and non-UTF-8 results are refused.
fn percent_decode(path: &str) -> Result<String, String> {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("malformed escape in {path:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("path {path:?} is not UTF-8"))
}

/// Object keys folded as Go's `encoding/json` matches them to struct fields (ASCII case,
/// plus U+017F `ſ` = s and U+212A `K` = k), at every depth; keys that fold to the same
/// name are refused (which one Go would use depends on their order).
fn fold_keys(v: &Value) -> Result<Value, String> {
    Ok(match v {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key: String = k
                    .chars()
                    .map(|c| match c {
                        '\u{17F}' => 's',
                        '\u{212A}' => 'k',
                        c => c.to_ascii_lowercase(),
                    })
                    .collect();
                if out.insert(key.clone(), fold_keys(v)?).is_some() {
                    return Err(format!("duplicate field {key:?} in the request"));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(fold_keys).collect::<Result<_, _>>()?),
        v => v.clone(),
    })
}

/// A running plugin server; stops when dropped. Its socket file is removed by the
/// engine's teardown, not here: by the time the last handle of an engine is dropped, its
/// slot (and so the socket's name) may already belong to a new engine.
#[derive(Debug)]
pub(crate) struct AuthzPlugin {
    task: JoinHandle<()>,
}

impl Drop for AuthzPlugin {
    fn drop(&mut self) {
        self.task.abort();
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
    Ok(AuthzPlugin { task })
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
        // A body dockerd did not pass (over 1 MiB) cannot hide what it asks for.
        assert!(decide("POST", "/v1.41/containers/abc/exec", None, &[]).is_err());
        assert!(decide("POST", "/v1.41/volumes/create", None, &[]).is_err());
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
        // Spellings that Docker reads the same way.
        let hc = |v: Value| Some(json!({"Image": "x", "hostconfig": v}));
        let own: [String; 0] = [];
        for (uri, body) in [
            (
                "/v1.41/%63ontainers/create",
                Some(json!({"HostConfig": {"Privileged": true}})),
            ),
            ("/v1.41/containers/create", hc(json!({"privileged": true}))),
            ("/v1.41/containers/create", hc(json!({"binds": ["/:/h"]}))),
            (
                "/v1.41/containers/create",
                hc(json!({"bind\u{17F}": ["/:/h"]})),
            ),
            (
                "/v1.41/containers/create",
                hc(json!({"Privileged": false, "privileged": true})),
            ),
            (
                "/v1.41/containers/create",
                hc(json!({"MaskedPaths": ["/x"]})),
            ),
            (
                "/v1.41/containers/create",
                hc(json!({"SecurityOpt": ["seccomp={}"]})),
            ),
            (
                "/v1.41/containers/create",
                hc(json!({"SecurityOpt": ["label=type:spc_t"]})),
            ),
            ("/v1.23/containers/abc/start", None),
            (
                "/v1.41/containers/abc/exec",
                Some(json!({"privileged": true})),
            ),
            (
                "/v1.41/volumes/create",
                Some(json!({"driveropts": {"device": "/"}})),
            ),
            ("/v1.41/containers/cre%zzate", None),
        ] {
            assert!(
                decide("POST", uri, body.as_ref(), &own).is_err(),
                "{uri} {body:?}"
            );
        }
        assert!(decide(
            "POST",
            "/v1.41/containers/create",
            hc(json!({"SecurityOpt": ["no-new-privileges"]})).as_ref(),
            &own
        )
        .is_ok());
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
