//! The vocabulary shared by the scheduler, the runner protocol and the runner: ids,
//! GPUs, the models a runner offers and the state of model instances.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

string_id!(
    /// A runner's id: bound to its token by the control plane (for example
    /// `rnr_01J...`).
    RunnerId
);
string_id!(
    /// A model instance's id, chosen by the scheduler when it places the instance
    /// (`ins_01J...`).
    InstanceId
);

impl InstanceId {
    /// A fresh id (`ins_` + ULID).
    pub fn generate() -> Self {
        Self(format!("ins_{}", ulid::Ulid::new()))
    }
}

/// One GPU of a runner, as the runner reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// Index on the runner (what `CUDA_VISIBLE_DEVICES` names).
    pub index: u32,
    /// Product name (`NVIDIA H100 80GB HBM3`, or whatever config declares).
    pub name: String,
    /// Total memory in bytes.
    pub total_bytes: u64,
    /// Free memory in bytes as the driver last reported it. Shown, never used for
    /// placement: it lags behind loads the scheduler has already booked.
    pub free_bytes: u64,
}

/// The engine that serves a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuntimeKind {
    /// llama.cpp's `llama-server` (GGUF models).
    LlamaCpp,
    /// Ollama (`ollama serve`).
    Ollama,
    /// vLLM (`vllm serve`).
    Vllm,
}

impl RuntimeKind {
    /// The wire and config name (`llama_cpp`, `ollama`, `vllm`).
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::LlamaCpp => "llama_cpp",
            RuntimeKind::Ollama => "ollama",
            RuntimeKind::Vllm => "vllm",
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model a runner can serve, as it tells the control plane.
///
/// The runner owns its model files, so it computes the memory an instance needs (from
/// the GGUF header, or as configured for engines without GGUF such as vLLM); the
/// scheduler books exactly that much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOffer {
    /// The name callers use (`smollm2-135m`).
    pub name: String,
    /// The engine that serves it.
    pub runtime: RuntimeKind,
    /// GPU memory one instance needs in total, in bytes. Split evenly over the GPUs of
    /// a tensor-parallel instance.
    pub memory_bytes: u64,
    /// Context length per sequence, in tokens.
    pub context_len: u64,
    /// Sequences one instance serves at once (its request slots).
    pub parallel: u32,
    /// Whether the instance serves embeddings.
    #[serde(default)]
    pub embeddings: bool,
    /// The most GPUs one instance may span (tensor parallel); 1 = never split.
    #[serde(default = "one")]
    pub max_gpus: u32,
}

fn one() -> u32 {
    1
}

/// Where a model instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstanceState {
    /// The engine is starting or loading weights.
    Loading,
    /// Health checks pass; requests may be sent.
    Ready,
    /// The engine died; the runner is restarting it.
    Restarting,
    /// The engine could not be started (bad model, crash loop); the runner gave up.
    Failed,
    /// The engine has been stopped.
    Stopped,
}

impl InstanceState {
    /// Text form, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Loading => "loading",
            InstanceState::Ready => "ready",
            InstanceState::Restarting => "restarting",
            InstanceState::Failed => "failed",
            InstanceState::Stopped => "stopped",
        }
    }
}

/// What the scheduler asks a runner to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSpec {
    /// The new instance's id.
    pub instance: InstanceId,
    /// The model (one of the runner's [`ModelOffer`] names).
    pub model: String,
    /// GPU indexes on the runner; several = tensor parallel; empty = CPU.
    pub gpus: Vec<u32>,
}

/// A model instance as a runner reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// The instance.
    pub instance: InstanceId,
    /// Its model.
    pub model: String,
    /// The GPUs it runs on.
    pub gpus: Vec<u32>,
    /// Its state.
    pub state: InstanceState,
    /// Why it failed or restarted, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_stable() {
        assert_eq!(
            serde_json::to_string(&RuntimeKind::LlamaCpp).expect("json"),
            "\"llama_cpp\""
        );
        assert_eq!(
            serde_json::to_string(&InstanceState::Restarting).expect("json"),
            "\"restarting\""
        );
        let offer: ModelOffer = serde_json::from_str(
            r#"{"name":"m","runtime":"vllm","memory_bytes":1,"context_len":2,"parallel":3}"#,
        )
        .expect("offer");
        assert_eq!(offer.max_gpus, 1);
        assert!(!offer.embeddings);
        assert!(InstanceId::generate().as_str().starts_with("ins_"));
    }
}
