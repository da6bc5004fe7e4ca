//! The instances of one runner: which models it may start, with which runtimes, and
//! the supervisors of the instances it runs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::broadcast;
use url::Url;

use crate::runner::gpu::is_cpu_device;
use crate::runner::proxy::{forward, ProxyResponse};
use crate::runner::supervisor::{reap_orphans, EngineSpec, ReapedEngine, Supervisor};
use crate::runner::{
    LlamaCppRuntime, ModelConfig, ModelRuntime, OllamaRuntime, SupervisorConfig, VllmRuntime,
};
use crate::{
    GpuInfo, InstanceId, InstanceSpec, InstanceStatus, ModelOffer, Result, RuntimeKind, SchedError,
};

/// Status changes kept for slow subscribers before they see `Lagged`.
const EVENT_BUFFER: usize = 256;

/// Starts, stops and lists the model instances of a runner.
///
/// Built from the runner's model configs and a state directory (for pidfiles);
/// runtimes default to [`LlamaCppRuntime`], [`OllamaRuntime`] and [`VllmRuntime`]
/// with their binaries on `PATH`, and can be replaced with
/// [`with_runtime`](Self::with_runtime). Dropping the manager kills every engine;
/// [`stop_all`](Self::stop_all) stops them gracefully.
#[derive(Debug)]
pub struct InstanceManager {
    models: BTreeMap<String, ModelConfig>,
    runtimes: HashMap<RuntimeKind, Arc<dyn ModelRuntime>>,
    gpus: Vec<GpuInfo>,
    state_dir: PathBuf,
    http: reqwest::Client,
    config: SupervisorConfig,
    events: broadcast::Sender<InstanceStatus>,
    instances: Mutex<BTreeMap<InstanceId, Arc<Supervisor>>>,
}

