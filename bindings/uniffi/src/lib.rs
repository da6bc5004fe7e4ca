//! `helix-uniffi`: the `helix-client` surface exported with [uniffi], for Kotlin, Swift
//! and Python bindings generated from the built library.
//!
//! Thin, like the pyo3 and napi bindings: every behaviour comes from `helix-client`;
//! this crate converts types (records for the server's data, [`HelixError`] for every
//! failure) and exports async calls, which become Kotlin `suspend` functions, Swift
//! `async` functions and Python coroutines. The futures run on uniffi's tokio support
//! (`async_runtime = "tokio"`: a shared tokio runtime drives the I/O).
//!
//! The objects: [`Client`] (sessions, chat, apps, orgs, models, usage, sandboxes),
//! [`ChatStream`], [`Sandbox`], [`ExecStream`], [`LogStream`].
//!
//! No cargo features. Generate bindings with this crate's own `uniffi-bindgen` binary
//! (same uniffi version as the scaffolding), from the built library:
//!
//! ```text
//! cargo build -p helix-uniffi
//! cargo run -p helix-uniffi --bin uniffi-bindgen -- generate \
//!     --library target/debug/libhelix_uniffi.so --language python --out-dir out/
//! ```
//!
//! `bindings/uniffi/build.sh` does this for Python, Kotlin and Swift; see its README.
//!
//! [uniffi]: https://mozilla.github.io/uniffi-rs/

#![warn(missing_docs)]

mod chat;
mod client;
mod error;
mod sandbox;
mod sandbox_types;
mod types;

pub use chat::ChatStream;
pub use client::Client;
pub use error::HelixError;
pub use sandbox::{ExecStream, LogStream, Sandbox};
pub use sandbox_types::{
    CommandResult, ExecEvent, ExecSpec, FileEntry, FileKind, Limits, SandboxInfo, SandboxSpec,
    SandboxState,
};
pub use types::{
    App, ChatChunk, ChatEvent, ChatSession, Interaction, ModelInfo, NewApp, NewSession, Org,
    SessionWithInteractions, TokenUsage, UsageRow,
};

uniffi::setup_scaffolding!();
