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
        )
    }
}

/// `Result` with [`HydraError`] as the default error type.
pub type Result<T, E = HydraError> = std::result::Result<T, E>;

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
