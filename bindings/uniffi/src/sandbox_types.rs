//! The sandbox records and enums that cross the boundary, and their conversions from and
//! to `helix-client`'s types. Durations are seconds (`f64`), as in the Python and Node
//! SDKs; output and files are bytes.

use crate::error::{invalid, Result};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// Resource limits of a sandbox; none means the host's default.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct Limits {
    /// CPU cores (fractions allowed).
    #[uniffi(default)]
    pub cpus: Option<f64>,
    /// Memory in bytes.
    #[uniffi(default)]
    pub memory_bytes: Option<u64>,
    /// Maximum number of processes.
    #[uniffi(default)]
    pub pids: Option<i64>,
    /// Disk for everything the sandbox stores.
    #[uniffi(default)]
    pub disk_bytes: Option<u64>,
}

/// What sandbox to create.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SandboxSpec {
    /// Image of the workspace.
    pub image: String,
    /// Environment of the workspace and of every command.
    #[uniffi(default)]
    pub env: HashMap<String, String>,
    /// Free-form labels, returned by `info` and `list_sandboxes`.
    #[uniffi(default)]
    pub labels: HashMap<String, String>,
    /// Resource limits.
    #[uniffi(default)]
    pub limits: Option<Limits>,
    /// Lifetime in seconds (the server's default when none); extend with `set_timeout`.
    #[uniffi(default)]
    pub timeout: Option<f64>,
    /// The workspace's main process (default: one that sleeps until stopped).
    #[uniffi(default)]
    pub command: Option<Vec<String>>,
}

/// Whether a sandbox runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SandboxState {
    /// Commands and files work.
    Running,
    /// The main process ended; only `info`, `logs` and `kill` work.
    Stopped,
}

/// A sandbox as the server describes it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SandboxInfo {
    /// Id (`sbx_...`).
    pub id: String,
    /// The workspace image.
    pub image: String,
    /// Running or stopped.
    pub state: SandboxState,
    /// Labels from the spec.
    pub labels: HashMap<String, String>,
    /// Limits in force.
    pub limits: Limits,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it will be killed unless extended.
    pub expires_at: SystemTime,
}

/// A command to run in a sandbox.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExecSpec {
    /// Program and arguments (no shell unless you call one: `["sh", "-c", "..."]`).
    pub cmd: Vec<String>,
    /// Extra environment.
    #[uniffi(default)]
    pub env: HashMap<String, String>,
    /// Working directory (absolute).
    #[uniffi(default)]
    pub cwd: Option<String>,
    /// User to run as (`name`, `uid` or `uid:gid`).
    #[uniffi(default)]
    pub user: Option<String>,
    /// Kill the command after this many seconds.
    #[uniffi(default)]
    pub timeout: Option<f64>,
}

/// A piece of a running command's output, or its end.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ExecEvent {
    /// Bytes written to standard output.
    Stdout {
        /// The bytes, as they came.
        data: Vec<u8>,
    },
    /// Bytes written to standard error.
    Stderr {
        /// The bytes, as they came.
        data: Vec<u8>,
    },
    /// The command ended; always the last event.
    Exit {
        /// Exit status (128 + signal when killed).
        code: i64,
        /// Whether it was killed because its timeout passed.
        timed_out: bool,
    },
}

/// What a finished command did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CommandResult {
    /// Everything it wrote to standard output (not read with `next_event` before).
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error (not read with `next_event` before).
    pub stderr: Vec<u8>,
    /// Exit status (128 + signal when killed).
    pub exit_code: i64,
    /// Whether it was killed because its timeout passed.
    pub timed_out: bool,
}

/// The kind of a folder entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, socket, fifo).
    Other,
}

/// One entry of a folder listing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FileEntry {
    /// Its name within the folder.
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

// ---- from helix-client ----

impl From<helix_client::Limits> for Limits {
    fn from(l: helix_client::Limits) -> Self {
        Limits {
            cpus: l.cpus,
            memory_bytes: l.memory_bytes,
            pids: l.pids,
            disk_bytes: l.disk_bytes,
        }
    }
}

