//! What the scheduler shows (`GET /api/v1/scheduler`): runners, GPUs, instances, the
//! queue and recent decisions, with times relative to `now`. Also a text rendering
//! with every field named, for snapshot tests and logs.

use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::scheduler::tick::millis;
use crate::scheduler::{format, DecisionKind, Priority, RunnerState, Scheduler, TicketId};
use crate::types::{InstanceId, InstanceState, ModelOffer, RunnerId};

/// The whole scheduler state at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct SchedulerView {
    /// Known runners, by id.
    pub runners: Vec<RunnerView>,
    /// Queued requests, in arrival order.
    pub queue: Vec<QueuedView>,
    /// Requests holding a slot, by ticket.
    pub granted: Vec<GrantedView>,
    /// Recent decisions, oldest first.
    pub decisions: Vec<DecisionView>,
}

/// One runner.
#[derive(Debug, Clone, Serialize)]
pub struct RunnerView {
    /// Its id.
    pub id: RunnerId,
    /// Its display name.
    pub name: String,
    /// `connected`, `stale` or `disconnected`.
    pub state: RunnerState,
    /// Whole seconds since its last connect or heartbeat.
    pub seen_secs_ago: u64,
    /// Its GPUs.
    pub gpus: Vec<GpuView>,
    /// The models it offers.
    pub offers: Vec<ModelOffer>,
    /// Its instances.
    pub instances: Vec<InstanceView>,
}

/// One GPU.
#[derive(Debug, Clone, Serialize)]
pub struct GpuView {
    /// Index on the runner.
    pub index: u32,
    /// Product name.
    pub name: String,
    /// Total memory.
    pub total_bytes: u64,
    /// Free memory as the driver last reported it (not used for placement).
    pub free_bytes: u64,
    /// Memory booked by the scheduler's instances.
    pub booked_bytes: u64,
}

/// One model instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    /// Its id.
    pub id: InstanceId,
    /// Its model.
    pub model: String,
    /// GPU indexes on its runner.
    pub gpus: Vec<u32>,
    /// Its state.
    pub state: InstanceState,
    /// Requests in flight.
    pub active: u32,
    /// Requests it serves at once.
    pub slots: u32,
    /// Whole seconds since last used (0 while requests are in flight).
    pub idle_secs: u64,
    /// Bytes booked over all its GPUs.
    pub booked_bytes: u64,
}

/// One queued request.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedView {
    /// Its ticket.
    pub ticket: TicketId,
    /// Who asked.
    pub owner: String,
    /// The model.
    pub model: String,
    /// How urgent.
    pub priority: Priority,
    /// Milliseconds since enqueued.
    pub waited_ms: u64,
    /// What it waited for at the last tick.
    pub waiting_for: String,
}

/// One request holding a slot.
#[derive(Debug, Clone, Serialize)]
pub struct GrantedView {
    /// Its ticket.
    pub ticket: TicketId,
    /// Who asked.
    pub owner: String,
    /// The model.
    pub model: String,
    /// The runner.
    pub runner: RunnerId,
    /// The instance.
    pub instance: InstanceId,
    /// Milliseconds since granted.
    pub held_ms: u64,
}

/// One decision.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    /// Milliseconds before `now`.
    pub ago_ms: u64,
    /// What kind.
    pub kind: DecisionKind,
    /// Why, naming runners, GPUs and bytes.
    pub message: String,
}

