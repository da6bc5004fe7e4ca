//! [`EmbeddedScheduler`]: the scheduler for hosts that are not Rust programs keeping
//! their own clock: the Python and Node SDKs, tools, CI jobs.
//!
//! It is thread-safe (`&self` everywhere), keeps its own monotonic clock, and takes and
//! returns serde types only, so a binding converts values and nothing else. Time is
//! seconds since the scheduler was made: each call takes an optional `at` so a test or
//! a simulation steps it through time; without one the real clock is read. Time never
//! goes backwards: an `at` earlier than the last one used counts as the last one.

use super::{Action, Prewarm, Priority, RunnerReport, Scheduler, SchedulerConfig, TicketId};
use super::{SchedulerView, WorkRequest};
use crate::types::{GpuInfo, InstanceId, InstanceSpec, InstanceStatus, RunnerId};
use crate::{Result, SchedError};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// [`SchedulerConfig`] with durations in seconds; every field may be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// An idle Ready instance is stopped after this long.
    pub keep_alive_secs: f64,
    /// Most requests queued in total.
    pub queue_capacity: usize,
    /// Most requests queued by one owner.
    pub per_owner_queue_capacity: usize,
    /// Most instances of one model.
    pub max_instances_per_model: u32,
    /// A runner silent this long is stale.
    pub heartbeat_timeout_secs: f64,
    /// A disconnected runner is forgotten after this long.
    pub disconnect_grace_secs: f64,
    /// Models to keep warm.
    pub prewarm: Vec<Prewarm>,
    /// Recent decisions kept for the view.
    pub decision_log: usize,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        let d = SchedulerConfig::default();
        EmbeddedConfig {
            keep_alive_secs: d.keep_alive.as_secs_f64(),
            queue_capacity: d.queue_capacity,
            per_owner_queue_capacity: d.per_owner_queue_capacity,
            max_instances_per_model: d.max_instances_per_model,
            heartbeat_timeout_secs: d.heartbeat_timeout.as_secs_f64(),
            disconnect_grace_secs: d.disconnect_grace.as_secs_f64(),
            prewarm: d.prewarm,
            decision_log: d.decision_log,
        }
    }
}

/// Most seconds a time or duration may be (about 317 years), so that no sum of the
/// scheduler's clock and a duration can overflow an `Instant`.
const MAX_SECS: f64 = 1e10;

fn secs(what: &str, v: f64) -> Result<Duration> {
    if !(0.0..=MAX_SECS).contains(&v) {
        return Err(SchedError::InvalidConfig {
            what: what.to_owned(),
            reason: format!("{v} is not a number of seconds from 0 to {MAX_SECS}"),
        });
    }
    Ok(Duration::from_secs_f64(v))
}

impl TryFrom<EmbeddedConfig> for SchedulerConfig {
    type Error = SchedError;

    fn try_from(c: EmbeddedConfig) -> Result<Self> {
        if c.queue_capacity == 0 || c.per_owner_queue_capacity == 0 {
            return Err(SchedError::InvalidConfig {
                what: "scheduler config".into(),
                reason: "queue capacities must be at least 1".into(),
            });
        }
        Ok(SchedulerConfig {
            keep_alive: secs("keep_alive_secs", c.keep_alive_secs)?,
            queue_capacity: c.queue_capacity,
            per_owner_queue_capacity: c.per_owner_queue_capacity,
            max_instances_per_model: c.max_instances_per_model,
            heartbeat_timeout: secs("heartbeat_timeout_secs", c.heartbeat_timeout_secs)?,
            disconnect_grace: secs("disconnect_grace_secs", c.disconnect_grace_secs)?,
            prewarm: c.prewarm,
            decision_log: c.decision_log,
        })
    }
}

/// A request for a slot, with its deadline in seconds from when it is queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedRequest {
    /// Who asks; fairness is between owners.
    pub owner: String,
    /// The model.
    pub model: String,
    /// How urgent (`background`, `normal`, `interactive`).
    #[serde(default)]
    pub priority: Priority,
    /// Rejected with `queue_timeout` when not granted this many seconds after queuing.
    #[serde(default)]
    pub deadline_secs: Option<f64>,
}

