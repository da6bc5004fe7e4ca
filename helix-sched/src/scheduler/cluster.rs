//! The cluster as the scheduler books it: runners, their GPUs, the models they offer
//! and the model instances placed on them.
//!
//! [`Cluster`] is the snapshot [`place`](super::place) decides over. The scheduler
//! owns one and mutates it only through the methods here, which keep two things
//! true: every GPU's `booked` is the sum of the shares of the instances on it (and
//! its `idle` the sum over the idle Ready ones, what eviction could free), and the
//! per-model index lists exactly the runners offering and the instances serving
//! each model.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use serde::Serialize;

use crate::types::{GpuInfo, InstanceId, InstanceState, InstanceStatus, ModelOffer, RunnerId};

/// Whether the scheduler can reach a runner and place work on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunnerState {
    /// Heartbeats arrive: new instances may be placed on it.
    Connected,
    /// Silent for at least the heartbeat timeout: its instances keep serving and stay
    /// booked, but nothing new is placed on it.
    Stale,
    /// Its connection closed: its instances are booked but not granted until it
    /// reconnects or its grace period ends.
    Disconnected,
}

impl RunnerState {
    /// Text form (`connected`, `stale`, `disconnected`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunnerState::Connected => "connected",
            RunnerState::Stale => "stale",
            RunnerState::Disconnected => "disconnected",
        }
    }
}

/// One GPU of a runner: what the runner reports and what the scheduler booked on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    /// As the runner last reported it.
    pub info: GpuInfo,
    /// Bytes booked by the instances placed on it.
    pub booked: u64,
    /// Of `booked`, the bytes of idle Ready instances: what eviction could free.
    pub idle: u64,
}

impl Gpu {
    /// Bytes not booked by any instance (zero when adopted instances overbook it).
    pub fn unbooked(&self) -> u64 {
        self.info.total_bytes.saturating_sub(self.booked)
    }
}

/// A runner as the scheduler knows it.
#[derive(Debug, Clone)]
pub struct Runner {
    pub(crate) id: RunnerId,
    pub(crate) name: String,
    pub(crate) state: RunnerState,
    pub(crate) last_seen: Instant,
    pub(crate) disconnected_at: Option<Instant>,
    pub(crate) gpus: Vec<Gpu>,
    pub(crate) offers: BTreeMap<String, ModelOffer>,
    pub(crate) instances: BTreeSet<InstanceId>,
    /// Instances the scheduler asked it to stop: unbooked at once, and ignored in its
    /// reports until it reports them stopped or stops reporting them.
    pub(crate) stopping: BTreeSet<InstanceId>,
}

impl Runner {
    /// Its id.
    pub fn id(&self) -> &RunnerId {
        &self.id
    }
    /// Its display name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its state as of the scheduler's last refresh.
    pub fn state(&self) -> RunnerState {
        self.state
    }
    /// Its GPUs, in the order it reported them.
    pub fn gpus(&self) -> &[Gpu] {
        &self.gpus
    }
    /// The GPU with this index.
    pub fn gpu(&self, index: u32) -> Option<&Gpu> {
        self.gpus.iter().find(|g| g.info.index == index)
    }
    /// The models it offers, by name.
    pub fn offers(&self) -> &BTreeMap<String, ModelOffer> {
        &self.offers
    }
    /// Its instances' ids.
    pub fn instances(&self) -> &BTreeSet<InstanceId> {
        &self.instances
    }
}

/// A model instance the scheduler placed or adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub(crate) id: InstanceId,
    pub(crate) runner: RunnerId,
    pub(crate) model: String,
    pub(crate) gpus: Vec<u32>,
    pub(crate) share_bytes: u64,
    pub(crate) state: InstanceState,
    pub(crate) active: u32,
    pub(crate) slots: u32,
    pub(crate) last_used: Instant,
}

impl Instance {
    /// Its id.
    pub fn id(&self) -> &InstanceId {
        &self.id
    }
    /// The runner it runs on.
    pub fn runner(&self) -> &RunnerId {
        &self.runner
    }
    /// Its model.
    pub fn model(&self) -> &str {
        &self.model
    }
    /// GPU indexes on its runner.
    pub fn gpus(&self) -> &[u32] {
        &self.gpus
    }
    /// Bytes booked on each of its GPUs: `ceil(memory_bytes / gpus)`.
    pub fn share_bytes(&self) -> u64 {
        self.share_bytes
    }
    /// Its state.
    pub fn state(&self) -> InstanceState {
        self.state
    }
    /// Requests granted to it and not yet released.
    pub fn active(&self) -> u32 {
        self.active
    }
    /// Requests it serves at once (its offer's `parallel`).
    pub fn slots(&self) -> u32 {
        self.slots
    }
    /// When it last started, finished or was granted a request.
    pub fn last_used(&self) -> Instant {
        self.last_used
    }
    /// Ready, with no request in flight: the only kind that may be evicted.
    pub fn is_idle(&self) -> bool {
        self.state == InstanceState::Ready && self.active == 0
    }
}

