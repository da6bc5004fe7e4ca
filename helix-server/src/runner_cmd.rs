//! `helix runner`: a GPU runner that dials out to a control plane, and the in-process
//! runner of `helix serve`. Both are the embeddable `helix_sched::runner::Agent`.

use anyhow::Context;
use clap::Args;
use helix_sched::runner::{
    Agent, AgentConfig, Connector, DeclaredGpus, GpuProbe, InstanceManager, ModelConfig, NvmlProbe,
    WsConnector,
};
use helix_sched::RunnerId;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `helix runner`; each also reads a `HELIX_RUNNER_*` variable.
#[derive(Debug, Clone, Args)]
pub struct RunnerArgs {
    /// The control plane's URL (what users open, e.g. https://helix.example.com).
    #[arg(long, env = "HELIX_SERVER")]
    pub server: String,
    /// The runner token (`hxr-...`) a site admin created for this runner.
    #[arg(long, env = "HELIX_RUNNER_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The runner id the token is bound to (default: the id the control plane names).
    #[arg(long, env = "HELIX_RUNNER_ID")]
    pub runner_id: Option<String>,
    /// Display name (default: the host name).
    #[arg(long, env = "HELIX_RUNNER_NAME")]
    pub name: Option<String>,
    /// Engines, models and GPUs.
    #[command(flatten)]
    pub local: LocalRunnerArgs,
}

/// A runner's GPU probe, the models it offers and its instance manager.
pub type LocalRunner = (
    Arc<dyn GpuProbe>,
    Vec<helix_sched::ModelOffer>,
    Arc<InstanceManager>,
);

/// What a runner serves, shared by `helix runner` and the in-process runner.
#[derive(Debug, Clone, Args)]
pub struct LocalRunnerArgs {
    /// A model to serve, `name=tiny,runtime=llama_cpp,source=/m/tiny.gguf,ctx=2048,parallel=2`
    /// (repeat the flag, or separate with `;` in the variable). See docs/runner.md.
    #[arg(long = "model", env = "HELIX_RUNNER_MODELS", value_delimiter = ';')]
    pub models: Vec<String>,
    /// A GPU, `NAME:MEMORY` such as `H100:80GiB` or `cpu:8GiB` (repeat per GPU; `;` in
    /// the variable). Without any, GPUs are probed through NVML.
    #[arg(long = "gpu", env = "HELIX_RUNNER_GPUS", value_delimiter = ';')]
    pub gpus: Vec<String>,
    /// Where pidfiles and engine state live.
    #[arg(long, env = "HELIX_RUNNER_STATE_DIR", default_value = ".helix-runner")]
    pub state_dir: PathBuf,
}

impl LocalRunnerArgs {
    /// The GPU probe, models and instance manager these flags describe. Engines a
    /// previous run left behind (it was killed) are reaped first.
    pub fn build(&self) -> anyhow::Result<LocalRunner> {
        let gpus: Arc<dyn GpuProbe> = if self.gpus.is_empty() {
            match NvmlProbe::new() {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    // A CPU-only machine: offer half its memory, as `cpu:N` would.
                    let half = mem_total_bytes().context(
                        "no --gpu declared, NVML is unavailable and /proc/meminfo is unreadable",
                    )? / 2;
                    tracing::warn!(error = %e, memory_bytes = half, "no GPU found (NVML); serving on the CPU with half the memory; declare GPUs with --gpu");
                    Arc::new(DeclaredGpus::parse([format!("cpu:{half}")]).context("cpu device")?)
                }
            }
        } else {
            Arc::new(DeclaredGpus::parse(&self.gpus).context("bad --gpu")?)
        };
        let models = self
            .models
            .iter()
            .filter(|m| !m.trim().is_empty())
            .map(|m| {
                m.parse::<ModelConfig>()
                    .with_context(|| format!("bad --model {m:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let offers = models
            .iter()
            .map(|m| m.offer().with_context(|| format!("model {}", m.name)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let manager = InstanceManager::new(models, &self.state_dir)
            .context("cannot set up the runner's state dir")?;
        match manager.reap_orphans() {
            Ok(reaped) if !reaped.is_empty() => {
                tracing::warn!(
                    engines = reaped.len(),
                    "stopped engines a previous run left behind"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot check for engines left behind"),
        }
        Ok((gpus, offers, Arc::new(manager)))
    }
}

fn mem_total_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "runner".into())
}

/// Runs `helix runner` until SIGINT/SIGTERM; every engine is stopped before it returns.
pub async fn run(args: RunnerArgs) -> anyhow::Result<()> {
    let (gpus, offers, manager) = args.local.build()?;
    let connector = WsConnector::new(&args.server, args.token.clone())?;
    tracing::info!(
        url = connector.url(),
        models = offers.len(),
        "runner starting"
    );
    let name = args.name.clone().unwrap_or_else(host_name);
    let agent = Agent::new(
        AgentConfig::new(args.runner_id.clone().map(RunnerId), name),
        gpus,
        offers,
        manager,
    );
    agent
        .run(&connector, crate::serve::shutdown_signal())
        .await
        .context("runner stopped")
}

/// Starts the in-process runner of `helix serve` on `connector` in the background;
/// it stops (engines included) when `stop` fires.
pub fn spawn_local(
    args: &LocalRunnerArgs,
    connector: Arc<dyn Connector>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let (gpus, offers, manager) = args.build()?;
    let agent = Agent::new(AgentConfig::new(None, "local"), gpus, offers, manager);
    Ok(tokio::spawn(async move {
        let mut stop = stop;
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = agent.run(connector.as_ref(), stopped).await {
            tracing::error!(error = %e, "in-process runner stopped");
        }
    }))
}
