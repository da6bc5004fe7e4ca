//! Supervision of one engine process: start, health, restarts with backoff, stop.
//!
//! A [`Supervisor`] owns one model instance. It starts the engine that the model's
//! [`ModelRuntime`] describes on a free loopback port, polls its health until ready,
//! runs [`ModelRuntime::prepare`], and reports `Ready`. When the engine exits it
//! reports `Restarting` and starts it again after a backoff (1 s, 2 s, 4 s, ...);
//! more than [`SupervisorConfig::max_crashes`] crashes within
//! [`SupervisorConfig::crash_window`] make it `Failed`, with the engine's last output
//! in the message. [`Supervisor::stop`] sends SIGTERM to the engine's process group,
//! waits up to [`SupervisorConfig::stop_grace`], then SIGKILLs the group.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use url::Url;

use super::process::{signal_group, EngineProcess, OutputTail};
use super::runtime::error_chain;
use crate::runner::{Health, ModelConfig, ModelRuntime};
use crate::{InstanceId, InstanceState, InstanceStatus, Result, SchedError};

pub use super::orphans::{reap_orphans, ReapedEngine};

/// Lines of engine output quoted in a `Failed` message.
const FAILURE_LINES: usize = 20;

/// Timings and limits of supervision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorConfig {
    /// How long an engine may take to become healthy and prepared (default 10 min:
    /// big models load slowly). Past it the engine is killed and counts as a crash.
    pub health_timeout: Duration,
    /// Pause between health checks while loading (default 250 ms).
    pub health_interval: Duration,
    /// How long `stop` waits after SIGTERM before SIGKILL (default 10 s).
    pub stop_grace: Duration,
    /// First restart delay; doubled for each further crash in the window (default 1 s).
    pub backoff_initial: Duration,
    /// Longest restart delay (default 60 s).
    pub backoff_max: Duration,
    /// Crashes tolerated within `crash_window`; one more is `Failed` (default 5).
    pub max_crashes: u32,
    /// The window crashes are counted in (default 10 min).
    pub crash_window: Duration,
    /// Start engines behind `setpriv --pdeathsig KILL` when available, so they die
    /// with the runner even when it is SIGKILLed (default true).
    pub pdeathsig: bool,
    /// Lines of engine output kept for error messages (default 50).
    pub output_lines: usize,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            health_timeout: Duration::from_secs(600),
            health_interval: Duration::from_millis(250),
            stop_grace: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_crashes: 5,
            crash_window: Duration::from_secs(600),
            pdeathsig: true,
            output_lines: 50,
        }
    }
}

