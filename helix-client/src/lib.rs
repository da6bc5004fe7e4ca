//! `helix-client`: a Rust client for a Helix server.
//!
//! One [`Client`] per server and API key:
//!
//! - sessions and chat with the answer streamed as it is written ([`Client::chat`],
//!   [`ChatStream`]);
//! - apps, orgs, the models the caller may use, usage;
//! - sandboxes in the shape of E2B-style SDKs ([`Client::create_sandbox`], [`Sandbox`]):
//!   run a command with its output streamed, files, a port through the control plane,
//!   a timeout, kill.
//!
//! Sandboxes also run without a server: [`LocalSandboxes`] starts `helix-hydra`'s
//! Docker host in this process and hands out the same [`Sandbox`] handles.
//!
//! Every failure is an [`Error`] with a stable `code`: the server's own error code when
//! it answered with one. The Python and Node bindings are thin layers over this crate.
//!
//! ```no_run
//! # async fn demo() -> helix_client::Result<()> {
//! use helix_client::{Client, NewSession};
//!
//! let client = Client::new("http://localhost:8080", "hx-...")?;
//! let session = client
//!     .create_session(NewSession { model: Some("qwen3:8b".into()), ..Default::default() })
//!     .await?;
//! let mut answer = client.chat(session.id.as_str(), "Hello!").await?;
//! while let Some(chunk) = answer.next_chunk().await? {
//!     if let helix_client::ChatChunk::Text(t) = chunk {
//!         print!("{t}");
//!     }
//! }
//!
//! let mut sandbox = client
//!     .create_sandbox(helix_client::SandboxSpec { image: "python:3.12".into(), ..Default::default() })
//!     .await?;
//! let out = sandbox.run(helix_client::ExecSpec::new(["python", "-V"])).await?.wait().await?;
//! assert_eq!(out.exit_code, 0);
//! sandbox.kill().await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod apps;
mod client;
mod error;
mod local;
mod sandbox;
mod sessions;
mod stream;

pub use apps::{ModelInfo, NewApp};
pub use client::{Client, ClientBuilder};
pub use error::{
    Error, Result, CONNECTION_ERROR, INVALID_ARGUMENT, INVALID_RESPONSE, STREAM_ERROR,
};
pub use local::{LocalConfig, LocalSandboxes};
pub use sandbox::{CommandResult, ExecStream, LogStream, Sandbox};
pub use sessions::{ChatChunk, ChatStream, NewSession};

pub use helix_core::model::{App, ChatSession, Interaction, OrgWithRole, UsageSummaryRow};
pub use helix_core::ops::chat::{ChatEvent, SessionWithInteractions};
pub use helix_hydra::{
    ExecEvent, ExecSpec, FileEntry, FileKind, Limits, SandboxInfo, SandboxSpec, SandboxState,
};
