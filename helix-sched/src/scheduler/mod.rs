//! The GPU scheduler: places model instances on runner GPUs and grants queued
//! requests to instances with a free slot.
//!
//! [`Scheduler`] is synchronous and does no I/O and reads no clock: every method takes
//! `now`, so a test steps it through time. A host holds it behind a mutex, feeds it
//! runner events and requests, calls [`Scheduler::tick`] and carries out the
//! [`Action`]s it returns (start and stop instances on runners, wake a waiting request
//! with its grant or its error).
//!
//! Memory is **booked** by the scheduler itself: an instance books
//! `ceil(memory_bytes / gpus)` on each of its GPUs from the moment its
//! [`Action::StartInstance`] is returned until it is stopped, fails or is forgotten.
//! Placement never books more than a GPU's total; the driver's free figure is only
//! shown. The placement decision itself is the pure function [`place`] over a
//! [`Cluster`] snapshot. See `docs/scheduler.md` for every rule.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use helix_sched::scheduler::{Action, RunnerReport, Scheduler, SchedulerConfig, WorkRequest};
//! use helix_sched::{GpuInfo, InstanceState, InstanceStatus, ModelOffer, RunnerId, RuntimeKind};
//!
//! let t0 = Instant::now();
//! let mut sched = Scheduler::new(SchedulerConfig::default());
//! let runner = RunnerId::from("r1");
//! sched.runner_connected(t0, RunnerReport {
//!     id: runner.clone(),
//!     name: "gpu-box".into(),
//!     gpus: vec![GpuInfo { index: 0, name: "H100".into(), total_bytes: 80 << 30, free_bytes: 80 << 30 }],
//!     offers: vec![ModelOffer {
//!         name: "llama".into(), runtime: RuntimeKind::LlamaCpp, memory_bytes: 15 << 30,
//!         context_len: 8192, parallel: 2, embeddings: false, max_gpus: 1,
//!     }],
//!     instances: vec![],
//! });
//! let ticket = sched.enqueue(t0, WorkRequest::new("alice", "llama"))?;
//!
//! // First tick: no instance yet, so one is started on gpu 0.
//! let actions = sched.tick(t0);
//! let Some(Action::StartInstance { spec, .. }) = actions.first() else { panic!("{actions:?}") };
//!
//! // The runner reports it ready; the next tick grants the request.
//! sched.instance_status(t0 + Duration::from_secs(5), &runner, InstanceStatus {
//!     instance: spec.instance.clone(), model: "llama".into(), gpus: vec![0],
//!     state: InstanceState::Ready, message: None,
//! });
//! let actions = sched.tick(t0 + Duration::from_secs(5));
//! assert!(matches!(actions[0], Action::Grant { ticket: t, .. } if t == ticket));
//! sched.release(t0 + Duration::from_secs(9), ticket);
//! # Ok::<(), helix_sched::SchedError>(())
//! ```

mod cluster;
mod decisions;
mod embedded;
mod format;
mod placement;
mod queue;
mod runners;
mod tick;
mod view;

#[cfg(test)]
mod invariant_tests;
#[cfg(test)]
mod placement_tests;
#[cfg(test)]
mod scheduler_tests;
#[cfg(test)]
mod test_support;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use cluster::{share_bytes, Cluster, Gpu, Instance, Runner, RunnerState};
pub use decisions::DecisionKind;
pub use embedded::{EmbeddedAction, EmbeddedConfig, EmbeddedRequest, EmbeddedScheduler};
pub use placement::{admit, place, PlaceMode, PlaceOptions, Placement};
pub use view::{DecisionView, GpuView, InstanceView, QueuedView, RunnerView, SchedulerView};

use crate::types::{GpuInfo, InstanceId, InstanceSpec, InstanceStatus, ModelOffer, RunnerId};
use crate::{Result, SchedError};
use decisions::DecisionLog;
use queue::{Queue, Queued};

/// Keep at least `instances` instances of `model` once a runner offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prewarm {
    /// The model.
    pub model: String,
    /// How many instances to keep.
    pub instances: u32,
}