impl SupervisorConfig {
    /// The delay before restart number `crashes` (1-based) of the window.
    pub fn backoff(&self, crashes: u32) -> Duration {
        let factor = 1u32 << crashes.saturating_sub(1).min(20);
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// What to supervise.
#[derive(Debug, Clone)]
pub struct EngineSpec {
    /// The instance.
    pub instance: InstanceId,
    /// Its model.
    pub model: ModelConfig,
    /// The GPUs reported in its status (the scheduler's device indexes).
    pub gpus: Vec<u32>,
    /// The GPUs the engine is given (`CUDA_VISIBLE_DEVICES`); empty = CPU. Usually
    /// `gpus` without declared `cpu` devices.
    pub visible_gpus: Vec<u32>,
    /// The engine's runtime.
    pub runtime: Arc<dyn ModelRuntime>,
    /// For health checks and `prepare`.
    pub http: reqwest::Client,
    /// Where the engine's pidfile goes (see [`reap_orphans`]).
    pub state_dir: PathBuf,
    /// Also publish every status change here (the instance manager's feed).
    pub events: Option<broadcast::Sender<InstanceStatus>>,
}

impl EngineSpec {
    /// A spec with `visible_gpus = gpus`, a default HTTP client and no event feed.
    pub fn new(
        instance: InstanceId,
        model: ModelConfig,
        gpus: Vec<u32>,
        runtime: Arc<dyn ModelRuntime>,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            instance,
            visible_gpus: gpus.clone(),
            gpus,
            model,
            runtime,
            http: reqwest::Client::new(),
            state_dir: state_dir.into(),
            events: None,
        }
    }
}

/// The handle of one supervised engine. Dropping it kills the engine's process group
/// at once; [`stop`](Self::stop) ends it gracefully.
#[derive(Debug)]
pub struct Supervisor {
    shared: Arc<Shared>,
    upstream_model: String,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    status: watch::Sender<InstanceStatus>,
    events: Option<broadcast::Sender<InstanceStatus>>,
    live: Mutex<Live>,
    output: Arc<OutputTail>,
}

#[derive(Debug, Default, Clone)]
struct Live {
    pid: Option<u32>,
    /// Set only while the engine is ready.
    base: Option<Url>,
}

impl Shared {
    fn publish(&self, state: InstanceState, message: Option<String>) {
        let mut status = self.status.borrow().clone();
        status.state = state;
        status.message = message;
        tracing::info!(
            instance = %status.instance,
            model = %status.model,
            state = state.as_str(),
            message = status.message.as_deref().unwrap_or(""),
            "instance state"
        );
        self.status.send_replace(status.clone());
        if let Some(events) = &self.events {
            let _ = events.send(status);
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tail(&self) -> String {
        let lines = self.output.last(FAILURE_LINES);
        if lines.is_empty() {
            "(no output)".into()
        } else {
            lines.join("\n")
        }
    }
}

impl Supervisor {
    /// Starts supervising: the engine is started at once, in the background; watch
    /// [`status`](Self::status) or the spec's event feed for `Ready`.
    ///
    /// Must be called within a tokio runtime. Engines started with `pdeathsig` die
    /// when the thread that started them exits: use a multi-threaded runtime that
    /// lives as long as the instances (its worker threads do).
    pub fn start(spec: EngineSpec, config: SupervisorConfig) -> Result<Self> {
        spec.model.validate()?;
        let status = InstanceStatus {
            instance: spec.instance.clone(),
            model: spec.model.name.clone(),
            gpus: spec.gpus.clone(),
            state: InstanceState::Loading,
            message: None,
        };
        let shared = Arc::new(Shared {
            status: watch::Sender::new(status),
            events: spec.events.clone(),
            live: Mutex::new(Live::default()),
            output: Arc::new(OutputTail::new(config.output_lines)),
        });
        let (stop, stop_rx) = watch::channel(false);
        let upstream_model = spec.runtime.upstream_model(&spec.model);
        let task = tokio::spawn(run(shared.clone(), spec, config, stop_rx));
        Ok(Self {
            shared,
            upstream_model,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// The instance's current status.
    pub fn status(&self) -> InstanceStatus {
        self.shared.status.borrow().clone()
    }

    /// A receiver of the instance's status (latest value; changes may coalesce).
    pub fn watch(&self) -> watch::Receiver<InstanceStatus> {
        self.shared.status.subscribe()
    }

    /// The engine's pid (also its process group id) while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.shared.live().pid
    }

    /// The engine's base URL (`http://127.0.0.1:PORT/`), only while it is ready.
    pub fn base_url(&self) -> Option<Url> {
        self.shared.live().base.clone()
    }

    /// The model name to put in requests to the engine.
    pub fn upstream_model(&self) -> &str {
        &self.upstream_model
    }

    /// The engine's last lines of output (stdout and stderr), oldest first.
    pub fn recent_output(&self) -> Vec<String> {
        self.shared.output.last(usize::MAX)
    }

    /// Stops the engine (SIGTERM to its group, SIGKILL after the grace period) and
    /// waits until no process of its group is left. Reports `Stopped`.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        if self.status().state != InstanceState::Stopped {
            self.shared.publish(InstanceState::Stopped, None);
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let task = self
            .task
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
            // The aborted task's engine kills its group when dropped; do it now too,
            // in case the runtime is shutting down and never drops it.
            if let Some(pid) = self.shared.live().pid {
                signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// How one run of the engine ended.
enum Outcome {
    Ready,
    Exited(std::process::ExitStatus),
    /// Not ready in time, or `prepare` failed in a way a restart may fix.
    Unhealthy(String),
    /// A restart will not help (for example the engine lacks the model).
    Fatal(String),
    Stop,
}

async fn run(
    shared: Arc<Shared>,
    spec: EngineSpec,
    config: SupervisorConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut crashes: VecDeque<Instant> = VecDeque::new();
    let mut restarting = false;
    loop {
        let (mut engine, base) = match start_engine(&shared, &spec, &config) {
            Ok(started) => started,
            Err(e) => {
                let message = format!("cannot start the engine: {}", error_chain(&e));
                return shared.publish(InstanceState::Failed, Some(message));
            }
        };
        if !restarting {
            shared.publish(InstanceState::Loading, None);
        }
        let mut outcome = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => Outcome::Stop,
            status = engine.wait() => Outcome::Exited(status),
            ready = become_ready(&spec, &config, &base) => ready,
        };
        if let Outcome::Ready = outcome {
            shared.live().base = Some(base.clone());
            shared.publish(InstanceState::Ready, None);
            outcome = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => Outcome::Stop,
                status = engine.wait() => Outcome::Exited(status),
            };
        }
        shared.live().base = None;
        let reason = match outcome {
            Outcome::Stop => {
                engine.terminate(config.stop_grace).await;
                *shared.live() = Live::default();
                return shared.publish(InstanceState::Stopped, None);
            }
            Outcome::Ready => unreachable!("handled above"),
            Outcome::Exited(status) => format!("engine exited ({status})"),
            Outcome::Unhealthy(reason) => reason,
            Outcome::Fatal(reason) => {
                engine.kill().await;
                *shared.live() = Live::default();
                let message = format!("{reason}; last output:\n{}", shared.tail());
                return shared.publish(InstanceState::Failed, Some(message));
            }
        };
        engine.kill().await;
        *shared.live() = Live::default();

        let now = Instant::now();
        crashes.push_back(now);
        while crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > config.crash_window)
        {
            crashes.pop_front();
        }
        let count = u32::try_from(crashes.len()).unwrap_or(u32::MAX);
        if count > config.max_crashes {
            let message = format!(
                "{reason}; {count} crashes within {:?}, giving up; last output:\n{}",
                config.crash_window,
                shared.tail()
            );
            return shared.publish(InstanceState::Failed, Some(message));
        }
        let delay = config.backoff(count);
        let last_line = shared.output.last(1).pop().unwrap_or_default();
        let message = format!("{reason}; restarting in {delay:?}; last output: {last_line}");
        tracing::warn!(instance = %spec.instance, "{message}");
        shared.publish(InstanceState::Restarting, Some(message));
        restarting = true;
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => {
                return shared.publish(InstanceState::Stopped, None);
            }
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Starts the engine on a free port; returns it and its base URL.
fn start_engine(
    shared: &Shared,
    spec: &EngineSpec,
    config: &SupervisorConfig,
) -> Result<(EngineProcess, Url)> {
    let port = free_port()?;
    let base = Url::parse(&format!("http://127.0.0.1:{port}/")).map_err(|e| {
        SchedError::InvalidConfig {
            what: "engine url".into(),
            reason: e.to_string(),
        }
    })?;
    let command = spec
        .runtime
        .command(&spec.model, port, &spec.visible_gpus)?;
    let engine = EngineProcess::spawn(
        &command,
        &spec.instance,
        &spec.state_dir,
        config.pdeathsig,
        &shared.output,
    )?;
    shared.live().pid = Some(engine.pid());
    Ok((engine, base))
}

/// Polls health until ready, then prepares; all within `health_timeout`.
async fn become_ready(spec: &EngineSpec, config: &SupervisorConfig, base: &Url) -> Outcome {
    let deadline = Instant::now() + config.health_timeout;
    let (runtime, http, model) = (&spec.runtime, &spec.http, &spec.model);
    loop {
        let health = runtime.health(http, base, model).await;
        if health == Health::Ready {
            break;
        }
        if Instant::now() >= deadline {
            return Outcome::Unhealthy(format!(
                "engine not ready after {:?} (last health check: {health:?})",
                config.health_timeout
            ));
        }
        tokio::time::sleep(config.health_interval).await;
    }
    match tokio::time::timeout_at(deadline, runtime.prepare(http, base, model)).await {
        Ok(Ok(())) => Outcome::Ready,
        Ok(Err(e)) if e.is_user_error() => {
            Outcome::Fatal(format!("preparing the engine failed: {}", error_chain(&e)))
        }
        Ok(Err(e)) => {
            Outcome::Unhealthy(format!("preparing the engine failed: {}", error_chain(&e)))
        }
        Err(_) => Outcome::Unhealthy(format!(
            "engine not prepared after {:?}",
            config.health_timeout
        )),
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16> {
    let io = |source| SchedError::RunnerIo {
        action: "pick a free port on",
        path: "127.0.0.1".into(),
        source,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io)?;
    Ok(listener.local_addr().map_err(io)?.port())
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
