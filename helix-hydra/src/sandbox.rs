//! The sandbox API: what a sandbox is, and the [`SandboxRuntime`] trait backends implement.
//!
//! The shape follows what developers know from E2B-style SDKs: `create` a sandbox from an
//! image, `exec` commands with streamed output (`commands.run`), `write_file`/`read_file`/
//! `list_dir` (`files.*`), `port_target` (`get_host(port)`), `set_timeout` and `kill`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::{HydraError, Result};

/// Default lifetime of a sandbox when the spec gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The longest lifetime a sandbox may ask for (it can be extended with `set_timeout`).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_LABELS: usize = 64;
/// Smallest disk a sandbox may ask for.
pub const MIN_DISK: u64 = 128 * 1024 * 1024;
const MAX_DISK: u64 = 16 << 40;
const MAX_ENV: usize = 256;

/// A sandbox id: `sbx_` followed by a lowercase ULID.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SandboxId(String);

impl SandboxId {
    /// A fresh, time-ordered id.
    pub fn generate() -> Self {
        SandboxId(format!(
            "sbx_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ))
    }

    /// Parses an id, refusing anything that is not `sbx_` + 26 base32 characters.
    pub fn parse(s: &str) -> Result<Self> {
        let ok = s.len() == 30
            && s.starts_with("sbx_")
            && s[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
        if ok {
            Ok(SandboxId(s.to_owned()))
        } else {
            Err(HydraError::SandboxNotFound { id: s.to_owned() })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SandboxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Resource limits of a sandbox; `None` means the host's default.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU cores (fractions allowed), enforced with CFS quota.
    pub cpus: Option<f64>,
    /// Memory in bytes (swap included).
    pub memory_bytes: Option<u64>,
    /// Maximum number of processes.
    pub pids: Option<i64>,
    /// Disk for everything the sandbox stores (its images, containers and volumes); the
    /// host's default when absent. Enforced where the host can mount a loop device.
    #[serde(default)]
    pub disk_bytes: Option<u64>,
}

impl Limits {
    fn validate(&self) -> Result<()> {
        if let Some(c) = self.cpus {
            if !(c.is_finite() && c > 0.0 && c <= 256.0) {
                return Err(HydraError::invalid("limits.cpus must be in (0, 256]"));
            }
        }
        if let Some(m) = self.memory_bytes {
            if m < 6 * 1024 * 1024 {
                return Err(HydraError::invalid(
                    "limits.memory_bytes must be at least 6 MiB (the engine's minimum)",
                ));
            }
        }
        if let Some(p) = self.pids {
            if p < 8 {
                return Err(HydraError::invalid("limits.pids must be at least 8"));
            }
        }
        if let Some(d) = self.disk_bytes {
            if !(MIN_DISK..=MAX_DISK).contains(&d) {
                return Err(HydraError::invalid(
                    "limits.disk_bytes must be between 128 MiB and 16 TiB",
                ));
            }
        }
        Ok(())
    }
}

/// What to create.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSpec {
    /// Image of the workspace container, e.g. `helix-busybox:test`.
    pub image: String,
    /// Environment of the workspace and of every exec.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Resource limits.
    #[serde(default)]
    pub limits: Limits,
    /// Lifetime; the sandbox is killed when it passes (extend with `set_timeout`).
    #[serde(default, with = "opt_secs")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub timeout: Option<Duration>,
    /// Free-form labels, returned by `get`/`list`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The workspace's main process; by default one that sleeps until stopped (needs
    /// `/bin/sh` in the image).
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

impl SandboxSpec {
    /// A spec with only an image.
    pub fn new(image: impl Into<String>) -> Self {
        SandboxSpec {
            image: image.into(),
            ..Default::default()
        }
    }

    /// Checks everything that can be checked without an engine.
    pub fn validate(&self) -> Result<()> {
        let img = &self.image;
        if img.is_empty() || img.len() > 255 || img.chars().any(|c| c.is_whitespace()) {
            return Err(HydraError::invalid(
                "image must be a non-empty reference without spaces",
            ));
        }
        if self.env.len() > MAX_ENV || self.labels.len() > MAX_LABELS {
            return Err(HydraError::invalid(format!(
                "at most {MAX_ENV} env entries and {MAX_LABELS} labels"
            )));
        }
        validate_env(&self.env)?;
        if let Some(t) = self.timeout {
            check_timeout(t)?;
        }
        if let Some(cmd) = &self.command {
            if cmd.is_empty() {
                return Err(HydraError::invalid("command must not be empty"));
            }
        }
        self.limits.validate()
    }
}

pub(crate) fn validate_env(env: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in env {
        let ok = !k.is_empty()
            && k.len() <= 256
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !k.as_bytes()[0].is_ascii_digit();
        if !ok {
            return Err(HydraError::invalid(format!(
                "env name {k:?} must match [A-Za-z_][A-Za-z0-9_]*"
            )));
        }
        if v.contains('\0') {
            return Err(HydraError::invalid(format!("env {k} contains NUL")));
        }
    }
    Ok(())
}

/// Checks a requested lifetime against [`MAX_TIMEOUT`].
pub fn check_timeout(t: Duration) -> Result<()> {
    if t.is_zero() || t > MAX_TIMEOUT {
        return Err(HydraError::invalid(format!(
            "timeout must be between 1 s and {} s",
            MAX_TIMEOUT.as_secs()
        )));
    }
    Ok(())
}

/// Whether a sandbox runs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxState {
    /// The workspace runs; exec and files work.
    Running,
    /// The workspace's main process ended; only `get`, `list`, `logs` and `kill` work.
    Stopped,
}

/// A sandbox as `get` and `list` show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxInfo {
    /// Its id.
    pub id: SandboxId,
    /// The workspace image.
    pub image: String,
    /// Running or stopped.
    pub state: SandboxState,
    /// Labels from the spec.
    pub labels: BTreeMap<String, String>,
    /// Limits in force.
    pub limits: Limits,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it will be killed unless extended.
    pub expires_at: DateTime<Utc>,
}

/// A command to run in a sandbox.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecSpec {
    /// Program and arguments (no shell unless you call one).
    pub cmd: Vec<String>,
    /// Extra environment for this command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (absolute).
    #[serde(default)]
    pub cwd: Option<String>,
    /// User to run as (`name`, `uid` or `uid:gid`).
    #[serde(default)]
    pub user: Option<String>,
    /// Kill the command after this long.
    #[serde(default, with = "opt_secs")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub timeout: Option<Duration>,
}

impl ExecSpec {
    /// A command with no options.
    pub fn new<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> Self {
        ExecSpec {
            cmd: cmd.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// Checks the request.
    pub fn validate(&self) -> Result<()> {
        if self.cmd.is_empty() || self.cmd[0].is_empty() {
            return Err(HydraError::invalid("cmd must name a program"));
        }
        if self.cmd.iter().any(|a| a.contains('\0')) {
            return Err(HydraError::invalid("cmd contains NUL"));
        }
        validate_env(&self.env)?;
        if let Some(cwd) = &self.cwd {
            crate::paths::sandbox_path(cwd)?;
        }
        if let Some(t) = self.timeout {
            check_timeout(t)?;
        }
        Ok(())
    }
}

/// One piece of a running command's output, or its end.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecEvent {
    /// Bytes the command wrote to standard output.
    Stdout {
        /// The bytes, as they came.
        #[serde(with = "lossy_bytes")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        data: Bytes,
    },
    /// Bytes the command wrote to standard error.
    Stderr {
        /// The bytes, as they came.
        #[serde(with = "lossy_bytes")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        data: Bytes,
    },
    /// The command ended. Always the last event.
    Exit {
        /// Exit status (128 + signal when killed).
        code: i64,
        /// Whether the command was killed because its timeout passed.
        timed_out: bool,
    },
}

/// The kind of a directory entry.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, socket, fifo).
    Other,
}

/// One entry of a directory listing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name within the directory.
    pub name: String,
    /// Its absolute path.
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Last modification, seconds since the epoch.
    pub modified: i64,
}

/// A stream of exec events.
pub type ExecStream = BoxStream<'static, Result<ExecEvent>>;
/// A stream of log bytes from the workspace's main process (stdout and stderr as
/// [`ExecEvent::Stdout`]/[`ExecEvent::Stderr`]).
pub type LogStream = BoxStream<'static, Result<ExecEvent>>;

/// A place that runs sandboxes. The Docker backend is [`crate::docker::DockerHost`].
#[async_trait]
pub trait SandboxRuntime: Send + Sync + std::fmt::Debug {
    /// Creates and starts a sandbox; returns when a command can be run in it.
    async fn create(&self, spec: SandboxSpec) -> Result<SandboxInfo>;
    /// One sandbox.
    async fn get(&self, id: &SandboxId) -> Result<SandboxInfo>;
    /// Every sandbox on this host, oldest first.
    async fn list(&self) -> Result<Vec<SandboxInfo>>;
    /// Runs a command; output streams as it comes, [`ExecEvent::Exit`] ends the stream.
    async fn exec(&self, id: &SandboxId, spec: ExecSpec) -> Result<ExecStream>;
    /// Writes a file (creating parent directories), replacing any file at `path`.
    async fn write_file(&self, id: &SandboxId, path: &str, data: Bytes) -> Result<()>;
    /// Reads a whole file.
    async fn read_file(&self, id: &SandboxId, path: &str) -> Result<Bytes>;
    /// Lists a directory (one level).
    async fn list_dir(&self, id: &SandboxId, path: &str) -> Result<Vec<FileEntry>>;
    /// The address on the sandbox host where a port the sandbox listens on is reachable.
    async fn port_target(&self, id: &SandboxId, port: u16) -> Result<SocketAddr>;
    /// One buffered HTTP exchange with a port the sandbox listens on (for callers that
    /// cannot reach [`SandboxRuntime::port_target`], such as a control plane in front of
    /// a remote host).
    async fn http(
        &self,
        id: &SandboxId,
        port: u16,
        req: crate::relay::HttpExchange,
    ) -> Result<crate::relay::HttpAnswer> {
        let target = self.port_target(id, port).await?;
        crate::relay::exchange(target, &req).await
    }
    /// The workspace's output so far (and as it comes when `follow`).
    async fn logs(&self, id: &SandboxId, follow: bool) -> Result<LogStream>;
    /// Moves the sandbox's deadline to `timeout` from now.
    async fn set_timeout(&self, id: &SandboxId, timeout: Duration) -> Result<SandboxInfo>;
    /// Stops the sandbox and removes everything it had. Idempotent for known ids.
    async fn kill(&self, id: &SandboxId) -> Result<()>;
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let v: Option<f64> = Option::deserialize(d)?;
        match v {
            None => Ok(None),
            Some(s) if (0.0..1e9).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
            Some(_) => Err(serde::de::Error::custom(
                "timeout must be a number of seconds",
            )),
        }
    }
}

