//! vLLM (`vllm serve`).

use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::Value;
use url::Url;

use super::{check_kind, cuda_visible_devices, endpoint, get_health, program};
use super::{EngineCommand, Health, ModelRuntime};
use crate::runner::ModelConfig;
use crate::{GpuInfo, Result, RuntimeKind, SchedError};

/// vLLM's OpenAI-compatible server.
///
/// ```text
/// vllm serve SOURCE --host 127.0.0.1 --port PORT --served-model-name NAME
///     --tensor-parallel-size max(1, GPUS) --max-model-len CONTEXT_LEN
///     --max-num-seqs PARALLEL [--gpu-memory-utilization FRACTION]
///     [--runner pooling] EXTRA_ARGS...
///   CUDA_VISIBLE_DEVICES=GPUS (-1 on CPU)
/// ```
///
/// `--gpu-memory-utilization` is the model's `memory_bytes` per GPU over the smallest
/// of its GPUs' total memory, rounded up to hundredths, when the runtime knows the
/// GPUs ([`with_gpus`](Self::with_gpus)); otherwise vLLM's default applies (most of
/// each GPU). Embedding models get `--runner pooling` (vLLM 0.10 and later; older
/// versions take `--task embed`). Health is `GET /health` (vLLM listens only once the
/// model is loaded, so a refused connection means loading); `prepare` checks that
/// `/v1/models` lists the served name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VllmRuntime {
    /// The default binary (a model's `binary` overrides it).
    pub binary: PathBuf,
    /// The runner's GPUs, to turn memory into a utilization fraction.
    pub gpus: Vec<GpuInfo>,
}

impl Default for VllmRuntime {
    fn default() -> Self {
        Self::new("vllm")
    }
}

impl VllmRuntime {
    /// A runtime that runs `binary`, without GPU sizes.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            gpus: Vec::new(),
        }
    }

    /// Knows the runner's GPUs, so that `--gpu-memory-utilization` can be computed.
    pub fn with_gpus(mut self, gpus: Vec<GpuInfo>) -> Self {
        self.gpus = gpus;
        self
    }

    /// `--gpu-memory-utilization` in hundredths, when memory and GPU sizes are known.
    fn utilization(&self, model: &ModelConfig, gpus: &[u32]) -> Result<Option<u64>> {
        let Some(memory) = model.memory_bytes else {
            return Ok(None);
        };
        if gpus.is_empty() {
            return Ok(None);
        }
        let totals: Option<Vec<u64>> = gpus
            .iter()
            .map(|i| {
                self.gpus
                    .iter()
                    .find(|g| g.index == *i)
                    .map(|g| g.total_bytes)
            })
            .collect();
        let Some(smallest) = totals.and_then(|t| t.into_iter().min()) else {
            return Ok(None);
        };
        let per_gpu = memory.div_ceil(gpus.len() as u64);
        let hundredths = (u128::from(per_gpu) * 100).div_ceil(u128::from(smallest.max(1)));
        if hundredths > 100 {
            return Err(SchedError::InvalidConfig {
                what: format!("model config {}", model.name),
                reason: format!(
                    "memory_bytes {memory} over {} gpus is more than the {smallest} bytes of the smallest",
                    gpus.len()
                ),
            });
        }
        Ok(Some(hundredths.max(1) as u64))
    }
}

#[async_trait]
impl ModelRuntime for VllmRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Vllm
    }

    fn command(&self, model: &ModelConfig, port: u16, gpus: &[u32]) -> Result<EngineCommand> {
        check_kind(self.kind(), model)?;
        model.validate()?;
        let mut args: Vec<String> = [
            "serve",
            &model.source,
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--served-model-name",
            &model.name,
            "--tensor-parallel-size",
            &gpus.len().max(1).to_string(),
            "--max-model-len",
            &model.context_len.to_string(),
            "--max-num-seqs",
            &model.parallel.to_string(),
        ]
        .map(str::to_owned)
        .to_vec();
        if let Some(h) = self.utilization(model, gpus)? {
            args.push("--gpu-memory-utilization".into());
            args.push(format!("{}.{:02}", h / 100, h % 100));
        }
        if model.embeddings {
            args.extend(["--runner", "pooling"].map(str::to_owned));
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

    async fn prepare(&self, http: &reqwest::Client, base: &Url, model: &ModelConfig) -> Result<()> {
        let url = endpoint(base, "/v1/models");
        let unreachable = |source| SchedError::EngineUnreachable {
            url: url.to_string(),
            source,
        };
        let resp = http.get(url.clone()).send().await.map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(SchedError::Engine {
                url: url.to_string(),
                reason: format!("{}", resp.status()),
            });
        }
        let models: Value = resp.json().await.map_err(unreachable)?;
        let served: Vec<&str> = models["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str())
            .collect();
        let name = self.upstream_model(model);
        if served.contains(&name.as_str()) {
            Ok(())
        } else {
            Err(SchedError::EngineModelMissing {
                model: name,
                url: base.to_string(),
                reason: format!("/v1/models lists {served:?}"),
            })
        }
    }

    fn upstream_model(&self, model: &ModelConfig) -> String {
        model.name.clone()
    }
}
