//! The crate's error type.

use std::io;
use std::path::PathBuf;

use crate::Subnet;

/// Everything that can go wrong in `helix-hydra`.
///
/// Each variant carries a stable machine-readable [`code`](HydraError::code) that hosts
/// map to HTTP statuses, Python exception classes or JS errors.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HydraError {
    /// A string is not an IPv4 CIDR such as `10.213.0.0/16`.
    #[error("invalid cidr {input:?}: {reason}")]
    InvalidCidr {
        /// The text that was parsed.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An address pool was configured with a prefix that cannot work.
    #[error("invalid address pool: {reason}")]
    InvalidPoolConfig {
        /// What is wrong with the configuration.
        reason: String,
    },

    /// A session id is empty or too long to use as an allocation key.
    #[error("invalid session id {session_id:?}: {reason}")]
    InvalidSessionId {
        /// The id that was given.
        session_id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Every subnet of the pool is assigned to a session.
    #[error(
        "address pool {parent} is exhausted: all {capacity} /{prefix_len} subnets are assigned"
    )]
    PoolExhausted {
        /// The pool's parent range.
        parent: Subnet,
        /// The prefix length of the subnets handed out.
        prefix_len: u8,
        /// How many subnets the pool holds.
        capacity: u64,
    },

    /// Reading or writing the pool's state file failed.
    #[error("cannot access address pool file {path}")]
    PoolFileIo {
        /// The state file (or its temporary sibling).
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// The pool's state file exists but cannot be trusted.
    #[error("address pool file {path} is corrupt: {reason}")]
    CorruptPoolFile {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The state file was written for a different parent range or prefix length.
    #[error(
        "address pool file {path} holds {file_parent} split into /{file_prefix_len}, \
         but the pool is configured as {parent} split into /{prefix_len}; \
         release every session or remove the file to change the pool"
    )]
    PoolConfigMismatch {
        /// The state file.
        path: PathBuf,
        /// The parent range recorded in the file.
        file_parent: Subnet,
        /// The prefix length recorded in the file.
        file_prefix_len: u8,
        /// The configured parent range.
        parent: Subnet,
        /// The configured prefix length.
        prefix_len: u8,
    },

    /// No sandbox with this id exists on this host (or it belongs to someone else).
    #[error("sandbox {id} not found")]
    SandboxNotFound {
        /// The id that was asked for.
        id: String,
    },

    /// The sandbox exists but is stopped; only `get`, `list` and `kill` work on it.
    #[error("sandbox {id} is not running")]
    SandboxNotRunning {
        /// The sandbox.
        id: String,
    },

    /// The image is neither in the session engine nor in the host's image library.
    #[error("image {image:?} not found; import it into the host's image library first")]
    ImageNotFound {
        /// The image reference that was asked for.
        image: String,
    },

    /// A sandbox spec, exec request or option is invalid.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },

    /// A file path given to the file API is not an absolute, normalised path.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path that was given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A path names something of the wrong kind (a directory where a file is needed).
    #[error("{path:?} is {found}, expected {expected}")]
    WrongFileKind {
        /// The path.
        path: String,
        /// What it is.
        found: &'static str,
        /// What the operation needs.
        expected: &'static str,
    },

    /// A path does not exist inside the sandbox.
    #[error("no such file or directory: {path:?}")]
    FileNotFound {
        /// The path.
        path: String,
    },

    /// An upload or a file read exceeds the host's size limit.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size (or the size reached when reading stopped).
        size: u64,
        /// The limit.
        limit: u64,
    },

    /// The host cannot take another sandbox right now.
    #[error("sandbox host is at capacity: {reason}")]
    AtCapacity {
        /// Which limit was reached.
        reason: String,
    },

    /// A system command the backend depends on failed (`ip`, `iptables`, `dockerd`).
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line, shortened.
        command: String,
        /// Exit status and standard error.
        detail: String,
    },

    /// The session's Docker engine refused or failed a request.
    #[error("docker engine: {message}")]
    Engine {
        /// The engine's message.
        message: String,
    },

    /// Local I/O on the sandbox host failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The sandbox host that runs the sandbox is not connected (restarting, or gone).
    #[error("sandbox host {host} is not connected")]
    HostUnavailable {
        /// The host's id.
        host: String,
    },

    /// The operation is not available for this sandbox.
    #[error("{what} is not supported here")]
    Unsupported {
        /// What.
        what: String,
    },

    /// An error a remote sandbox host reported, with its code.
    #[error("{message}")]
    Remote {
        /// The host's error code (one of this enum's codes).
        code: &'static str,
        /// The host's message.
        message: String,
    },

    /// This build has no backend for the requested runtime.
    #[error("helix-hydra was built without the {feature} backend")]
    BuiltWithout {
        /// The cargo feature that is missing.
        feature: &'static str,
    },
}