impl InstanceManager {
    /// A manager for `models`, keeping pidfiles in `state_dir`. Fails when a model
    /// config is invalid or two share a name.
    pub fn new(models: Vec<ModelConfig>, state_dir: impl Into<PathBuf>) -> Result<Self> {
        let mut by_name = BTreeMap::new();
        for model in models {
            model.validate()?;
            if let Some(dup) = by_name.insert(model.name.clone(), model) {
                return Err(SchedError::InvalidConfig {
                    what: format!("model config {}", dup.name),
                    reason: "two models have this name".into(),
                });
            }
        }
        let runtimes: [Arc<dyn ModelRuntime>; 3] = [
            Arc::new(LlamaCppRuntime::default()),
            Arc::new(OllamaRuntime::default()),
            Arc::new(VllmRuntime::default()),
        ];
        let http = reqwest::Client::builder()
            // Engines listen on loopback: never send their traffic through a proxy.
            .no_proxy()
            // A fresh connection per request (cheap on loopback): llama-server closes
            // the connection after a streamed answer although it says keep-alive, and
            // a request sent on it would fail.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| SchedError::Engine {
                url: "(client)".into(),
                reason: format!("cannot build http client: {e}"),
            })?;
        Ok(Self {
            models: by_name,
            runtimes: runtimes.into_iter().map(|r| (r.kind(), r)).collect(),
            gpus: Vec::new(),
            state_dir: state_dir.into(),
            http,
            config: SupervisorConfig::default(),
            events: broadcast::channel(EVENT_BUFFER).0,
            instances: Mutex::new(BTreeMap::new()),
        })
    }

    /// Uses `runtime` for models of its [`kind`](ModelRuntime::kind).
    pub fn with_runtime(mut self, runtime: Arc<dyn ModelRuntime>) -> Self {
        self.runtimes.insert(runtime.kind(), runtime);
        self
    }

    /// The runner's GPUs (probed or declared). Instance GPUs are checked against
    /// them, declared `cpu` devices run engines without a GPU, and the default vLLM
    /// runtime sizes `--gpu-memory-utilization` from them. Call before
    /// [`with_runtime`](Self::with_runtime) to keep a custom vLLM runtime.
    pub fn with_gpus(mut self, gpus: Vec<GpuInfo>) -> Self {
        self.runtimes.insert(
            RuntimeKind::Vllm,
            Arc::new(VllmRuntime::default().with_gpus(gpus.clone())),
        );
        self.gpus = gpus;
        self
    }

    /// Supervision timings and limits for instances started from now on.
    pub fn with_config(mut self, config: SupervisorConfig) -> Self {
        self.config = config;
        self
    }

    /// The HTTP client for health checks and forwarded requests (default: no proxy,
    /// no timeout, no connection reuse).
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The configured models, by name.
    pub fn models(&self) -> impl Iterator<Item = &ModelConfig> {
        self.models.values()
    }

    /// What this runner offers the control plane: one [`ModelOffer`] per model.
    pub fn offers(&self) -> Result<Vec<ModelOffer>> {
        self.models.values().map(ModelConfig::offer).collect()
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Kills engines left behind by a previous run of this runner (see
    /// [`reap_orphans`]). Blocking; call once at start-up.
    pub fn reap_orphans(&self) -> Result<Vec<ReapedEngine>> {
        reap_orphans(&self.state_dir)
    }

    /// Starts an instance of `spec.model` on `spec.gpus`, in the background: it
    /// reports `Loading`, then `Ready` (or `Failed`) on [`subscribe`](Self::subscribe).
    ///
    /// Fails at once for an unknown model, an instance id already in use, or GPUs the
    /// model or runner does not allow. Must be called within a tokio runtime (see
    /// [`Supervisor::start`] for which).
    pub fn start(&self, spec: InstanceSpec) -> Result<()> {
        let model = self
            .models
            .get(&spec.model)
            .ok_or_else(|| SchedError::UnknownModel {
                model: spec.model.clone(),
            })?;
        let runtime = self
            .runtimes
            .get(&model.runtime)
            .ok_or_else(|| SchedError::NoRuntime {
                runtime: model.runtime.to_string(),
                model: model.name.clone(),
            })?;
        let visible_gpus = self.visible_gpus(&spec, model)?;
        let mut instances = self.instances.lock().unwrap_or_else(|e| e.into_inner());
        if instances.contains_key(&spec.instance) {
            return Err(SchedError::InstanceExists {
                instance: spec.instance.to_string(),
            });
        }
        let engine = EngineSpec {
            instance: spec.instance.clone(),
            model: model.clone(),
            gpus: spec.gpus,
            visible_gpus,
            runtime: runtime.clone(),
            http: self.http.clone(),
            state_dir: self.state_dir.clone(),
            events: Some(self.events.clone()),
        };
        let supervisor = Supervisor::start(engine, self.config.clone())?;
        instances.insert(spec.instance, Arc::new(supervisor));
        Ok(())
    }

    /// The GPUs the engine sees: `spec.gpus` without declared `cpu` devices, after
    /// checking them against the model and the runner's GPUs.
    fn visible_gpus(&self, spec: &InstanceSpec, model: &ModelConfig) -> Result<Vec<u32>> {
        let bad = |reason: String| SchedError::InvalidConfig {
            what: format!("instance spec {}", spec.instance),
            reason,
        };
        if spec.gpus.len() > model.max_gpus as usize {
            return Err(bad(format!(
                "{} gpus asked, model {} allows {}",
                spec.gpus.len(),
                model.name,
                model.max_gpus
            )));
        }
        let mut seen = Vec::new();
        for index in &spec.gpus {
            if seen.contains(index) {
                return Err(bad(format!("gpu {index} is listed twice")));
            }
            seen.push(*index);
        }
        if self.gpus.is_empty() {
            return Ok(spec.gpus.clone());
        }
        let mut visible = Vec::new();
        for index in &spec.gpus {
            let gpu = self
                .gpus
                .iter()
                .find(|g| g.index == *index)
                .ok_or_else(|| bad(format!("this runner has no gpu {index}")))?;
            if !is_cpu_device(gpu) {
                visible.push(*index);
            }
        }
        Ok(visible)
    }

    fn get(&self, instance: &InstanceId) -> Option<Arc<Supervisor>> {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(instance)
            .cloned()
    }

    /// Stops an instance gracefully and forgets it (it reports `Stopped`).
    pub async fn stop(&self, instance: &InstanceId) -> Result<()> {
        let supervisor = self
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(instance)
            .ok_or_else(|| SchedError::UnknownInstance {
                instance: instance.to_string(),
            })?;
        supervisor.stop().await;
        Ok(())
    }

    /// Stops every instance, concurrently; on return no engine process is left.
    pub async fn stop_all(&self) {
        let all: Vec<Arc<Supervisor>> =
            std::mem::take(&mut *self.instances.lock().unwrap_or_else(|e| e.into_inner()))
                .into_values()
                .collect();
        futures::future::join_all(all.iter().map(|s| s.stop())).await;
    }

    /// The status of every instance, by id.
    pub fn list(&self) -> Vec<InstanceStatus> {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|s| s.status())
            .collect()
    }

    /// One instance's status.
    pub fn status(&self, instance: &InstanceId) -> Option<InstanceStatus> {
        self.get(instance).map(|s| s.status())
    }

    /// The engine's base URL (`http://127.0.0.1:PORT/`), only while the instance is
    /// ready.
    pub fn base_url(&self, instance: &InstanceId) -> Option<Url> {
        self.get(instance)?.base_url()
    }

    /// The model name the instance's engine expects in requests.
    pub fn upstream_model(&self, instance: &InstanceId) -> Option<String> {
        Some(self.get(instance)?.upstream_model().to_owned())
    }

    /// The engine's pid (also its process group id), while it runs.
    pub fn pid(&self, instance: &InstanceId) -> Option<u32> {
        self.get(instance)?.pid()
    }

    /// The engine's last lines of output.
    pub fn recent_output(&self, instance: &InstanceId) -> Option<Vec<String>> {
        Some(self.get(instance)?.recent_output())
    }

    /// Every status change of every instance from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceStatus> {
        self.events.subscribe()
    }

    /// Forwards an OpenAI-style request to a ready instance (see [`forward`]), with
    /// the body's `model` set to the engine's name for it.
    pub async fn forward(
        &self,
        instance: &InstanceId,
        method: reqwest::Method,
        path: &str,
        body: Bytes,
    ) -> Result<ProxyResponse> {
        let supervisor = self
            .get(instance)
            .ok_or_else(|| SchedError::UnknownInstance {
                instance: instance.to_string(),
            })?;
        let base = supervisor
            .base_url()
            .ok_or_else(|| SchedError::InstanceNotReady {
                instance: instance.to_string(),
                state: supervisor.status().state.as_str().to_owned(),
            })?;
        forward(
            &self.http,
            &base,
            method,
            path,
            body,
            Some(supervisor.upstream_model()),
        )
        .await
    }
}
