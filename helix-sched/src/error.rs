//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in `helix-sched`.
///
/// Each variant carries a stable machine-readable [`code`](SchedError::code) that hosts
/// map to HTTP statuses, Python exception classes or JS errors.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    /// A GGUF file could not be opened.
    #[error("cannot open gguf file {path}")]
    GgufOpen {
        /// The file that was asked for.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// Reading a GGUF stream failed for a reason other than its end.
    #[error("i/o error reading gguf at byte {offset}")]
    GgufIo {
        /// Byte offset of the field being read.
        offset: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// The GGUF stream ended in the middle of a field.
    #[error("gguf truncated at byte {offset} while reading {field}")]
    GgufTruncated {
        /// Byte offset of the field being read.
        offset: u64,
        /// What was being read.
        field: &'static str,
    },

    /// The stream does not start with the `GGUF` magic.
    #[error("not a gguf file: magic is {found:02x?}, expected \"GGUF\"")]
    GgufBadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },

    /// The GGUF version is not one this crate reads (2 and 3 are supported).
    #[error("unsupported gguf version {version} (supported: 2, 3)")]
    GgufUnsupportedVersion {
        /// The version found in the header.
        version: u32,
    },

    /// A count or length in the file is above the configured [`GgufLimits`](crate::GgufLimits).
    #[error("gguf {what} is {value} at byte {offset}, above the limit of {limit}")]
    GgufLimitExceeded {
        /// Which limit (for example `"string length"`).
        what: &'static str,
        /// The value found (or needed) in the file.
        value: u64,
        /// The configured limit.
        limit: u64,
        /// Byte offset of the field.
        offset: u64,
    },

    /// The file is structurally invalid (bad value type, bad UTF-8, duplicate key, ...).
    #[error("invalid gguf at byte {offset}: {reason}")]
    GgufInvalid {
        /// Byte offset of the offending field.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// A metadata key needed for a computation is absent.
    #[error("gguf metadata key {key} is missing")]
    MissingMetadata {
        /// The key that was looked up.
        key: String,
    },

    /// A metadata value has the wrong type or an unusable value.
    #[error("gguf metadata key {key} is invalid: {reason}")]
    InvalidMetadata {
        /// The key that was looked up.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A tensor's size cannot be computed (unknown ggml type or partial block).
    #[error("cannot size tensor {tensor}: {reason}")]
    UnsizedTensor {
        /// The tensor's name.
        tensor: String,
        /// Why its size is unknown.
        reason: String,
    },

    /// A size computation overflowed 64 bits.
    #[error("arithmetic overflow computing {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },

    /// No runner (connected, stale or disconnected within its grace) offers the model.
    #[error("model {model} is not offered by any runner")]
    ModelNotOffered {
        /// The model asked for.
        model: String,
    },

    /// No runner offering the model could hold one instance even completely empty,
    /// split over as many GPUs as the model allows.
    #[error(
        "model {model} needs {needed_bytes} bytes, more than any runner offering it can hold \
         (largest possible: {largest_bytes} bytes)"
    )]
    ModelTooLarge {
        /// The model asked for.
        model: String,
        /// Bytes one instance needs (the smallest any offering runner reports).
        needed_bytes: u64,
        /// The largest instance any offering runner could hold when empty.
        largest_bytes: u64,
    },

    /// The scheduler's queue holds as many requests as it may.
    #[error("scheduler queue is full ({capacity} requests queued)")]
    QueueFull {
        /// The configured capacity.
        capacity: usize,
    },

    /// The owner already has as many requests queued as one owner may.
    #[error("owner {owner} has {capacity} requests queued, the most one owner may")]
    OwnerQueueFull {
        /// The owner whose queue is full.
        owner: String,
        /// The configured per-owner capacity.
        capacity: usize,
    },

    /// A queued request's deadline passed before an instance could serve it.
    #[error("request {ticket} for model {model} timed out after {waited_ms} ms in the queue")]
    QueueTimeout {
        /// The request's ticket number.
        ticket: u64,
        /// The model it asked for.
        model: String,
        /// How long it waited.
        waited_ms: u64,
    },

    /// An instance of the model failed to start while the request waited for it.
    #[error("model {model} failed on runner {runner} (instance {instance}): {message}")]
    ModelFailed {
        /// The model asked for.
        model: String,
        /// The runner that reported the failure.
        runner: String,
        /// The instance that failed.
        instance: String,
        /// What the runner said about it.
        message: String,
    },

    /// The runner hub is shutting down; the call was not served.
    #[error("the runner hub is shutting down")]
    Shutdown,

    /// The control plane refused this runner for good (bad token or version, or a
    /// newer connection took over).
    #[error("control plane refused the runner (close code {code}): {reason}")]
    Refused {
        /// The WebSocket close code.
        code: u16,
        /// The reason it gave.
        reason: String,
    },
    /// The crate was built without a cargo feature the operation needs.
    #[error("built without {feature}")]
    BuiltWithout {
        /// The missing feature (for example `"nvml"`).
        feature: &'static str,
    },

    /// GPUs could not be probed (no driver, NVML error).
    #[error("gpu probe failed: {reason}")]
    GpuProbe {
        /// What went wrong.
        reason: String,
    },

    /// A model config, GPU declaration or size is invalid.
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// What was being read (for example `model config tiny` or `gpu declaration "x"`).
        what: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No configured model has this name.
    #[error("unknown model {model}")]
    UnknownModel {
        /// The name asked for.
        model: String,
    },

    /// No instance has this id on this runner.
    #[error("unknown instance {instance}")]
    UnknownInstance {
        /// The id asked for.
        instance: String,
    },

    /// An instance with this id is already running.
    #[error("instance {instance} already exists")]
    InstanceExists {
        /// The id asked for.
        instance: String,
    },

    /// The instance exists but is not ready to serve requests.
    #[error("instance {instance} is not ready (state {state})")]
    InstanceNotReady {
        /// The instance.
        instance: String,
        /// Its state.
        state: String,
    },

    /// No runtime is registered for the model's engine.
    #[error("no runtime for {runtime} (model {model})")]
    NoRuntime {
        /// The engine the model needs.
        runtime: String,
        /// The model.
        model: String,
    },

    /// The engine process could not be started.
    #[error("cannot start engine {program}")]
    EngineSpawn {
        /// The program that was run.
        program: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// The engine does not have the model (for example an Ollama tag not pulled).
    #[error("model {model} not found in the engine at {url}: {reason}")]
    EngineModelMissing {
        /// The engine-side model name.
        model: String,
        /// The engine's base URL.
        url: String,
        /// What the engine said.
        reason: String,
    },

    /// The engine answered a runner request with an error.
    #[error("engine at {url} failed: {reason}")]
    Engine {
        /// The engine URL that was called.
        url: String,
        /// The status and body, or what went wrong.
        reason: String,
    },

    /// The engine could not be reached or its response broke off.
    #[error("engine at {url} unreachable")]
    EngineUnreachable {
        /// The engine URL that was called.
        url: String,
        /// The HTTP client error.
        #[source]
        source: reqwest::Error,
    },

    /// A proxied path is not an OpenAI-style `/v1/...` path.
    #[error("path {path} cannot be proxied: only /v1/ paths are")]
    ProxyPathRefused {
        /// The path asked for.
        path: String,
    },

    /// A file or directory of the runner's state could not be used.
    #[error("cannot {action} {path}")]
    RunnerIo {
        /// What was being done (`create state dir`, `write pidfile`, ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
}

impl SchedError {
    /// A stable, machine-readable code for this error (`snake_case`, never changes).
    pub fn code(&self) -> &'static str {
        match self {
            SchedError::GgufOpen { .. } => "gguf_open",
            SchedError::GgufIo { .. } => "gguf_io",
            SchedError::GgufTruncated { .. } => "gguf_truncated",
            SchedError::GgufBadMagic { .. } => "gguf_bad_magic",
            SchedError::GgufUnsupportedVersion { .. } => "gguf_unsupported_version",
            SchedError::GgufLimitExceeded { .. } => "gguf_limit_exceeded",
            SchedError::GgufInvalid { .. } => "gguf_invalid",
            SchedError::MissingMetadata { .. } => "missing_metadata",
            SchedError::InvalidMetadata { .. } => "invalid_metadata",
            SchedError::UnsizedTensor { .. } => "unsized_tensor",
            SchedError::Overflow { .. } => "overflow",
            SchedError::ModelNotOffered { .. } => "model_not_offered",
            SchedError::ModelTooLarge { .. } => "model_too_large",
            SchedError::QueueFull { .. } => "queue_full",
            SchedError::OwnerQueueFull { .. } => "owner_queue_full",
            SchedError::QueueTimeout { .. } => "queue_timeout",
            SchedError::ModelFailed { .. } => "model_failed",
            SchedError::Shutdown => "shutdown",
            SchedError::Refused { .. } => "runner_refused",
            SchedError::BuiltWithout { .. } => "built_without",
            SchedError::GpuProbe { .. } => "gpu_probe",
            SchedError::InvalidConfig { .. } => "invalid_config",
            SchedError::UnknownModel { .. } => "unknown_model",
            SchedError::UnknownInstance { .. } => "unknown_instance",
            SchedError::InstanceExists { .. } => "instance_exists",
            SchedError::InstanceNotReady { .. } => "instance_not_ready",
            SchedError::NoRuntime { .. } => "no_runtime",
            SchedError::EngineSpawn { .. } => "engine_spawn",
            SchedError::EngineModelMissing { .. } => "engine_model_missing",
            SchedError::Engine { .. } => "engine",
            SchedError::EngineUnreachable { .. } => "engine_unreachable",
            SchedError::ProxyPathRefused { .. } => "proxy_path_refused",
            SchedError::RunnerIo { .. } => "runner_io",
        }
    }

    /// The HTTP status that says the same thing (what hosts and the SDKs report, so an
    /// error maps to the same exception class everywhere): 404 for an unknown model or
    /// instance, 409 for a state conflict, 429 when one owner queued too much, 503 for a
    /// full queue or a shutdown, 504 for a queue timeout, 502 for an engine's failure,
    /// 422 for other bad input, 500 for the rest.
    pub fn http_status(&self) -> u16 {
        match self.code() {
            "model_not_offered" | "unknown_model" | "unknown_instance" => 404,
            "instance_exists" | "instance_not_ready" => 409,
            "owner_queue_full" => 429,
            "queue_full" | "shutdown" | "engine_unreachable" => 503,
            "queue_timeout" => 504,
            "model_failed" | "engine" | "engine_spawn" | "runner_refused" => 502,
            _ if self.is_user_error() => 422,
            _ => 500,
        }
    }

    /// Whether the error is the caller's fault (bad input file or arguments, a model
    /// nobody serves, too many requests of one owner) rather than an internal or
    /// environmental failure (I/O, a full shared queue, a timeout, a crashed engine).
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            SchedError::GgufOpen { .. }
                | SchedError::GgufIo { .. }
                | SchedError::QueueFull { .. }
                | SchedError::QueueTimeout { .. }
                | SchedError::ModelFailed { .. }
                | SchedError::Shutdown
                | SchedError::Refused { .. }
                | SchedError::BuiltWithout { .. }
                | SchedError::GpuProbe { .. }
                | SchedError::NoRuntime { .. }
                | SchedError::EngineSpawn { .. }
                | SchedError::Engine { .. }
                | SchedError::EngineUnreachable { .. }
                | SchedError::RunnerIo { .. }
        )
    }
}

