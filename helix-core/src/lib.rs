//! # helix-core
//!
//! The heart of Helix, a self-hostable private GenAI platform: the domain model,
//! storage, authentication and authorization, secrets at rest, and the
//! [`ControlPlane`] facade that every host (the `helix` server, the Python and Node
//! bindings) calls. It depends on no web framework: hosts map [`CoreError`] codes to
//! their own status codes and exceptions.
//!
//! - [`model`]: users, orgs, roles, API keys, runner tokens, provider endpoints, models,
//!   chat sessions and interactions, apps. Ids are prefixed ULIDs ([`id`]).
//! - [`store`]: the [`Store`] trait and [`SqlStore`], on SQLite (embedded default) or
//!   PostgreSQL.
//! - [`auth`]: argon2id passwords, login sessions with CSRF tokens, hashed API keys and
//!   runner tokens, OpenID Connect SSO. [`authz`] is the one place that decides access.
//! - [`secrets`]: AES-256-GCM under `HELIX_ENCRYPTION_KEY`.
//!
//! ## Cargo features
//! - `test-util`: a `ManualClock` for tests that move time, and `testing` helpers
//!   that open real SQLite and PostgreSQL test databases.
//!
//! ## Quick start
//! ```
//! use helix_core::{ControlPlane, SecretBox, SqlStore, ops::accounts::{LoginRequest, RegisterRequest}};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> helix_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqlStore::open_sqlite_dir(dir.path()).await?;
//! let (secrets, _) = SecretBox::load_or_generate(None, dir.path())?;
//! let cp = ControlPlane::builder().store(Arc::new(store)).secrets(secrets).build()?;
//!
//! let user = cp.register(RegisterRequest {
//!     email: "ada@example.com".into(), password: "correct horse".into(), name: None,
//! }).await?;
//! assert!(user.is_admin, "the first user becomes admin");
//! let session = cp.login(LoginRequest {
//!     email: "ada@example.com".into(), password: "correct horse".into(),
//! }).await?;
//! assert_eq!(session.user.id, user.id);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod authz;
pub mod clock;
mod control_plane;
pub mod egress;
pub mod error;
pub mod events;
pub mod id;
pub mod limits;
pub mod model;
pub mod ops;
pub mod providers;
pub mod secrets;
pub mod store;
#[cfg(feature = "test-util")]
pub mod testing;

pub use auth::{Credentials, Principal, RunnerIdentity};
pub use clock::{Clock, SystemClock};
pub use control_plane::{ControlPlane, ControlPlaneBuilder, DEFAULT_SESSION_TTL};
pub use error::{CoreError, ErrorCode, Result};
pub use secrets::{KeySource, SecretBox};
pub use store::{Backend, SqlStore, Store};

/// Re-exported because [`ControlPlane::now`] and model timestamps use it.
pub use chrono;