impl HydraError {
    /// A stable, machine-readable code for this error (`snake_case`, never changes).
    pub fn code(&self) -> &'static str {
        match self {
            HydraError::InvalidCidr { .. } => "invalid_cidr",
            HydraError::InvalidPoolConfig { .. } => "invalid_pool_config",
            HydraError::InvalidSessionId { .. } => "invalid_session_id",
            HydraError::PoolExhausted { .. } => "pool_exhausted",
            HydraError::PoolFileIo { .. } => "pool_file_io",
            HydraError::CorruptPoolFile { .. } => "corrupt_pool_file",
            HydraError::PoolConfigMismatch { .. } => "pool_config_mismatch",
            HydraError::SandboxNotFound { .. } => "sandbox_not_found",
            HydraError::SandboxNotRunning { .. } => "sandbox_not_running",
            HydraError::ImageNotFound { .. } => "image_not_found",
            HydraError::InvalidRequest { .. } => "invalid_request",
            HydraError::InvalidPath { .. } => "invalid_path",
            HydraError::WrongFileKind { .. } => "wrong_file_kind",
            HydraError::FileNotFound { .. } => "file_not_found",
            HydraError::TooLarge { .. } => "too_large",
            HydraError::AtCapacity { .. } => "at_capacity",
            HydraError::Command { .. } => "host_command_failed",
            HydraError::Engine { .. } => "engine_error",
            HydraError::Io { .. } => "host_io",
            HydraError::BuiltWithout { .. } => "built_without",
            HydraError::HostUnavailable { .. } => "host_unavailable",
            HydraError::Unsupported { .. } => "unsupported",
            HydraError::Remote { code, .. } => code,
        }
    }

    /// The HTTP status a server answers this error with (and a local client reports,
    /// so both map to the same exception class): 404 for what does not exist, 409 for a
    /// stopped sandbox, 422 for bad arguments, 413, 503 for capacity, 501, 502 for the
    /// sandbox's engine, 500 for the rest.
    pub fn http_status(&self) -> u16 {
        match self.code() {
            "sandbox_not_found" | "file_not_found" | "image_not_found" => 404,
            "sandbox_not_running" => 409,
            "invalid_request" | "invalid_path" | "wrong_file_kind" | "invalid_session_id" => 422,
            "too_large" => 413,
            "at_capacity" | "pool_exhausted" | "host_unavailable" => 503,
            "unsupported" => 501,
            "engine_error" => 502,
            _ => 500,
        }
    }

    /// Whether the error is the caller's fault (bad arguments) rather than a capacity,
    /// environment or internal failure.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            HydraError::InvalidCidr { .. }
                | HydraError::InvalidPoolConfig { .. }
                | HydraError::InvalidSessionId { .. }
                | HydraError::SandboxNotFound { .. }
                | HydraError::SandboxNotRunning { .. }
                | HydraError::ImageNotFound { .. }
                | HydraError::InvalidRequest { .. }
                | HydraError::InvalidPath { .. }
                | HydraError::WrongFileKind { .. }
                | HydraError::FileNotFound { .. }
                | HydraError::TooLarge { .. }
        ) || matches!(self, HydraError::Remote { code, .. } if USER_CODES.contains(code))
    }
}

/// Codes of errors that are the caller's fault.
const USER_CODES: [&str; 11] = [
    "invalid_cidr",
    "invalid_pool_config",
    "invalid_session_id",
    "sandbox_not_found",
    "sandbox_not_running",
    "image_not_found",
    "invalid_request",
    "invalid_path",
    "wrong_file_kind",
    "file_not_found",
    "too_large",
];

/// Every code a [`HydraError`] can have, for errors that cross a wire.
const ALL_CODES: [&str; 23] = [
    "invalid_cidr",
    "invalid_pool_config",
    "invalid_session_id",
    "pool_exhausted",
    "pool_file_io",
    "corrupt_pool_file",
    "pool_config_mismatch",
    "sandbox_not_found",
    "sandbox_not_running",
    "image_not_found",
    "invalid_request",
    "invalid_path",
    "wrong_file_kind",
    "file_not_found",
    "too_large",
    "at_capacity",
    "host_command_failed",
    "engine_error",
    "host_io",
    "built_without",
    "host_unavailable",
    "unsupported",
    "remote_error",
];

impl HydraError {
    /// An error reported by a remote host: its code is kept when it is one of ours
    /// (`remote_error` otherwise).
    pub fn remote(code: &str, message: String) -> HydraError {
        let code = ALL_CODES
            .iter()
            .find(|c| **c == code)
            .copied()
            .unwrap_or("remote_error");
        HydraError::Remote { code, message }
    }
}

/// `Result` with [`HydraError`] as the default error type.
pub type Result<T, E = HydraError> = std::result::Result<T, E>;

impl HydraError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> HydraError {
        let context = context.into();
        move |source| HydraError::Io { context, source }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> HydraError {
        HydraError::InvalidRequest {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let parent: Subnet = "10.0.0.0/8".parse().expect("cidr");
        let errors = [
            HydraError::InvalidCidr {
                input: "x".into(),
                reason: "missing /".into(),
            },
            HydraError::PoolExhausted {
                parent,
                prefix_len: 24,
                capacity: 65536,
            },
            HydraError::CorruptPoolFile {
                path: "/x".into(),
                reason: "not json".into(),
            },
        ];
        for err in errors {
            let msg = err.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
            assert!(!err.code().is_empty());
        }
    }
}