mod lossy_bytes {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        Ok(Bytes::from(String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_junk() {
        let id = SandboxId::generate();
        assert_eq!(SandboxId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "sbx_",
            "sbx_../../etc",
            "SBX_01",
            &id.as_str().to_uppercase(),
        ] {
            assert_eq!(
                SandboxId::parse(bad).unwrap_err().code(),
                "sandbox_not_found"
            );
        }
    }

    #[test]
    fn specs_are_validated() {
        assert!(SandboxSpec::new("img:1").validate().is_ok());
        let mut s = SandboxSpec::new("");
        assert_eq!(s.validate().unwrap_err().code(), "invalid_request");
        s.image = "img".into();
        s.env.insert("1BAD".into(), "x".into());
        assert_eq!(s.validate().unwrap_err().code(), "invalid_request");
        s.env.clear();
        s.timeout = Some(Duration::from_secs(0));
        assert!(s.validate().is_err());
        s.timeout = Some(MAX_TIMEOUT + Duration::from_secs(1));
        assert!(s.validate().is_err());
        s.timeout = None;
        s.limits.memory_bytes = Some(1024);
        assert!(s.validate().is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<SandboxSpec>(r#"{"image":"x","imagee":"y"}"#);
        assert!(err.is_err());
        let ok: SandboxSpec =
            serde_json::from_str(r#"{"image":"x","timeout":30,"limits":{"cpus":0.5}}"#).unwrap();
        assert_eq!(ok.timeout, Some(Duration::from_secs(30)));
    }

    #[test]
    fn exec_specs_are_validated() {
        assert!(ExecSpec::new(["echo", "hi"]).validate().is_ok());
        assert!(ExecSpec::new(Vec::<String>::new()).validate().is_err());
        let mut e = ExecSpec::new(["ls"]);
        e.cwd = Some("../etc".into());
        assert_eq!(e.validate().unwrap_err().code(), "invalid_path");
    }

    #[test]
    fn exec_events_serialise_tagged() {
        let ev = ExecEvent::Exit {
            code: 3,
            timed_out: false,
        };
        assert_eq!(
            serde_json::to_string(&ev).unwrap(),
            r#"{"type":"exit","code":3,"timed_out":false}"#
        );
    }
}