/// What the host must do, as data: `{"type": "start_instance", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EmbeddedAction {
    /// Ask `runner` to start the instance `spec`.
    StartInstance {
        /// The runner.
        runner: RunnerId,
        /// What to start.
        spec: InstanceSpec,
    },
    /// Ask `runner` to stop `instance` (before any start that follows).
    StopInstance {
        /// The runner.
        runner: RunnerId,
        /// The instance.
        instance: InstanceId,
        /// Why.
        reason: String,
    },
    /// Send request `ticket` to `instance`; release the ticket when done.
    Grant {
        /// The request.
        ticket: TicketId,
        /// The runner.
        runner: RunnerId,
        /// The instance.
        instance: InstanceId,
    },
    /// Fail request `ticket`.
    Reject {
        /// The request.
        ticket: TicketId,
        /// Stable code (`queue_timeout`, `model_failed`, `model_not_offered`, ...).
        code: String,
        /// For people.
        message: String,
    },
}

impl From<Action> for EmbeddedAction {
    fn from(a: Action) -> Self {
        match a {
            Action::StartInstance { runner, spec } => {
                EmbeddedAction::StartInstance { runner, spec }
            }
            Action::StopInstance {
                runner,
                instance,
                reason,
            } => EmbeddedAction::StopInstance {
                runner,
                instance,
                reason,
            },
            Action::Grant {
                ticket,
                runner,
                instance,
            } => EmbeddedAction::Grant {
                ticket,
                runner,
                instance,
            },
            Action::Reject { ticket, error } => EmbeddedAction::Reject {
                ticket,
                code: error.code().to_owned(),
                message: error.to_string(),
            },
        }
    }
}

struct State {
    sched: Scheduler,
    /// The latest time used, as an offset from `epoch`.
    last: Duration,
}

/// A [`Scheduler`] with its own clock behind a mutex; see the [module docs](self).
pub struct EmbeddedScheduler {
    epoch: Instant,
    state: Mutex<State>,
}