/// The scheduler's knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// An idle Ready instance is stopped after this long (unless prewarm keeps it).
    /// Default 5 minutes.
    pub keep_alive: Duration,
    /// Most requests queued in total. Default 1024.
    pub queue_capacity: usize,
    /// Most requests queued by one owner. Default 64.
    pub per_owner_queue_capacity: usize,
    /// Most instances of one model. Default 4.
    pub max_instances_per_model: u32,
    /// A runner silent this long is stale: nothing new is placed on it, its instances
    /// keep serving. Default 10 s.
    pub heartbeat_timeout: Duration,
    /// A disconnected runner's instances stay booked (not granted) this long so it
    /// can reconnect and resync; then the runner is forgotten. Default 30 s.
    pub disconnect_grace: Duration,
    /// Models to keep warm.
    pub prewarm: Vec<Prewarm>,
    /// Recent decisions kept for the view. Default 200.
    pub decision_log: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(300),
            queue_capacity: 1024,
            per_owner_queue_capacity: 64,
            max_instances_per_model: 4,
            heartbeat_timeout: Duration::from_secs(10),
            disconnect_grace: Duration::from_secs(30),
            prewarm: Vec::new(),
            decision_log: 200,
        }
    }
}

/// What a runner reports when it connects (or reconnects and resyncs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerReport {
    /// Its id.
    pub id: RunnerId,
    /// Its display name.
    pub name: String,
    /// Its GPUs.
    pub gpus: Vec<GpuInfo>,
    /// The models it can serve.
    pub offers: Vec<ModelOffer>,
    /// The instances it runs now.
    pub instances: Vec<InstanceStatus>,
}

/// How urgent a request is. Ordered so that `Interactive > Normal > Background`; the
/// queue serves the greatest first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Priority {
    /// Batch work: served when nothing more urgent waits.
    Background,
    /// The default.
    #[default]
    Normal,
    /// A person is waiting.
    Interactive,
}

impl Priority {
    /// Text form (`background`, `normal`, `interactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Background => "background",
            Priority::Normal => "normal",
            Priority::Interactive => "interactive",
        }
    }
}

/// A request for one slot of a model instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkRequest {
    /// Who asks (a user or org id); fairness is between owners.
    pub owner: String,
    /// The model.
    pub model: String,
    /// How urgent.
    pub priority: Priority,
    /// Reject with `queue_timeout` if not granted by then.
    pub deadline: Option<Instant>,
}

impl WorkRequest {
    /// A normal-priority request without deadline.
    pub fn new(owner: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            model: model.into(),
            priority: Priority::Normal,
            deadline: None,
        }
    }

    /// With this priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// With this deadline.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// A queued or granted request's number, unique for the scheduler's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub u64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What the host must do after a [`Scheduler::tick`], in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action {
    /// Ask `runner` to start an instance. Its memory is booked already.
    StartInstance {
        /// The runner.
        runner: RunnerId,
        /// What to start.
        spec: InstanceSpec,
    },
    /// Ask `runner` to stop an instance. Its memory is unbooked already, so the runner
    /// must carry out stops before the starts that follow them.
    StopInstance {
        /// The runner.
        runner: RunnerId,
        /// The instance.
        instance: InstanceId,
        /// Why (evicted, idle past keep-alive).
        reason: String,
    },
    /// Send the waiting request to this instance; call [`Scheduler::release`] when done.
    Grant {
        /// The request.
        ticket: TicketId,
        /// The runner.
        runner: RunnerId,
        /// The instance.
        instance: InstanceId,
    },
    /// Fail the waiting request.
    Reject {
        /// The request.
        ticket: TicketId,
        /// Why (`queue_timeout`, `model_failed`, `model_not_offered`).
        error: SchedError,
    },
}

/// A request holding an instance slot.
#[derive(Debug, Clone)]
struct Granted {
    owner: String,
    model: String,
    runner: RunnerId,
    instance: InstanceId,
    at: Instant,
}

type IdSource = Box<dyn FnMut() -> InstanceId + Send>;

