//! `helix-hydra`: sandbox isolation for Helix sessions.
//!
//! This crate will give every session its own isolated place to run containers:
//!
//! - a `SandboxRuntime` trait whose Docker backend starts a **dockerd per session**
//!   (own data-root, exec-root, socket, bridge and address pool), so sessions cannot
//!   see each other's containers;
//! - explicit firewall rules between sessions, a veth pair so the session's desktop
//!   reaches its own containers, and a per-session DNS server that resolves the
//!   session's container names and forwards the rest to the host's resolvers;
//! - the sandbox API: create, exec with streamed output, files, ports, logs, stop,
//!   garbage collection and a warm pool; sandbox hosts dial out to the control plane.
//!
//! Today it provides the first building block: [`AddrPool`], which hands each session
//! a bridge subnet that never overlaps another session's and survives a restart of
//! the sandbox host, and [`Subnet`], an IPv4 CIDR type.
//!
//! # Cargo features
//!
//! None yet. Planned, all additive and off by default:
//!
//! - `docker`: the Docker backend of `SandboxRuntime` (without it, creating a sandbox
//!   fails with a clear "built without docker" error);
//! - `test-util`: a recording fake `SandboxRuntime` for downstream tests.
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
