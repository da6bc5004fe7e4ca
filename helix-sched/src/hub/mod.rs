//! The control plane's side of the runner protocol: the hub that runners connect to.
//!
//! One [`RunnerHub`] owns the [`Scheduler`] and every runner connection. Callers
//! [`acquire`](RunnerHub::acquire) a slot on a model instance (queued, fair, placed by
//! the scheduler), then [`send`](RunnerHub::send) one request through that runner's
//! socket and read the answer as a stream with flow control. The hub works over any
//! WebSocket library: a host turns its socket into a stream and sink of [`Frame`]s.

mod connection;
mod lease;
mod local;
mod pool;
mod stream;

pub use lease::Lease;
pub use local::LocalConnector;
pub use pool::RunnerPool;
pub use stream::{HubError, RunnerBody, RunnerResponse};

use crate::protocol::{ControlMessage, DEFAULT_STREAM_WINDOW};
use crate::scheduler::{Action, Scheduler, SchedulerConfig, SchedulerView, TicketId, WorkRequest};
use crate::types::{InstanceId, RunnerId};
use crate::SchedError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Notify};

/// How the hub runs.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The scheduler's rules.
    pub scheduler: SchedulerConfig,
    /// How often runners send heartbeats (told to them in `Welcome`).
    pub heartbeat_interval: Duration,
    /// A connection silent this long is closed with `4008` (the runner reconnects).
    pub idle_timeout: Duration,
    /// How long a new connection has to send `Hello`.
    pub hello_timeout: Duration,
    /// Flow-control window per response stream.
    pub stream_window: u32,
    /// How often the scheduler runs without any event (deadlines, keep-alive).
    pub tick_interval: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            scheduler: SchedulerConfig::default(),
            heartbeat_interval: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(20),
            hello_timeout: Duration::from_secs(10),
            stream_window: DEFAULT_STREAM_WINDOW,
            tick_interval: Duration::from_millis(250),
        }
    }
}

/// The hub: cheap to clone; every clone is the same hub.
#[derive(Debug, Clone)]
pub struct RunnerHub {
    pub(crate) inner: Arc<HubInner>,
}

#[derive(Debug)]
pub(crate) struct HubInner {
    pub(crate) cfg: HubConfig,
    state: Mutex<HubState>,
    wake: Arc<Notify>,
}

/// What a connection task is told to send.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Message(ControlMessage),
    Close(crate::protocol::CloseCode, String),
}

/// A granted slot, or why there is none.
pub(crate) type GrantResult = Result<(RunnerId, InstanceId), SchedError>;

#[derive(Debug)]
pub(crate) struct Conn {
    /// Distinguishes a reconnected runner's new connection from its old one.
    pub(crate) generation: u64,
    pub(crate) tx: mpsc::UnboundedSender<Outgoing>,
    pub(crate) streams: HashMap<u32, stream::StreamTx>,
    pub(crate) next_stream: u32,
}

#[derive(Debug)]
pub(crate) struct HubState {
    pub(crate) sched: Scheduler,
    pub(crate) conns: HashMap<RunnerId, Conn>,
    pub(crate) waiters: HashMap<TicketId, oneshot::Sender<GrantResult>>,
    pub(crate) next_generation: u64,
}

impl RunnerHub {
    /// A hub with its background ticker (call inside a tokio runtime). The ticker ends
    /// when the last clone of the hub is dropped.
    pub fn new(cfg: HubConfig) -> Self {
        let inner = Arc::new(HubInner {
            state: Mutex::new(HubState {
                sched: Scheduler::new(cfg.scheduler.clone()),
                conns: HashMap::new(),
                waiters: HashMap::new(),
                next_generation: 1,
            }),
            cfg,
            wake: Arc::new(Notify::new()),
        });
        tokio::spawn(ticker(Arc::downgrade(&inner), inner.wake.clone()));
        Self { inner }
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.cfg
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HubState> {
        self.inner.lock()
    }

    /// Queues a request for a slot on an instance of `req.model` and waits for it.
    /// Dropping the future leaves the queue (client cancel).
    pub async fn acquire(&self, req: WorkRequest) -> Result<Lease, SchedError> {
        let (tx, rx) = oneshot::channel();
        let ticket = {
            let mut st = self.lock();
            let now = Instant::now();
            let ticket = st.sched.enqueue(now, req)?;
            st.waiters.insert(ticket, tx);
            st.run_tick(now);
            ticket
        };
        let mut pending = lease::Pending::new(self.clone(), ticket, rx);
        pending.wait().await
    }

    /// The scheduler's state for operators: runners, GPUs, instances, the queue and
    /// recent decisions.
    pub fn view(&self) -> SchedulerView {
        self.lock().sched.view(Instant::now())
    }

    /// Names of the models runners offer (runners briefly disconnected included:
    /// their calls wait for the reconnect).
    pub fn model_names(&self) -> Vec<String> {
        let st = self.lock();
        let names: std::collections::BTreeSet<&String> = st
            .sched
            .cluster()
            .runners()
            .flat_map(|r| r.offers().keys())
            .collect();
        names.into_iter().cloned().collect()
    }

    /// Closes every runner connection with `1001` (going away); runners reconnect to
    /// the next control plane.
    pub fn shutdown(&self) {
        let st = self.lock();
        for conn in st.conns.values() {
            let _ = conn.tx.send(Outgoing::Close(
                crate::protocol::CloseCode::GoingAway,
                "control plane shutting down".into(),
            ));
        }
    }
}

impl HubInner {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl HubState {
    /// Runs the scheduler and carries out what it decided. Sends never block: they go
    /// to unbounded queues of connection tasks and to one-shot waiters.
    pub(crate) fn run_tick(&mut self, now: Instant) {
        for action in self.sched.tick(now) {
            match action {
                Action::StartInstance { runner, spec } => {
                    self.send_to(&runner, ControlMessage::StartInstance(spec));
                }
                Action::StopInstance {
                    runner, instance, ..
                } => {
                    self.send_to(&runner, ControlMessage::StopInstance { instance });
                }
                Action::Grant {
                    ticket,
                    runner,
                    instance,
                } => {
                    let delivered = self
                        .waiters
                        .remove(&ticket)
                        .is_some_and(|w| w.send(Ok((runner, instance))).is_ok());
                    if !delivered {
                        // The caller went away between enqueue and grant.
                        self.sched.release(now, ticket);
                    }
                }
                Action::Reject { ticket, error } => {
                    if let Some(w) = self.waiters.remove(&ticket) {
                        let _ = w.send(Err(error));
                    }
                }
            }
        }
    }

    fn send_to(&self, runner: &RunnerId, msg: ControlMessage) {
        match self.conns.get(runner) {
            Some(conn) => {
                let _ = conn.tx.send(Outgoing::Message(msg));
            }
            None => tracing::warn!(%runner, ?msg, "runner not connected; message dropped"),
        }
    }
}

/// Runs the scheduler every `tick_interval` and whenever woken. Holds no strong
/// reference while it waits, so dropping the last hub handle ends it.
async fn ticker(hub: Weak<HubInner>, wake: Arc<Notify>) {
    loop {
        let Some(interval) = hub.upgrade().map(|h| h.cfg.tick_interval) else {
            return;
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(interval) => {}
        }
        let Some(inner) = hub.upgrade() else { return };
        inner.lock().run_tick(Instant::now());
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
