//! Ollama (`ollama serve`), one server per instance.

use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::{json, Value};
use url::Url;

use super::{check_kind, cuda_visible_devices, endpoint, error_chain, get_health, program};
use super::{EngineCommand, Health, ModelRuntime};
use crate::runner::ModelConfig;
use crate::{Result, RuntimeKind, SchedError};

/// Ollama: one `ollama serve` per instance, holding one model (a tag already pulled
/// into the server's model store).
///
/// ```text
/// ollama serve EXTRA_ARGS...
///   OLLAMA_HOST=127.0.0.1:PORT  OLLAMA_KEEP_ALIVE=-1  OLLAMA_NUM_PARALLEL=PARALLEL
///   OLLAMA_CONTEXT_LENGTH=CONTEXT_LEN  OLLAMA_MAX_LOADED_MODELS=1
///   CUDA_VISIBLE_DEVICES=GPUS (-1 on CPU)  [OLLAMA_SCHED_SPREAD=1 on several GPUs]
/// ```
///
/// Health is `GET /api/version`. Before the instance is ready, `prepare` checks the
/// model exists (`POST /api/show`; a missing tag fails with code
/// `engine_model_missing`) and loads it for good (`POST /api/generate` with
/// `keep_alive: -1`, or `POST /api/embed` for embedding models). Requests go to
/// Ollama's OpenAI-compatible `/v1` API with the tag as the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OllamaRuntime {
    /// The default binary (a model's `binary` overrides it).
    pub binary: PathBuf,
}

impl Default for OllamaRuntime {
    fn default() -> Self {
        Self::new("ollama")
    }
}

impl OllamaRuntime {
    /// A runtime that runs `binary`.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
        }
    }
}

#[async_trait]
impl ModelRuntime for OllamaRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Ollama
    }

    fn command(&self, model: &ModelConfig, port: u16, gpus: &[u32]) -> Result<EngineCommand> {
        check_kind(self.kind(), model)?;
        model.validate()?;
        let mut args = vec!["serve".to_owned()];
        args.extend(model.extra_args.iter().cloned());
        let mut env: Vec<(String, String)> = [
            ("OLLAMA_HOST", format!("127.0.0.1:{port}")),
            ("OLLAMA_KEEP_ALIVE", "-1".into()),
            ("OLLAMA_NUM_PARALLEL", model.parallel.to_string()),
            ("OLLAMA_CONTEXT_LENGTH", model.context_len.to_string()),
            ("OLLAMA_MAX_LOADED_MODELS", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.push(cuda_visible_devices(gpus));
        if gpus.len() > 1 {
            env.push(("OLLAMA_SCHED_SPREAD".into(), "1".into()));
        }
        Ok(EngineCommand {
            program: program(model, &self.binary),
            args,
            env,
        })
    }

    async fn health(&self, http: &reqwest::Client, base: &Url, _model: &ModelConfig) -> Health {
        get_health(http, endpoint(base, "/api/version"), Health::Loading).await
    }

    async fn prepare(&self, http: &reqwest::Client, base: &Url, model: &ModelConfig) -> Result<()> {
        let tag = self.upstream_model(model);
        post(http, base, "/api/show", &json!({ "model": tag }), &tag).await?;
        // An empty request loads the model; keep_alive -1 keeps it loaded.
        let (path, body) = if model.embeddings {
            ("/api/embed", json!({ "model": tag, "keep_alive": -1 }))
        } else {
            (
                "/api/generate",
                json!({ "model": tag, "keep_alive": -1, "stream": false }),
            )
        };
        post(http, base, path, &body, &tag).await
    }

    fn upstream_model(&self, model: &ModelConfig) -> String {
        model.source.clone()
    }
}

/// POSTs `body`; a 404 means the model is not in Ollama's store.
async fn post(
    http: &reqwest::Client,
    base: &Url,
    path: &str,
    body: &Value,
    tag: &str,
) -> Result<()> {
    let url = endpoint(base, path);
    let resp = http
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|source| SchedError::EngineUnreachable {
            url: url.to_string(),
            source,
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp
        .text()
        .await
        .unwrap_or_else(|e| format!("(unreadable body: {})", error_chain(&e)));
    // Ollama errors are {"error": "..."}.
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or(text);
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(SchedError::EngineModelMissing {
            model: tag.to_owned(),
            url: base.to_string(),
            reason: format!(
                "{message} (pull it into the runner's ollama store first: ollama pull {tag})"
            ),
        });
    }
    Err(SchedError::Engine {
        url: url.to_string(),
        reason: format!("{status}: {message}"),
    })
}