/// Who offers and who serves one model.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelIndex {
    pub(crate) runners: BTreeSet<RunnerId>,
    pub(crate) instances: BTreeSet<InstanceId>,
}

/// Runners, GPUs, offers and instances: the state placement decides over.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub(crate) runners: BTreeMap<RunnerId, Runner>,
    pub(crate) instances: BTreeMap<InstanceId, Instance>,
    pub(crate) models: HashMap<String, ModelIndex>,
}

/// Bytes an instance of `memory_bytes` books on each of `gpus` GPUs.
pub fn share_bytes(memory_bytes: u64, gpus: usize) -> u64 {
    match gpus {
        0 => 0,
        n => memory_bytes.div_ceil(n as u64),
    }
}

/// Adds (or, with `add` false, removes) an instance's share to its GPUs' sums.
fn account(gpus: &mut [Gpu], inst: &Instance, add: bool) {
    for index in &inst.gpus {
        if let Some(gpu) = gpus.iter_mut().find(|g| g.info.index == *index) {
            let idle = if inst.is_idle() { inst.share_bytes } else { 0 };
            if add {
                gpu.booked += inst.share_bytes;
                gpu.idle += idle;
            } else {
                gpu.booked = gpu.booked.saturating_sub(inst.share_bytes);
                gpu.idle = gpu.idle.saturating_sub(idle);
            }
        }
    }
}

