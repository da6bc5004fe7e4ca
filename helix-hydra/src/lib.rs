//! `helix-hydra`: sandboxes for agents and CI jobs, each with its own Docker engine.
//!
//! - [`SandboxRuntime`]: create, exec with streamed output, files, ports, logs,
//!   timeouts, kill; the shape of E2B-style SDKs.
//! - [`docker::DockerHost`]: the Docker backend (bollard). Every sandbox gets a **dockerd
//!   of its own** in its own network namespace (own data-root on its own disk, exec-root,
//!   socket, bridge and address pool from the persistent [`AddrPool`]), a session DNS
//!   server, a Docker authorization plugin that keeps it off the host, cgroup limits
//!   and a deadline; host firewall chains keep sessions apart; a warm pool makes
//!   creation fast; whatever a dead process left is collected at start. Needs root.
//! - [`SandboxService`]: owner/site-admin access on top of any runtime.
//! - [`remote`]: remote sandbox hosts dial OUT to the control plane; its
//!   [`remote::SandboxFleet`] places sandboxes by free capacity.
//!
//! Design and operations: `docs/sandboxes.md`; the host link:
//! `docs/sandbox-host-protocol.md`.
//!
//! # Cargo features
//!
//! - `openapi`: `utoipa::ToSchema` for the API types (for hosts that publish OpenAPI).
//!
//! # Quick start
//!
//! ```
//! use helix_hydra::{AddrPool, Subnet};
//!
//! # let dir = tempfile::tempdir()?;
//! # let state_file = dir.path().join("addr-pool.json");
//! let parent: Subnet = "10.213.0.0/16".parse()?;
//!
//! // 256 /24 bridges; every change is saved to the state file atomically.
//! let mut pool = AddrPool::open(&state_file, parent, 24)?;
//! let bridge = pool.allocate("ses_01J0EXAMPLE")?;
//! assert_eq!(bridge.to_string(), "10.213.0.0/24");
//! assert_eq!(bridge.gateway().map(|ip| ip.to_string()).as_deref(), Some("10.213.0.1"));
//!
//! // After a restart the same session gets the same subnet back.
//! drop(pool);
//! let mut pool = AddrPool::open(&state_file, parent, 24)?;
//! assert_eq!(pool.allocate("ses_01J0EXAMPLE")?, bridge);
//!
//! pool.release("ses_01J0EXAMPLE")?;
//! assert!(pool.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod access;
pub mod addr_pool;
pub mod docker;
mod error;
pub mod paths;
pub mod relay;
pub mod remote;
pub mod sandbox;
mod subnet;

pub use access::SandboxService;
pub use addr_pool::AddrPool;
pub use error::{HydraError, Result};
pub use sandbox::{
    ExecEvent, ExecSpec, ExecStream, FileEntry, FileKind, Limits, LogStream, SandboxId,
    SandboxInfo, SandboxRuntime, SandboxSpec, SandboxState,
};
pub use subnet::Subnet;