impl Scheduler {
    /// The state at `now`. A connected runner silent past the heartbeat timeout shows
    /// as stale even before the next tick notices.
    pub fn view(&self, now: Instant) -> SchedulerView {
        let since = |t: Instant| now.saturating_duration_since(t);
        let runners = self
            .cluster
            .runners()
            .map(|r| {
                let mut state = r.state;
                if state == RunnerState::Connected
                    && since(r.last_seen) >= self.cfg.heartbeat_timeout
                {
                    state = RunnerState::Stale;
                }
                RunnerView {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    state,
                    seen_secs_ago: since(r.last_seen).as_secs(),
                    gpus: r
                        .gpus
                        .iter()
                        .map(|g| GpuView {
                            index: g.info.index,
                            name: g.info.name.clone(),
                            total_bytes: g.info.total_bytes,
                            free_bytes: g.info.free_bytes,
                            booked_bytes: g.booked,
                        })
                        .collect(),
                    offers: r.offers.values().cloned().collect(),
                    instances: r
                        .instances
                        .iter()
                        .filter_map(|id| self.cluster.instance(id))
                        .map(|i| InstanceView {
                            id: i.id.clone(),
                            model: i.model.clone(),
                            gpus: i.gpus.clone(),
                            state: i.state,
                            active: i.active,
                            slots: i.slots,
                            idle_secs: if i.active == 0 {
                                since(i.last_used).as_secs()
                            } else {
                                0
                            },
                            booked_bytes: i.share_bytes * i.gpus.len() as u64,
                        })
                        .collect(),
                }
            })
            .collect();
        SchedulerView {
            runners,
            queue: self
                .queue
                .iter()
                .map(|q| QueuedView {
                    ticket: q.ticket,
                    owner: q.owner.clone(),
                    model: q.model.clone(),
                    priority: q.priority,
                    waited_ms: millis(since(q.enqueued_at)),
                    waiting_for: q.waiting_for.clone(),
                })
                .collect(),
            granted: self
                .granted
                .iter()
                .map(|(ticket, g)| GrantedView {
                    ticket: *ticket,
                    owner: g.owner.clone(),
                    model: g.model.clone(),
                    runner: g.runner.clone(),
                    instance: g.instance.clone(),
                    held_ms: millis(since(g.at)),
                })
                .collect(),
            decisions: self
                .log
                .iter()
                .map(|d| DecisionView {
                    ago_ms: millis(since(d.at)),
                    kind: d.kind,
                    message: d.message.clone(),
                })
                .collect(),
        }
    }
}

impl SchedulerView {
    /// The view as text, one line per item, every field named.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SchedulerView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for r in &self.runners {
            let _ = writeln!(
                out,
                "runner id={} name={:?} state={} seen_secs_ago={}",
                r.id,
                r.name,
                r.state.as_str(),
                r.seen_secs_ago
            );
            for g in &r.gpus {
                let _ = writeln!(
                    out,
                    "  gpu index={} name={:?} total={} free={} booked={}",
                    g.index,
                    g.name,
                    format::bytes(g.total_bytes),
                    format::bytes(g.free_bytes),
                    format::bytes(g.booked_bytes)
                );
            }
            for o in &r.offers {
                let _ = writeln!(
                    out,
                    "  offer name={} runtime={} memory={} context_len={} parallel={} max_gpus={}",
                    o.name,
                    o.runtime,
                    format::bytes(o.memory_bytes),
                    o.context_len,
                    o.parallel,
                    o.max_gpus
                );
            }
            for i in &r.instances {
                let gpus: Vec<String> = i.gpus.iter().map(u32::to_string).collect();
                let _ = writeln!(
                    out,
                    "  instance id={} model={} gpus=[{}] state={} active={}/{} idle_secs={} \
                     booked={}",
                    i.id,
                    i.model,
                    gpus.join(","),
                    i.state.as_str(),
                    i.active,
                    i.slots,
                    i.idle_secs,
                    format::bytes(i.booked_bytes)
                );
            }
        }
        let _ = writeln!(out, "queue len={}", self.queue.len());
        for q in &self.queue {
            let _ = writeln!(
                out,
                "  ticket={} owner={} model={} priority={} waited={} waiting_for={:?}",
                q.ticket,
                q.owner,
                q.model,
                q.priority.as_str(),
                format::duration(Duration::from_millis(q.waited_ms)),
                q.waiting_for
            );
        }
        let _ = writeln!(out, "granted len={}", self.granted.len());
        for g in &self.granted {
            let _ = writeln!(
                out,
                "  ticket={} owner={} model={} runner={} instance={} held={}",
                g.ticket,
                g.owner,
                g.model,
                g.runner,
                g.instance,
                format::duration(Duration::from_millis(g.held_ms))
            );
        }
        let _ = writeln!(out, "decisions len={}", self.decisions.len());
        for d in &self.decisions {
            let _ = writeln!(
                out,
                "  ago={} kind={} message={:?}",
                format::duration(Duration::from_millis(d.ago_ms)),
                d.kind,
                d.message
            );
        }
        f.write_str(&out)
    }
}
