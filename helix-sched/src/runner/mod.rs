//! The embeddable runner: GPUs, model configs, engine runtimes and the supervision of
//! engine processes.
//!
//! A runner serves [`ModelConfig`]s on its GPUs. Each model's [`ModelRuntime`]
//! describes the engine's command line and health check; requests reach the engine
//! through [`forward`], which streams its answer back.

pub mod config;
pub mod gpu;
pub mod proxy;
pub mod runtime;

pub use config::{parse_size, ModelConfig};
pub use gpu::{DeclaredGpus, GpuProbe, NvmlProbe};
pub use proxy::{forward, ProxyResponse};
pub use runtime::{
    EngineCommand, Health, LlamaCppRuntime, ModelRuntime, OllamaRuntime, VllmRuntime,
};

// Foreign crates that appear in this module's public signatures.
pub use bytes;
pub use futures;
pub use reqwest;
pub use url;