impl Cluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a connected runner, or refreshes an existing one's name, GPUs and offers
    /// (keeping its instances and rebooking them on the new GPU list). Either way it
    /// is [`RunnerState::Connected`] and seen at `now`.
    pub fn upsert_runner(
        &mut self,
        now: Instant,
        id: RunnerId,
        name: String,
        gpus: Vec<GpuInfo>,
        offers: Vec<ModelOffer>,
    ) {
        let offers: BTreeMap<String, ModelOffer> =
            offers.into_iter().map(|o| (o.name.clone(), o)).collect();
        let runner = self.runners.entry(id.clone()).or_insert_with(|| Runner {
            id: id.clone(),
            name: String::new(),
            state: RunnerState::Connected,
            last_seen: now,
            disconnected_at: None,
            gpus: Vec::new(),
            offers: BTreeMap::new(),
            instances: BTreeSet::new(),
            stopping: BTreeSet::new(),
        });
        runner.name = name;
        runner.state = RunnerState::Connected;
        runner.last_seen = now;
        runner.disconnected_at = None;
        let old_offers = std::mem::replace(&mut runner.offers, offers);
        for model in old_offers.keys() {
            if let Some(index) = self.models.get_mut(model) {
                index.runners.remove(&id);
            }
        }
        let models: Vec<String> = self.runners[&id].offers.keys().cloned().collect();
        for model in models {
            self.models
                .entry(model)
                .or_default()
                .runners
                .insert(id.clone());
        }
        self.set_gpus(&id, gpus);
        self.prune_models();
    }

    /// Replaces a runner's reported GPUs and rebooks its instances on them.
    pub(crate) fn set_gpus(&mut self, id: &RunnerId, gpus: Vec<GpuInfo>) {
        let Some(runner) = self.runners.get_mut(id) else {
            return;
        };
        runner.gpus = gpus
            .into_iter()
            .map(|info| Gpu {
                info,
                booked: 0,
                idle: 0,
            })
            .collect();
        for instance in &runner.instances {
            if let Some(inst) = self.instances.get(instance) {
                account(&mut runner.gpus, inst, true);
            }
        }
    }

    /// Marks a runner stale (heartbeats stopped; nothing new is placed on it).
    pub fn mark_stale(&mut self, id: &RunnerId) {
        if let Some(runner) = self.runners.get_mut(id) {
            if runner.state == RunnerState::Connected {
                runner.state = RunnerState::Stale;
            }
        }
    }

    /// Marks a runner disconnected at `now` (its instances stay booked, not granted).
    pub fn mark_disconnected(&mut self, now: Instant, id: &RunnerId) {
        if let Some(runner) = self.runners.get_mut(id) {
            runner.state = RunnerState::Disconnected;
            runner.disconnected_at = Some(now);
        }
    }

    /// Removes a runner and its instances; returns the removed instances.
    pub fn remove_runner(&mut self, id: &RunnerId) -> Vec<Instance> {
        let Some(runner) = self.runners.get(id) else {
            return Vec::new();
        };
        let ids: Vec<InstanceId> = runner.instances.iter().cloned().collect();
        let removed = ids.iter().filter_map(|i| self.remove_instance(i)).collect();
        if let Some(runner) = self.runners.remove(id) {
            for model in runner.offers.keys() {
                if let Some(index) = self.models.get_mut(model) {
                    index.runners.remove(id);
                }
            }
        }
        self.prune_models();
        removed
    }

    /// Adds an instance on `runner` and books its share on each of its GPUs. Its
    /// memory and slots come from the runner's offer of the model (an instance of a
    /// model the runner does not offer books nothing and has one slot). It starts
    /// idle, last used at `now`. Returns false (and adds nothing) when the runner is
    /// unknown or the instance already exists.
    pub fn add_instance(
        &mut self,
        now: Instant,
        runner: &RunnerId,
        status: &InstanceStatus,
    ) -> bool {
        if self.instances.contains_key(&status.instance) {
            return false;
        }
        let Some(r) = self.runners.get_mut(runner) else {
            return false;
        };
        let (memory, slots) = r
            .offers
            .get(&status.model)
            .map_or((0, 1), |o| (o.memory_bytes, o.parallel.max(1)));
        let share = share_bytes(memory, status.gpus.len());
        r.instances.insert(status.instance.clone());
        self.models
            .entry(status.model.clone())
            .or_default()
            .instances
            .insert(status.instance.clone());
        let inst = Instance {
            id: status.instance.clone(),
            runner: runner.clone(),
            model: status.model.clone(),
            gpus: status.gpus.clone(),
            share_bytes: share,
            state: status.state,
            active: 0,
            slots,
            last_used: now,
        };
        account(&mut r.gpus, &inst, true);
        self.instances.insert(status.instance.clone(), inst);
        true
    }

    /// Removes an instance and unbooks its memory.
    pub fn remove_instance(&mut self, id: &InstanceId) -> Option<Instance> {
        let inst = self.instances.remove(id)?;
        if let Some(runner) = self.runners.get_mut(&inst.runner) {
            runner.instances.remove(id);
            account(&mut runner.gpus, &inst, false);
        }
        if let Some(index) = self.models.get_mut(&inst.model) {
            index.instances.remove(id);
        }
        self.prune_models();
        Some(inst)
    }

    /// Sets an instance's state (Ready, Loading or Restarting; use
    /// [`remove_instance`](Self::remove_instance) for Failed and Stopped).
    pub fn set_state(&mut self, id: &InstanceId, state: InstanceState) {
        self.update(id, |inst| inst.state = state);
    }

    /// Takes one of an instance's slots for a request, at `now`.
    pub fn take_slot(&mut self, now: Instant, id: &InstanceId) {
        self.update(id, |inst| {
            inst.active += 1;
            inst.last_used = now;
        });
    }

    /// Gives back a slot taken by a request, at `now`.
    pub fn free_slot(&mut self, now: Instant, id: &InstanceId) {
        self.update(id, |inst| {
            inst.active = inst.active.saturating_sub(1);
            inst.last_used = now;
        });
    }

    /// Marks an instance as used at `now` (it just became ready).
    pub(crate) fn touch(&mut self, now: Instant, id: &InstanceId) {
        self.update(id, |inst| inst.last_used = now);
    }

    /// Changes an instance, keeping its GPUs' idle sums right.
    fn update(&mut self, id: &InstanceId, change: impl FnOnce(&mut Instance)) {
        let Some(inst) = self.instances.get_mut(id) else {
            return;
        };
        let runner = self.runners.get_mut(&inst.runner);
        let was_idle = inst.is_idle();
        change(inst);
        if let Some(runner) = runner {
            if was_idle != inst.is_idle() {
                for index in &inst.gpus {
                    if let Some(gpu) = runner.gpus.iter_mut().find(|g| g.info.index == *index) {
                        if was_idle {
                            gpu.idle = gpu.idle.saturating_sub(inst.share_bytes);
                        } else {
                            gpu.idle += inst.share_bytes;
                        }
                    }
                }
            }
        }
    }

    /// All runners, by id.
    pub fn runners(&self) -> impl Iterator<Item = &Runner> {
        self.runners.values()
    }

    /// One runner.
    pub fn runner(&self, id: &RunnerId) -> Option<&Runner> {
        self.runners.get(id)
    }

    /// All instances, by id.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    /// One instance.
    pub fn instance(&self, id: &InstanceId) -> Option<&Instance> {
        self.instances.get(id)
    }

    /// The instances of `model`, by id.
    pub fn instances_of<'a>(&'a self, model: &str) -> impl Iterator<Item = &'a Instance> + 'a {
        self.models
            .get(model)
            .into_iter()
            .flat_map(|index| index.instances.iter())
            .filter_map(|id| self.instances.get(id))
    }

    /// The runners offering `model` in any state, by id.
    pub fn runners_offering<'a>(&'a self, model: &str) -> impl Iterator<Item = &'a Runner> + 'a {
        self.models
            .get(model)
            .into_iter()
            .flat_map(|index| index.runners.iter())
            .filter_map(|id| self.runners.get(id))
    }

    /// Bytes booked on `runner`'s GPU `index` (0 when either is unknown).
    pub fn booked_bytes(&self, runner: &RunnerId, index: u32) -> u64 {
        self.runner(runner)
            .and_then(|r| r.gpu(index))
            .map_or(0, |g| g.booked)
    }

    /// Drops index entries that list nothing.
    fn prune_models(&mut self) {
        self.models
            .retain(|_, index| !index.runners.is_empty() || !index.instances.is_empty());
    }
}
