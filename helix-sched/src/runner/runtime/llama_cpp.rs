//! llama.cpp's `llama-server`.

use std::path::PathBuf;

use async_trait::async_trait;
use url::Url;

use super::{check_kind, cuda_visible_devices, endpoint, get_health, program};
use super::{EngineCommand, Health, ModelRuntime};
use crate::runner::ModelConfig;
use crate::{Result, RuntimeKind};

/// llama.cpp's `llama-server` serving one GGUF file.
///
/// Command line (the context is per sequence in the config, in total for the engine):
///
/// ```text
/// llama-server -m SOURCE --host 127.0.0.1 --port PORT --alias NAME
///     -c CONTEXT_LEN×PARALLEL -np PARALLEL [--embeddings --pooling mean]
///     -ngl 999 [--split-mode layer --tensor-split 1,1,...]   (GPUs)
///     -ngl 0                                                  (CPU)
///     EXTRA_ARGS...
/// ```
///
/// with `CUDA_VISIBLE_DEVICES` set to the instance's GPUs (`-1` on CPU). Health is
/// `GET /health`: 200 ready, 503 loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlamaCppRuntime {
    /// The default binary (a model's `binary` overrides it).
    pub binary: PathBuf,
}

impl Default for LlamaCppRuntime {
    fn default() -> Self {
        Self::new("llama-server")
    }
}

impl LlamaCppRuntime {
    /// A runtime that runs `binary`.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
        }
    }
}

#[async_trait]
impl ModelRuntime for LlamaCppRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::LlamaCpp
    }

    fn command(&self, model: &ModelConfig, port: u16, gpus: &[u32]) -> Result<EngineCommand> {
        check_kind(self.kind(), model)?;
        model.validate()?;
        let total_context = model
            .context_len
            .checked_mul(u64::from(model.parallel))
            .ok_or(crate::SchedError::Overflow {
                what: "total context",
            })?;
        let mut args: Vec<String> = [
            "-m",
            &model.source,
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--alias",
            &model.name,
            "-c",
            &total_context.to_string(),
            "-np",
            &model.parallel.to_string(),
        ]
        .map(str::to_owned)
        .to_vec();
        if model.embeddings {
            args.extend(["--embeddings", "--pooling", "mean"].map(str::to_owned));
        }
        if gpus.is_empty() {
            args.extend(["-ngl", "0"].map(str::to_owned));
        } else {
            args.extend(["-ngl", "999"].map(str::to_owned));
        }
        if gpus.len() > 1 {
            let even = vec!["1"; gpus.len()].join(",");
            args.extend([
                "--split-mode".into(),
                "layer".into(),
                "--tensor-split".into(),
                even,
            ]);
        }
        args.extend(model.extra_args.iter().cloned());
        Ok(EngineCommand {
            program: program(model, &self.binary),
            args,
            env: vec![cuda_visible_devices(gpus)],
        })
    }

    async fn health(&self, http: &reqwest::Client, base: &Url, _model: &ModelConfig) -> Health {
        get_health(http, endpoint(base, "/health"), Health::Loading).await
    }

    fn upstream_model(&self, model: &ModelConfig) -> String {
        model.name.clone()
    }
}
