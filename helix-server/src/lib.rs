//! # helix-server
//!
//! The thin HTTP host of Helix: an axum application over
//! [`helix_core::ControlPlane`]. It parses requests, calls one control-plane
//! operation, and maps the result or error (`{"error": {"code", "message"}}` with a
//! stable code) to HTTP. No behaviour lives here.
//!
//! - [`router`] builds the whole app, so tests drive it in-process with
//!   `tower::ServiceExt::oneshot`.
//! - [`serve::serve`] runs `helix serve`; [`openapi`] is the generated API document
//!   (served at `/api/v1/openapi.json`, checked in at `docs/openapi.json`).
#![warn(missing_docs)]

pub mod bench;
pub mod client_addr;
pub mod config;
pub mod desktops;
pub mod error;
pub mod extract;
pub mod metrics;
mod routes;
pub mod runner_cmd;
pub mod sandbox_cli;
pub mod sandbox_host;
pub mod sandbox_link;
pub mod serve;
pub mod state;
pub mod stream_cmd;

pub use config::ServeConfig;
pub use routes::{openapi, router};
pub use state::{AppState, HttpSettings};