/// `Result` with [`SchedError`] as the default error type.
pub type Result<T, E = SchedError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let errors = [
            SchedError::GgufBadMagic { found: *b"GGML" },
            SchedError::GgufUnsupportedVersion { version: 1 },
            SchedError::GgufTruncated {
                offset: 4,
                field: "version",
            },
            SchedError::MissingMetadata {
                key: "llama.block_count".into(),
            },
            SchedError::Overflow { what: "kv cache" },
            SchedError::ModelNotOffered { model: "m".into() },
            SchedError::ModelTooLarge {
                model: "m".into(),
                needed_bytes: 2,
                largest_bytes: 1,
            },
            SchedError::QueueFull { capacity: 1 },
            SchedError::OwnerQueueFull {
                owner: "u".into(),
                capacity: 1,
            },
            SchedError::QueueTimeout {
                ticket: 1,
                model: "m".into(),
                waited_ms: 5,
            },
            SchedError::ModelFailed {
                model: "m".into(),
                runner: "r1".into(),
                instance: "ins_1".into(),
                message: "exit status 1".into(),
            },
            SchedError::BuiltWithout { feature: "nvml" },
            SchedError::UnknownModel {
                model: "tiny".into(),
            },
            SchedError::ProxyPathRefused {
                path: "/health".into(),
            },
            SchedError::InvalidConfig {
                what: "model config tiny".into(),
                reason: "parallel must be at least 1".into(),
            },
        ];
        for err in errors {
            let msg = err.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
            assert!(!err.code().is_empty());
        }
    }
}