impl std::fmt::Debug for EmbeddedScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedScheduler")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl EmbeddedScheduler {
    /// A scheduler with no runners; its clock starts at 0 now.
    pub fn new(cfg: EmbeddedConfig) -> Result<Self> {
        Ok(EmbeddedScheduler {
            epoch: Instant::now(),
            state: Mutex::new(State {
                sched: Scheduler::new(cfg.try_into()?),
                last: Duration::ZERO,
            }),
        })
    }

    /// Runs `f` at time `at` (seconds since the start; `None`: now).
    fn with<T>(&self, at: Option<f64>, f: impl FnOnce(&mut Scheduler, Instant) -> T) -> Result<T> {
        let offset = match at {
            Some(s) => secs("at", s)?,
            None => self.epoch.elapsed(),
        };
        // A panic inside the scheduler would be a bug; its state is still the best there is.
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.last = st.last.max(offset);
        let now = self.epoch + st.last;
        Ok(f(&mut st.sched, now))
    }

    /// The scheduler's time now, in seconds since it was made (the latest of the real
    /// clock and any `at` used).
    pub fn now(&self) -> f64 {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.last.max(self.epoch.elapsed()).as_secs_f64()
    }

    /// A runner connected (or reconnected and resynced).
    pub fn runner_connected(&self, report: RunnerReport, at: Option<f64>) -> Result<()> {
        self.with(at, |s, now| s.runner_connected(now, report))
    }

    /// A runner's heartbeat.
    pub fn runner_heartbeat(
        &self,
        runner: &RunnerId,
        gpus: Vec<GpuInfo>,
        instances: Vec<InstanceStatus>,
        at: Option<f64>,
    ) -> Result<()> {
        self.with(at, |s, now| {
            s.runner_heartbeat(now, runner, gpus, instances)
        })
    }

    /// A runner's connection closed.
    pub fn runner_disconnected(&self, runner: &RunnerId, at: Option<f64>) -> Result<()> {
        self.with(at, |s, now| s.runner_disconnected(now, runner))
    }

    /// An instance changed state.
    pub fn instance_status(
        &self,
        runner: &RunnerId,
        status: InstanceStatus,
        at: Option<f64>,
    ) -> Result<()> {
        self.with(at, |s, now| s.instance_status(now, runner, status))
    }

    /// Queues a request; its grant or rejection comes from a later [`Self::tick`].
    pub fn enqueue(&self, req: EmbeddedRequest, at: Option<f64>) -> Result<TicketId> {
        let deadline = req
            .deadline_secs
            .map(|d| secs("deadline_secs", d))
            .transpose()?;
        self.with(at, |s, now| {
            let mut w = WorkRequest::new(req.owner, req.model).priority(req.priority);
            if let Some(d) = deadline {
                w = w.deadline(now + d);
            }
            s.enqueue(now, w)
        })?
    }

    /// Withdraws a queued request; `false` when it was not queued.
    pub fn cancel(&self, ticket: TicketId, at: Option<f64>) -> Result<bool> {
        self.with(at, |s, now| s.cancel(now, ticket))
    }

    /// A granted request is done with its slot.
    pub fn release(&self, ticket: TicketId, at: Option<f64>) -> Result<()> {
        self.with(at, |s, now| s.release(now, ticket))
    }

    /// Decides; the host carries out the actions in order.
    pub fn tick(&self, at: Option<f64>) -> Result<Vec<EmbeddedAction>> {
        self.with(at, |s, now| {
            s.tick(now).into_iter().map(EmbeddedAction::from).collect()
        })
    }

    /// Runners, GPUs, instances, the queue and recent decisions.
    pub fn view(&self, at: Option<f64>) -> Result<SchedulerView> {
        self.with(at, |s, now| s.view(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InstanceState, RuntimeKind};

    fn report() -> RunnerReport {
        serde_json::from_value(serde_json::json!({
            "id": "r1", "name": "box",
            "gpus": [{"index": 0, "name": "H100", "total_bytes": 80u64 << 30, "free_bytes": 80u64 << 30}],
            "offers": [{"name": "llama", "runtime": RuntimeKind::LlamaCpp, "memory_bytes": 15u64 << 30,
                        "context_len": 8192, "parallel": 1, "embeddings": false, "max_gpus": 1}],
            "instances": []
        }))
        .expect("a report")
    }

    fn req(owner: &str, deadline: Option<f64>) -> EmbeddedRequest {
        EmbeddedRequest {
            owner: owner.into(),
            model: "llama".into(),
            priority: Priority::Normal,
            deadline_secs: deadline,
        }
    }

    #[test]
    fn starts_grants_and_times_out_by_the_given_clock() {
        let s = EmbeddedScheduler::new(EmbeddedConfig {
            max_instances_per_model: 1,
            ..EmbeddedConfig::default()
        })
        .unwrap();
        s.runner_connected(report(), Some(0.0)).unwrap();
        let t1 = s.enqueue(req("alice", None), Some(0.0)).unwrap();
        let actions = s.tick(Some(0.0)).unwrap();
        let [EmbeddedAction::StartInstance { runner, spec }] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        // One instance with one slot: the second request waits for it, then times out.
        let t2 = s.enqueue(req("bob", Some(5.0)), Some(1.0)).unwrap();
        s.instance_status(
            runner,
            InstanceStatus {
                instance: spec.instance.clone(),
                model: "llama".into(),
                gpus: vec![0],
                state: InstanceState::Ready,
                message: None,
            },
            Some(2.0),
        )
        .unwrap();
        let actions = s.tick(Some(2.0)).unwrap();
        assert!(
            matches!(&actions[..], [EmbeddedAction::Grant { ticket, .. }] if *ticket == t1),
            "{actions:?}"
        );
        let actions = s.tick(Some(7.0)).unwrap();
        let [EmbeddedAction::Reject { ticket, code, .. }] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert_eq!((*ticket, code.as_str()), (t2, "queue_timeout"));
        // Actions are plain data with a type tag.
        let json = serde_json::to_value(&actions[0]).unwrap();
        assert_eq!(json["type"], "reject");
        assert_eq!(json["ticket"], t2.0);
        s.release(t1, Some(8.0)).unwrap();
        assert!(s.view(None).unwrap().queue.is_empty());
    }

    #[test]
    fn time_never_goes_back_and_bad_input_is_refused() {
        let s = EmbeddedScheduler::new(EmbeddedConfig::default()).unwrap();
        s.tick(Some(100.0)).unwrap();
        s.tick(Some(3.0)).unwrap();
        assert!(s.now() >= 100.0);
        let e = s.tick(Some(-1.0)).unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        let e = s.enqueue(req("a", Some(f64::NAN)), None).unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        // Huge times are refused, not a panic (an Instant would overflow).
        assert_eq!(s.tick(Some(1e19)).unwrap_err().code(), "invalid_config");
        let e = s.enqueue(req("a", Some(f64::MAX)), None).unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert!(s.tick(None).is_ok());
        let e = EmbeddedScheduler::new(EmbeddedConfig {
            keep_alive_secs: -5.0,
            ..EmbeddedConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("keep_alive_secs"), "{e}");
        let e = serde_json::from_str::<EmbeddedConfig>(r#"{"keep_alive": 3}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        // A model nobody offers is refused at once, with its code.
        let e = s.enqueue(req("a", None), None).unwrap_err();
        assert_eq!(e.code(), "model_not_offered");
    }
}
