//! Builders shared by the scheduler's tests: GPUs, offers, runners, clusters and a
//! steppable scheduler with a fake clock and predictable instance ids.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::scheduler::{
    Action, Cluster, RunnerReport, Scheduler, SchedulerConfig, TicketId, WorkRequest,
};
use crate::types::{
    GpuInfo, InstanceId, InstanceSpec, InstanceState, InstanceStatus, ModelOffer, RunnerId,
    RuntimeKind,
};

pub(crate) const GIB: u64 = 1 << 30;

/// A base instant a day ahead, so tests can go back in time from it without
/// underflowing on a machine that booted minutes ago.
pub(crate) fn epoch() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

pub(crate) fn gpus(totals_gib: &[u64]) -> Vec<GpuInfo> {
    totals_gib
        .iter()
        .enumerate()
        .map(|(i, t)| GpuInfo {
            index: i as u32,
            name: "H100".into(),
            total_bytes: t * GIB,
            free_bytes: t * GIB,
        })
        .collect()
}

pub(crate) fn offer(name: &str, gib: u64, parallel: u32, max_gpus: u32) -> ModelOffer {
    ModelOffer {
        name: name.into(),
        runtime: RuntimeKind::LlamaCpp,
        memory_bytes: gib * GIB,
        context_len: 8192,
        parallel,
        embeddings: false,
        max_gpus,
    }
}

pub(crate) fn report(id: &str, totals_gib: &[u64], offers: Vec<ModelOffer>) -> RunnerReport {
    RunnerReport {
        id: id.into(),
        name: format!("{id}-box"),
        gpus: gpus(totals_gib),
        offers,
        instances: Vec::new(),
    }
}

pub(crate) fn status(id: &str, model: &str, gpus: &[u32], state: InstanceState) -> InstanceStatus {
    InstanceStatus {
        instance: id.into(),
        model: model.into(),
        gpus: gpus.to_vec(),
        state,
        message: None,
    }
}

/// A cluster of connected runners, as of `now`.
pub(crate) fn cluster(now: Instant, runners: Vec<RunnerReport>) -> Cluster {
    let mut c = Cluster::new();
    for r in runners {
        c.upsert_runner(now, r.id, r.name, r.gpus, r.offers);
    }
    c
}

/// Adds instance `(id, model, gpus)` with `active` requests in flight, last used
/// `age` before `now`.
pub(crate) fn add(
    c: &mut Cluster,
    now: Instant,
    runner: &str,
    (id, model, gpus): (&str, &str, &[u32]),
    state: InstanceState,
    active: u32,
    age: Duration,
) {
    let at = now - age;
    assert!(c.add_instance(at, &runner.into(), &status(id, model, gpus, state)));
    for _ in 0..active {
        c.take_slot(at, &id.into());
    }
}

/// `ins_1`, `ins_2`, ... shared between the scheduler and the test.
pub(crate) fn counter_ids() -> impl FnMut() -> InstanceId + Send + 'static {
    let n = Arc::new(AtomicU64::new(0));
    move || InstanceId(format!("ins_{}", n.fetch_add(1, Ordering::Relaxed) + 1))
}

/// A scheduler stepped through fake time.
pub(crate) struct Sim {
    pub(crate) sched: Scheduler,
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
}

impl Sim {
    pub(crate) fn new(cfg: SchedulerConfig) -> Self {
        let t0 = epoch();
        Self {
            sched: Scheduler::new(cfg).with_instance_ids(counter_ids()),
            t0,
            now: t0,
        }
    }

    /// Moves the clock to `secs` after the start.
    pub(crate) fn at(&mut self, secs: f64) -> &mut Self {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        self
    }

    pub(crate) fn connect(&mut self, r: RunnerReport) {
        self.sched.runner_connected(self.now, r);
    }

    pub(crate) fn enqueue(&mut self, owner: &str, model: &str) -> TicketId {
        self.sched
            .enqueue(self.now, WorkRequest::new(owner, model))
            .expect("enqueue")
    }

    pub(crate) fn tick(&mut self) -> Vec<Action> {
        self.sched.tick(self.now)
    }

    /// Reports every Loading instance of the scheduler's as Ready.
    pub(crate) fn all_ready(&mut self) {
        let loading: Vec<(RunnerId, InstanceStatus)> = self
            .sched
            .cluster()
            .instances()
            .filter(|i| i.state() == InstanceState::Loading)
            .map(|i| {
                (
                    i.runner().clone(),
                    InstanceStatus {
                        instance: i.id().clone(),
                        model: i.model().into(),
                        gpus: i.gpus().to_vec(),
                        state: InstanceState::Ready,
                        message: None,
                    },
                )
            })
            .collect();
        for (runner, s) in loading {
            self.sched.instance_status(self.now, &runner, s);
        }
    }

    pub(crate) fn report_state(&mut self, runner: &str, spec: &InstanceSpec, state: InstanceState) {
        self.sched.instance_status(
            self.now,
            &runner.into(),
            InstanceStatus {
                instance: spec.instance.clone(),
                model: spec.model.clone(),
                gpus: spec.gpus.clone(),
                state,
                message: Some("exit status 1".into()),
            },
        );
    }

    pub(crate) fn text(&self) -> String {
        self.sched.view(self.now).to_text()
    }
}

/// The action list in one short line each, for asserting on a tick.
pub(crate) fn summary(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::StartInstance { runner, spec } => format!(
                "start {} {} on {runner} {:?}",
                spec.instance, spec.model, spec.gpus
            ),
            Action::StopInstance {
                runner, instance, ..
            } => format!("stop {instance} on {runner}"),
            Action::Grant {
                ticket,
                runner,
                instance,
            } => format!("grant {ticket} {instance} on {runner}"),
            Action::Reject { ticket, error } => format!("reject {ticket} {}", error.code()),
        })
        .collect()
}

/// The specs of the starts in `actions`.
pub(crate) fn starts(actions: &[Action]) -> Vec<InstanceSpec> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartInstance { spec, .. } => Some(spec.clone()),
            _ => None,
        })
        .collect()
}
