//! The models a runner serves: one [`ModelConfig`] per model, from a TOML/JSON config
//! file or the compact command-line form, and the [`ModelOffer`] it becomes.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{estimate_memory, GgufHeader, ModelOffer, Result, RuntimeKind, SchedError};

/// Default context length per sequence, in tokens.
pub const DEFAULT_CONTEXT_LEN: u64 = 4096;

/// One model a runner can serve, and how to start its engine.
///
/// In TOML (`[[models]]` tables) or JSON, every field but `name`, `runtime` and
/// `source` may be left out; `memory_bytes` takes a number of bytes or a size string
/// such as `"24GiB"`:
///
/// ```
/// # use helix_sched::runner::ModelConfig;
/// let model: ModelConfig = serde_json::from_str(
///     r#"{"name": "qwen", "runtime": "vllm", "source": "Qwen/Qwen2.5-7B-Instruct",
///         "context_len": 8192, "parallel": 8, "memory_bytes": "40GiB", "max_gpus": 2}"#,
/// )?;
/// assert_eq!(model.memory_bytes, Some(40 << 30));
/// assert_eq!(model.offer()?.memory_bytes, 40 << 30);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The name callers use (and the engine serves the model under, where it can).
    pub name: String,
    /// The engine that serves it.
    pub runtime: RuntimeKind,
    /// What the engine loads. llama.cpp: path to a `.gguf` file; Ollama: a model tag
    /// already pulled (`llama3.1:8b`); vLLM: a Hugging Face id or a local directory.
    pub source: String,
    /// Context length per sequence, in tokens (default 4096).
    #[serde(default = "default_context_len")]
    pub context_len: u64,
    /// Sequences one instance serves at once (default 1).
    #[serde(default = "one")]
    pub parallel: u32,
    /// Serve embeddings instead of completions.
    #[serde(default)]
    pub embeddings: bool,
    /// GPU memory one instance needs, in bytes. Estimated from the GGUF header for
    /// llama.cpp when absent; required for Ollama and vLLM.
    #[serde(
        default,
        deserialize_with = "size_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory_bytes: Option<u64>,
    /// The most GPUs one instance may span (default 1).
    #[serde(default = "one")]
    pub max_gpus: u32,
    /// Extra arguments appended to the engine's command line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
    /// The engine binary, when not the runtime's default (`llama-server`, `ollama`,
    /// `vllm` on `PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<PathBuf>,
}

fn default_context_len() -> u64 {
    DEFAULT_CONTEXT_LEN
}

fn one() -> u32 {
    1
}

fn size_opt<'de, D: Deserializer<'de>>(de: D) -> std::result::Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(de)? {
        None => Ok(None),
        Some(Size::Bytes(n)) => Ok(Some(n)),
        Some(Size::Text(s)) => parse_size(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

impl ModelConfig {
    /// A config with the defaults for everything but the three required fields.
    pub fn new(name: impl Into<String>, runtime: RuntimeKind, source: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            runtime,
            source: source.into(),
            context_len: DEFAULT_CONTEXT_LEN,
            parallel: 1,
            embeddings: false,
            memory_bytes: None,
            max_gpus: 1,
            extra_args: Vec::new(),
            binary: None,
        }
    }

    /// Checks the fields that every runtime relies on.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(SchedError::InvalidConfig {
                what: format!("model config {}", self.name),
                reason,
            })
        };
        if self.name.is_empty()
            || self
                .name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return bad(format!(
                "name {:?} must be non-empty without spaces",
                self.name
            ));
        }
        if self.source.is_empty() {
            return bad("source is empty".into());
        }
        if self.context_len == 0 {
            return bad("context_len must be at least 1".into());
        }
        if self.parallel == 0 {
            return bad("parallel must be at least 1".into());
        }
        if self.max_gpus == 0 {
            return bad("max_gpus must be at least 1".into());
        }
        if self.memory_bytes == Some(0) {
            return bad("memory_bytes must be above 0".into());
        }
        Ok(())
    }

    /// What the runner tells the control plane about this model.
    ///
    /// The memory is `memory_bytes` when set. Otherwise, for llama.cpp, it is
    /// [`estimate_memory`] over the GGUF header at `source` (the weights are not
    /// read); Ollama and vLLM models must set it.
    pub fn offer(&self) -> Result<ModelOffer> {
        self.validate()?;
        let memory_bytes = match (self.memory_bytes, self.runtime) {
            (Some(bytes), _) => bytes,
            (None, RuntimeKind::LlamaCpp) => {
                let header = GgufHeader::open(&self.source)?;
                estimate_memory(&header, self.context_len, self.parallel)?.total_bytes
            }
            (None, runtime) => {
                return Err(SchedError::InvalidConfig {
                    what: format!("model config {}", self.name),
                    reason: format!(
                        "memory_bytes is required for the {runtime} runtime (it has no gguf file to estimate from)"
                    ),
                })
            }
        };
        Ok(ModelOffer {
            name: self.name.clone(),
            runtime: self.runtime,
            memory_bytes,
            context_len: self.context_len,
            parallel: self.parallel,
            embeddings: self.embeddings,
            max_gpus: self.max_gpus,
        })
    }
}

