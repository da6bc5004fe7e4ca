//! Engine runtimes: how to start each engine, check its health and address models in
//! it. One [`ModelRuntime`] per engine; the [`Supervisor`](crate::runner::Supervisor)
//! runs what they describe.

mod llama_cpp;
mod ollama;
mod vllm;

use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use crate::runner::ModelConfig;
use crate::{Result, RuntimeKind, SchedError};

pub use llama_cpp::LlamaCppRuntime;
pub use ollama::OllamaRuntime;
pub use vllm::VllmRuntime;

/// How long one health check may take.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// A process to run: program, arguments and the environment variables to set on top
/// of the runner's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineCommand {
    /// The executable (looked up on `PATH` when it has no slash).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables set for it (added to the inherited environment).
    pub env: Vec<(String, String)>,
}

impl EngineCommand {
    /// The value this command sets for environment variable `key`, if any.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What a health check found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Requests may be sent.
    Ready,
    /// The engine is up but still loading the model (or not listening yet).
    Loading,
    /// The engine is unreachable or reports an error.
    Down(String),
}

/// One engine (llama.cpp, Ollama, vLLM): its command line, health check and naming.
///
/// `command` is pure so that command lines can be tested exactly; the supervisor runs
/// the command, polls `health` until [`Health::Ready`], then calls `prepare` once.
#[async_trait]
pub trait ModelRuntime: Send + Sync + Debug + 'static {
    /// The engine this runtime starts.
    fn kind(&self) -> RuntimeKind;

    /// The command that serves `model` on `127.0.0.1:port` with the given GPUs
    /// (`CUDA_VISIBLE_DEVICES` indexes; empty = CPU only).
    fn command(&self, model: &ModelConfig, port: u16, gpus: &[u32]) -> Result<EngineCommand>;

    /// One health check of the engine at `base` (`http://127.0.0.1:PORT/`).
    async fn health(&self, http: &reqwest::Client, base: &Url, model: &ModelConfig) -> Health;

    /// Runs once after the first healthy check, before the instance is reported ready
    /// (for example, Ollama loads the model here). Default: nothing.
    async fn prepare(&self, http: &reqwest::Client, base: &Url, model: &ModelConfig) -> Result<()> {
        let _ = (http, base, model);
        Ok(())
    }

    /// The model name to put in OpenAI-style requests to the engine.
    fn upstream_model(&self, model: &ModelConfig) -> String;
}

/// `CUDA_VISIBLE_DEVICES` for a GPU list: the indexes joined by commas, or `-1` (no
/// device) for CPU, so that a CUDA build never touches a GPU the scheduler did not
/// give it.
pub(crate) fn cuda_visible_devices(gpus: &[u32]) -> (String, String) {
    let value = if gpus.is_empty() {
        "-1".to_owned()
    } else {
        join(gpus)
    };
    ("CUDA_VISIBLE_DEVICES".to_owned(), value)
}

pub(crate) fn join(gpus: &[u32]) -> String {
    gpus.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `binary` from the model config, else the runtime's.
pub(crate) fn program(model: &ModelConfig, runtime_binary: &std::path::Path) -> PathBuf {
    model
        .binary
        .clone()
        .unwrap_or_else(|| runtime_binary.to_path_buf())
}

pub(crate) fn check_kind(runtime: RuntimeKind, model: &ModelConfig) -> Result<()> {
    if model.runtime == runtime {
        Ok(())
    } else {
        Err(SchedError::InvalidConfig {
            what: format!("model config {}", model.name),
            reason: format!("runtime is {}, not {runtime}", model.runtime),
        })
    }
}

/// `base` joined with an absolute `path`.
pub(crate) fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(path);
    url
}

/// A GET health check: 200 = ready, 503 = loading, anything else = down. A refused
/// connection is `when_refused`.
pub(crate) async fn get_health(http: &reqwest::Client, url: Url, when_refused: Health) -> Health {
    match http.get(url.clone()).timeout(HEALTH_TIMEOUT).send().await {
        Ok(resp) if resp.status().is_success() => Health::Ready,
        Ok(resp) if resp.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => Health::Loading,
        Ok(resp) => Health::Down(format!("{url} answered {}", resp.status())),
        Err(e) if e.is_connect() => when_refused,
        Err(e) => Health::Down(format!("{url}: {}", error_chain(&e))),
    }
}

/// An error and its sources on one line.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
#[path = "runtime_tests.rs"]
mod tests;
