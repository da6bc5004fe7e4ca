//! `helix-sched`: the Helix GPU scheduler and embeddable model runner.
//!
//! This crate will hold everything that decides where models run and runs them:
//!
//! - the **runner protocol**: runners dial out to the control plane over one
//!   WebSocket, report their GPUs and model instances, and receive work;
//! - the **scheduler**: a priority queue with per-owner fairness and a pure placement
//!   function that books GPU memory itself, evicts idle instances and prewarms;
//! - the **runner**: GPU probing and `ModelRuntime` backends that supervise real engine
//!   processes (llama.cpp `llama-server`, Ollama, vLLM).
//!
//! Today it provides reading a model's [GGUF](gguf) header without loading its
//! weights and [estimating](estimate_memory) the GPU memory an instance needs; the
//! [scheduler], which places instances on runner GPUs and grants queued requests; the
//! [protocol] runners speak and the control plane's [hub]; and the [`runner`] (engine
//! runtimes, process supervision, the agent that dials out).
//!
//! # Cargo features
//!
//! All additive and off by default:
//!
//! - `nvml`: probe GPUs through NVML ([`runner::NvmlProbe`]; without it, GPUs are
//!   declared in config with [`runner::DeclaredGpus`] and `NvmlProbe` fails with
//!   code `built_without`).
//!
//! Planned: `test-util`, fakes of the scheduler's traits for downstream tests.
//!
//! # Quick start
//!
//! ```
//! use helix_sched::{estimate_memory, GgufHeader};
//! # fn tiny_gguf() -> Vec<u8> {
//! #     fn string(out: &mut Vec<u8>, s: &str) {
//! #         out.extend((s.len() as u64).to_le_bytes());
//! #         out.extend(s.as_bytes());
//! #     }
//! #     let mut out = b"GGUF".to_vec();
//! #     out.extend(3u32.to_le_bytes()); // version
//! #     out.extend(1u64.to_le_bytes()); // tensor count
//! #     out.extend(5u64.to_le_bytes()); // metadata kv count
//! #     string(&mut out, "general.architecture");
//! #     out.extend(8u32.to_le_bytes()); // string
//! #     string(&mut out, "llama");
//! #     for (key, value) in [
//! #         ("llama.block_count", 32u32),
//! #         ("llama.embedding_length", 4096),
//! #         ("llama.attention.head_count", 32),
//! #         ("llama.attention.head_count_kv", 8),
//! #     ] {
//! #         string(&mut out, key);
//! #         out.extend(4u32.to_le_bytes()); // u32
//! #         out.extend(value.to_le_bytes());
//! #     }
//! #     string(&mut out, "token_embd.weight");
//! #     out.extend(2u32.to_le_bytes()); // two dimensions
//! #     out.extend(4096u64.to_le_bytes());
//! #     out.extend(32000u64.to_le_bytes());
//! #     out.extend(12u32.to_le_bytes()); // Q4_K
//! #     out.extend(0u64.to_le_bytes()); // data offset
//! #     out
//! # }
//! // Any `std::io::Read` works; `GgufHeader::open(path)` reads a file.
//! let bytes: Vec<u8> = tiny_gguf();
//! let header = GgufHeader::read(bytes.as_slice())?;
//!
//! assert_eq!(header.architecture(), Some("llama"));
//! assert_eq!(header.block_count(), Some(32));
//! assert_eq!(header.parameter_count(), 4096 * 32000);
//!
//! // Two parallel sequences of 8192 tokens each.
//! let estimate = estimate_memory(&header, 8192, 2)?;
//! assert_eq!(estimate.kv_cache_bytes, 2 << 30);
//! assert!(estimate.total_bytes > estimate.weights_bytes + estimate.kv_cache_bytes);
//! # Ok::<(), helix_sched::SchedError>(())
//! ```
//!
//! Malformed files fail with a [`SchedError`] whose [`code`](SchedError::code) is
//! stable, never with a panic:
//!
//! ```
//! let err = helix_sched::GgufHeader::read(&b"GGML\x03\0\0\0"[..]).unwrap_err();
//! assert_eq!(err.code(), "gguf_bad_magic");
//! ```

#![warn(missing_docs)]

mod error;
pub mod gguf;
pub mod hub;
pub mod memory;
pub mod protocol;
pub mod runner;
pub mod scheduler;
pub mod types;

pub use error::{Result, SchedError};
pub use gguf::{GgmlType, GgufHeader, GgufLimits, MetadataValue, MetadataValueType, TensorInfo};
pub use memory::{estimate_memory, MemoryEstimate};
#[cfg(unix)]
pub use runner::InstanceManager;
pub use runner::{DeclaredGpus, GpuProbe, ModelConfig, ModelRuntime};
pub use scheduler::{
    place, Action, EmbeddedAction, EmbeddedConfig, EmbeddedRequest, EmbeddedScheduler, Placement,
    Prewarm, Priority, RunnerReport, Scheduler, SchedulerConfig, SchedulerView, TicketId,
    WorkRequest,
};
pub use types::{
    GpuInfo, InstanceId, InstanceSpec, InstanceState, InstanceStatus, ModelOffer, RunnerId,
    RuntimeKind,
};