impl From<helix_client::SandboxInfo> for SandboxInfo {
    fn from(s: helix_client::SandboxInfo) -> Self {
        SandboxInfo {
            id: s.id.as_str().into(),
            image: s.image,
            state: match s.state {
                helix_client::SandboxState::Running => SandboxState::Running,
                helix_client::SandboxState::Stopped => SandboxState::Stopped,
            },
            labels: s.labels.into_iter().collect(),
            limits: s.limits.into(),
            created_at: s.created_at.into(),
            expires_at: s.expires_at.into(),
        }
    }
}

impl From<helix_client::ExecEvent> for ExecEvent {
    fn from(e: helix_client::ExecEvent) -> Self {
        use helix_client::ExecEvent as E;
        match e {
            E::Stdout { data } => ExecEvent::Stdout { data: data.into() },
            E::Stderr { data } => ExecEvent::Stderr { data: data.into() },
            E::Exit { code, timed_out } => ExecEvent::Exit { code, timed_out },
        }
    }
}

impl From<helix_client::CommandResult> for CommandResult {
    fn from(r: helix_client::CommandResult) -> Self {
        CommandResult {
            stdout: r.stdout,
            stderr: r.stderr,
            exit_code: r.exit_code,
            timed_out: r.timed_out,
        }
    }
}

impl From<helix_client::FileEntry> for FileEntry {
    fn from(f: helix_client::FileEntry) -> Self {
        use helix_client::FileKind as K;
        FileEntry {
            name: f.name,
            path: f.path,
            kind: match f.kind {
                K::File => FileKind::File,
                K::Dir => FileKind::Dir,
                K::Symlink => FileKind::Symlink,
                K::Other => FileKind::Other,
            },
            size: f.size,
            mode: f.mode,
            modified: f.modified,
        }
    }
}

// ---- to helix-client ----

/// Seconds as a duration; refused (`invalid_argument`) when negative or not finite.
pub(crate) fn duration(what: &str, s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|e| invalid(what, e))
}

impl From<Limits> for helix_client::Limits {
    fn from(l: Limits) -> Self {
        helix_client::Limits {
            cpus: l.cpus,
            memory_bytes: l.memory_bytes,
            pids: l.pids,
            disk_bytes: l.disk_bytes,
        }
    }
}

impl SandboxSpec {
    pub(crate) fn into_client(self) -> Result<helix_client::SandboxSpec> {
        Ok(helix_client::SandboxSpec {
            image: self.image,
            env: self.env.into_iter().collect(),
            limits: self.limits.map(Into::into).unwrap_or_default(),
            timeout: self.timeout.map(|t| duration("timeout", t)).transpose()?,
            labels: self.labels.into_iter().collect(),
            command: self.command,
        })
    }
}

impl ExecSpec {
    pub(crate) fn into_client(self) -> Result<helix_client::ExecSpec> {
        Ok(helix_client::ExecSpec {
            cmd: self.cmd,
            env: self.env.into_iter().collect(),
            cwd: self.cwd,
            user: self.user,
            timeout: self.timeout.map(|t| duration("timeout", t)).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_timeouts_are_invalid_argument() {
        let spec = ExecSpec {
            cmd: vec!["true".into()],
            env: HashMap::new(),
            cwd: None,
            user: None,
            timeout: Some(-1.0),
        };
        let e = spec.into_client().unwrap_err();
        assert!(
            matches!(e, crate::HelixError::InvalidRequest { ref code, .. } if code == "invalid_argument"),
            "{e:?}"
        );
    }

    #[test]
    fn exec_bytes_are_kept_as_bytes() {
        let e = helix_client::ExecEvent::Stdout {
            data: vec![0xff, 0, b'a'].into(),
        };
        assert_eq!(
            ExecEvent::from(e),
            ExecEvent::Stdout {
                data: vec![0xff, 0, b'a']
            }
        );
    }
}