/// The scheduler: runners, instances, the queue and the decisions taken.
pub struct Scheduler {
    cfg: SchedulerConfig,
    cluster: Cluster,
    queue: Queue,
    granted: BTreeMap<TicketId, Granted>,
    next_ticket: u64,
    serve_seq: u64,
    last_served: HashMap<String, u64>,
    /// Rejections decided between ticks, returned by the next tick.
    pending: Vec<Action>,
    log: DecisionLog,
    /// The last wait reason logged per model (or `prewarm <model>`).
    logged_waits: HashMap<String, String>,
    new_id: IdSource,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("cfg", &self.cfg)
            .field("cluster", &self.cluster)
            .field("queue", &self.queue)
            .field("granted", &self.granted)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new(cfg: SchedulerConfig) -> Self {
        Self {
            log: DecisionLog::new(cfg.decision_log),
            cfg,
            cluster: Cluster::new(),
            queue: Queue::default(),
            granted: BTreeMap::new(),
            next_ticket: 1,
            serve_seq: 0,
            last_served: HashMap::new(),
            pending: Vec::new(),
            logged_waits: HashMap::new(),
            new_id: Box::new(InstanceId::generate),
        }
    }

    /// Uses `ids` instead of [`InstanceId::generate`] for new instances (tests use
    /// predictable ids to snapshot the state).
    pub fn with_instance_ids(mut self, ids: impl FnMut() -> InstanceId + Send + 'static) -> Self {
        self.new_id = Box::new(ids);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.cfg
    }

    /// The booked state placement decides over.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Queues a request. Refused at once with `model_not_offered` or
    /// `model_too_large` when it could never be served, and with `queue_full` or
    /// `owner_queue_full` when the queue is full.
    pub fn enqueue(&mut self, now: Instant, req: WorkRequest) -> Result<TicketId> {
        self.refresh(now);
        let refused = if let Err(err) = admit(&self.cluster, &req.model) {
            Some(err)
        } else if self.queue.len() >= self.cfg.queue_capacity {
            Some(SchedError::QueueFull {
                capacity: self.cfg.queue_capacity,
            })
        } else if self.queue.owner_len(&req.owner) >= self.cfg.per_owner_queue_capacity {
            Some(SchedError::OwnerQueueFull {
                owner: req.owner.clone(),
                capacity: self.cfg.per_owner_queue_capacity,
            })
        } else {
            None
        };
        if let Some(err) = refused {
            self.log.push(
                now,
                DecisionKind::Refuse,
                format!(
                    "refused {}'s request for {} ({}): {err}",
                    req.owner,
                    req.model,
                    err.code()
                ),
            );
            return Err(err);
        }
        let ticket = TicketId(self.next_ticket);
        self.next_ticket += 1;
        self.queue.push(Queued {
            ticket,
            owner: req.owner,
            model: req.model,
            priority: req.priority,
            deadline: req.deadline,
            enqueued_at: now,
            waiting_for: "the next tick".into(),
        });
        Ok(ticket)
    }

    /// Withdraws a request: a queued one leaves the queue, a granted one frees its
    /// slot. Returns whether the ticket was queued or granted.
    pub fn cancel(&mut self, now: Instant, ticket: TicketId) -> bool {
        if self.queue.remove(ticket).is_some() {
            return true;
        }
        if let Some(granted) = self.granted.remove(&ticket) {
            self.cluster.free_slot(now, &granted.instance);
            return true;
        }
        false
    }

    /// Granted work finished: frees its slot; the instance was last used `now`.
    pub fn release(&mut self, now: Instant, ticket: TicketId) {
        if let Some(granted) = self.granted.remove(&ticket) {
            self.cluster.free_slot(now, &granted.instance);
        }
    }

    /// Drops the grants held on an instance that is gone.
    fn drop_grants(&mut self, instance: &InstanceId) {
        self.granted.retain(|_, g| g.instance != *instance);
    }

    /// Logs `reason` for `key` unless it is the reason logged last for it.
    fn note_wait(&mut self, now: Instant, key: &str, reason: &str) {
        if self.logged_waits.get(key).map(String::as_str) != Some(reason) {
            self.logged_waits.insert(key.to_owned(), reason.to_owned());
            self.log.push(now, DecisionKind::Wait, reason.to_owned());
        }
    }
}