/// The compact command-line form:
/// `name=tiny,runtime=llama_cpp,source=/m/tiny.gguf,ctx=2048,parallel=2,embeddings=true,memory=2GiB,max_gpus=2`.
///
/// Keys: `name`, `runtime` (`llama_cpp`, `ollama`, `vllm`), `source`, `ctx` (or
/// `context_len`), `parallel`, `embeddings`, `memory` (or `memory_bytes`; a size),
/// `max_gpus`, `binary`, and `arg` (repeatable: one extra engine argument each).
/// Values cannot contain commas.
impl FromStr for ModelConfig {
    type Err = SchedError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: String| SchedError::InvalidConfig {
            what: format!("model spec {s:?}"),
            reason,
        };
        let (mut name, mut runtime, mut source) = (None, None, None);
        let mut config = ModelConfig::new("", RuntimeKind::LlamaCpp, "");
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("{part:?} is not key=value")))?;
            let (key, value) = (key.trim(), value.trim());
            let number = |what: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| bad(format!("{what} {value:?} is not a whole number")))
            };
            match key {
                "name" => name = Some(value.to_owned()),
                "runtime" => runtime = Some(parse_runtime(value).map_err(bad)?),
                "source" => source = Some(value.to_owned()),
                "ctx" | "context_len" => config.context_len = number("ctx")?,
                "parallel" => {
                    config.parallel = u32::try_from(number("parallel")?)
                        .map_err(|_| bad(format!("parallel {value} is too large")))?
                }
                "max_gpus" => {
                    config.max_gpus = u32::try_from(number("max_gpus")?)
                        .map_err(|_| bad(format!("max_gpus {value} is too large")))?
                }
                "embeddings" => config.embeddings = parse_bool(value).map_err(bad)?,
                "memory" | "memory_bytes" => config.memory_bytes = Some(parse_size(value)?),
                "binary" => config.binary = Some(PathBuf::from(value)),
                "arg" => config.extra_args.push(value.to_owned()),
                other => return Err(bad(format!("unknown key {other:?}"))),
            }
        }
        config.name = name.ok_or_else(|| bad("name is missing".into()))?;
        config.runtime = runtime.ok_or_else(|| bad("runtime is missing".into()))?;
        config.source = source.ok_or_else(|| bad("source is missing".into()))?;
        config.validate()?;
        Ok(config)
    }
}

impl fmt::Display for ModelConfig {
    /// The compact command-line form, which [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "name={},runtime={},source={},ctx={},parallel={},embeddings={},max_gpus={}",
            self.name,
            self.runtime,
            self.source,
            self.context_len,
            self.parallel,
            self.embeddings,
            self.max_gpus
        )?;
        if let Some(bytes) = self.memory_bytes {
            write!(f, ",memory={bytes}")?;
        }
        if let Some(binary) = &self.binary {
            write!(f, ",binary={}", binary.display())?;
        }
        for arg in &self.extra_args {
            write!(f, ",arg={arg}")?;
        }
        Ok(())
    }
}

fn parse_runtime(s: &str) -> std::result::Result<RuntimeKind, String> {
    match s.to_ascii_lowercase().as_str() {
        "llama_cpp" | "llama.cpp" | "llamacpp" | "llama-cpp" => Ok(RuntimeKind::LlamaCpp),
        "ollama" => Ok(RuntimeKind::Ollama),
        "vllm" => Ok(RuntimeKind::Vllm),
        _ => Err(format!(
            "runtime {s:?} is not one of llama_cpp, ollama, vllm"
        )),
    }
}

fn parse_bool(s: &str) -> std::result::Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(format!("{s:?} is not true or false")),
    }
}

/// Parses a size: a number with an optional unit, `B`, `KB`/`KiB`, `MB`/`MiB`,
/// `GB`/`GiB` or `TB`/`TiB` (case-insensitive; decimal units are powers of 1000,
/// binary ones of 1024). Fractions are allowed (`1.5GiB`); the result is rounded down
/// to whole bytes.
///
/// ```
/// # use helix_sched::runner::parse_size;
/// assert_eq!(parse_size("80GiB")?, 80 << 30);
/// assert_eq!(parse_size("16 GB")?, 16_000_000_000);
/// assert_eq!(parse_size("512MiB")?, 512 << 20);
/// assert_eq!(parse_size("1.5GiB")?, 3 << 29);
/// assert_eq!(parse_size("4096")?, 4096);
/// # Ok::<(), helix_sched::SchedError>(())
/// ```
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = |reason: &str| SchedError::InvalidConfig {
        what: format!("size {s:?}"),
        reason: reason.into(),
    };
    let trimmed = s.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => {
            return Err(bad(
                "unit must be one of B, KB, KiB, MB, MiB, GB, GiB, TB, TiB",
            ))
        }
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad("no number"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad("not a number"))?
    };
    if !fraction.chars().all(|c| c.is_ascii_digit()) || fraction.len() > 18 {
        return Err(bad("not a number"));
    }
    // The fraction in exact integer arithmetic: digits × multiplier / 10^len.
    let fraction_bytes = if fraction.is_empty() {
        0
    } else {
        let digits: u128 = fraction.parse().map_err(|_| bad("not a number"))?;
        digits * u128::from(multiplier) / 10u128.pow(fraction.len() as u32)
    };
    let bytes = u128::from(whole) * u128::from(multiplier) + fraction_bytes;
    let bytes = u64::try_from(bytes).map_err(|_| bad("too large"))?;
    Ok(bytes)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
