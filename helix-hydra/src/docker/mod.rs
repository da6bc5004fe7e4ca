//! The Docker backend: a dockerd per session in its own network namespace.
//!
//! - [`DockerHost`] implements [`crate::SandboxRuntime`];
//! - each sandbox is a session *engine* (`engine.rs`): a namespace joined to the host by a
//!   veth pair, a DNS server inside it (`dns.rs`), and its own dockerd whose data-root,
//!   exec-root, socket, bridge, address pool and cgroup parent are the session's alone;
//! - the session's *workspace* container runs in the session namespace itself (host
//!   networking of the session engine), so it reaches every container of the session and
//!   every port they publish, and gets the engine's socket so `docker` works inside it;
//! - `firewall.rs` keeps sessions from each other and from the host's services;
//! - `authz.rs` is each engine's authorization plugin: a sandbox uses its engine freely
//!   but cannot reach the host through it (privileged containers, host mounts, host
//!   namespaces, extra capabilities and devices are refused);
//! - `gc.rs` removes whatever a dead process left behind, at start;
//! - `images.rs` is the image library sessions import from.

mod authz;
mod dns;
mod engine;
mod firewall;
mod gc;
mod host;
mod images;
mod ops;
mod sys;

pub use dns::{host_resolvers, SESSION_DOMAIN};
pub use gc::GcReport;
pub use host::{DockerConfig, DockerHost};
pub use images::{parse_reference, ImageConfig, ImageLibrary};
