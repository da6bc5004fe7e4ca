//! The embeddable runner: GPUs, model configs, engine runtimes and the supervision of
//! engine processes.
//!
//! A runner serves [`ModelConfig`]s on its GPUs. For each instance the scheduler
//! places, the [`InstanceManager`] picks a loopback port, asks the model's
//! [`ModelRuntime`] for the engine's command line, and hands it to a [`Supervisor`]
//! that starts the process in its own process group, waits for it to be healthy,
//! restarts it when it crashes and kills the whole group when it is stopped.
//! Requests reach the engine through [`forward`], which streams its answer back.
//!
//! ```no_run
//! # async fn run() -> helix_sched::Result<()> {
//! use helix_sched::runner::{InstanceManager, ModelConfig};
//! use helix_sched::{InstanceId, InstanceSpec};
//!
//! let model: ModelConfig =
//!     "name=tiny,runtime=llama_cpp,source=/models/tiny.gguf,ctx=2048,parallel=2".parse()?;
//! let manager = InstanceManager::new(vec![model], "/var/lib/helix-runner")?;
//! manager.reap_orphans(); // engines left by a runner that was SIGKILLed
//! let instance = InstanceId::generate();
//! manager.start(InstanceSpec { instance: instance.clone(), model: "tiny".into(), gpus: vec![0] })?;
//! // ... wait for `Ready` on manager.subscribe(), then:
//! let answer = manager
//!     .forward(&instance, reqwest::Method::POST, "/v1/chat/completions", r#"{"model":"tiny","messages":[]}"#.into())
//!     .await?;
//! # drop(answer);
//! manager.stop_all().await;
//! # Ok(())
//! # }
//! ```
//!
//! The engines are Linux processes: supervision uses process groups, `/proc` and
//! (when available) `setpriv --pdeathsig`. See `docs/runner.md` for operators.

#[cfg(unix)]
pub mod agent;
pub mod config;
pub mod connect;
pub mod gpu;
#[cfg(unix)]
pub mod instances;
#[cfg(unix)]
mod orphans;
#[cfg(unix)]
mod process;
#[cfg(unix)]
mod procfs;
pub mod proxy;
pub mod runtime;
#[cfg(unix)]
pub mod supervisor;

#[cfg(unix)]
pub use agent::{Agent, AgentConfig, BoxTransport, Connected, Connector, Transport};
pub use config::{parse_size, ModelConfig};
pub use connect::{Duplex, WsConnector};
pub use gpu::{DeclaredGpus, GpuProbe, NvmlProbe};
#[cfg(unix)]
pub use instances::InstanceManager;
pub use proxy::{forward, ProxyResponse};
pub use runtime::{
    EngineCommand, Health, LlamaCppRuntime, ModelRuntime, OllamaRuntime, VllmRuntime,
};
#[cfg(unix)]
pub use supervisor::{reap_orphans, EngineSpec, ReapedEngine, Supervisor, SupervisorConfig};

// Foreign crates that appear in this module's public signatures.
pub use bytes;
pub use futures;
pub use reqwest;
pub use url;
