//! Remote sandbox hosts: `helix sandbox-host` dials OUT to the control plane over one
//! WebSocket (like runners), and the control plane's [`SandboxFleet`] places sandboxes
//! on the connected hosts (and the in-process one) by free capacity.
//!
//! - `protocol.rs`: the messages (spec: `docs/sandbox-host-protocol.md`);
//! - `agent.rs`: the host's side ([`serve_link`]) over a local [`crate::SandboxRuntime`];
//! - `fleet.rs`: the control plane's side, itself a [`crate::SandboxRuntime`].
//!
//! Both sides are transport-free (text messages through channels); the hosts
//! (`helix-server`) carry them over WebSockets.

mod agent;
mod fleet;
pub mod protocol;

#[cfg(test)]
mod link_tests;

pub use agent::{serve_link, LinkEnd};
pub use fleet::{HostStatus, SandboxFleet};
