//! The placement decision: a pure function from a [`Cluster`] snapshot and a model
//! name to what to do for one request of that model.
//!
//! In order:
//!
//! 1. **Refuse** when no runner offers the model ([`model_not_offered`]) or none could
//!    hold one instance even completely empty ([`model_too_large`]).
//! 2. **Use** a Ready instance with a free slot on a connected or stale runner: the
//!    least active, ties to the most recently used (warm instances first).
//! 3. **Wait** while an instance of the model is loading or restarting.
//! 4. When every instance is busy: **scale out** with one more instance if the
//!    model is under `max_instances_per_model` and one fits into unbooked memory
//!    without evicting anything; otherwise **Wait**.
//! 5. No usable instance: **Start** a new one on a connected (not stale) runner that
//!    offers the model, in tiers: one GPU without eviction (the GPU with the most
//!    unbooked memory), one GPU evicting idle instances, tensor parallel without
//!    eviction, tensor parallel with eviction. If nothing fits now, **Wait**.
//!
//! [`model_not_offered`]: crate::SchedError::ModelNotOffered
//! [`model_too_large`]: crate::SchedError::ModelTooLarge

use crate::scheduler::cluster::{share_bytes, Cluster, Gpu, Instance, Runner, RunnerState};
use crate::scheduler::format;
use crate::types::{InstanceId, InstanceState, ModelOffer, RunnerId};
use crate::SchedError;

/// What [`place`] decided for one request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Placement {
    /// Grant the request a slot of this Ready instance.
    Use {
        /// The instance.
        instance: InstanceId,
    },
    /// Start a new instance: stop `evict` first (idle instances on the same runner),
    /// then start the model on `gpus` of `runner`.
    Start {
        /// Where.
        runner: RunnerId,
        /// GPU indexes; several = tensor parallel.
        gpus: Vec<u32>,
        /// Idle instances to stop first, least recently used first.
        evict: Vec<InstanceId>,
        /// Why here, with the bytes needed and unbooked.
        reason: String,
    },
    /// Nothing to do now; the request stays queued.
    Wait {
        /// What it waits for.
        reason: String,
    },
    /// The request can never be served as the cluster is.
    Refuse {
        /// Why.
        error: SchedError,
    },
}

/// What kind of decision [`place`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaceMode {
    /// For a queued request: use, wait, scale out or start (evicting if needed).
    Serve,
    /// For the prewarm minimum: always a new instance, never evicting.
    Prewarm,
}

/// Knobs of [`place`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaceOptions {
    /// The most instances of one model (counted over all runners).
    pub max_instances_per_model: u32,
    /// What kind of decision.
    pub mode: PlaceMode,
}

impl Default for PlaceOptions {
    fn default() -> Self {
        Self {
            max_instances_per_model: 4,
            mode: PlaceMode::Serve,
        }
    }
}

/// Decides what to do for one request of `model`. Pure: reads `cluster`, changes
/// nothing, and returns the same answer for the same snapshot.
pub fn place(cluster: &Cluster, model: &str, opts: &PlaceOptions) -> Placement {
    if let Err(error) = admit(cluster, model) {
        return Placement::Refuse { error };
    }
    if opts.mode == PlaceMode::Prewarm {
        return match new_instance(cluster, model, false) {
            Ok(start) => start,
            Err(reason) => Placement::Wait { reason },
        };
    }

    let mut best: Option<&Instance> = None;
    let mut pending: Option<&Instance> = None;
    let mut busy = 0u32;
    let mut count = 0u32;
    for inst in cluster.instances_of(model) {
        count += 1;
        let Some(runner) = cluster.runner(&inst.runner) else {
            continue;
        };
        if runner.state == RunnerState::Disconnected {
            continue;
        }
        match inst.state {
            InstanceState::Ready if inst.active < inst.slots => {
                let better = best.is_none_or(|b| {
                    (inst.active, std::cmp::Reverse(inst.last_used))
                        < (b.active, std::cmp::Reverse(b.last_used))
                });
                if better {
                    best = Some(inst);
                }
            }
            InstanceState::Ready => busy += 1,
            InstanceState::Loading | InstanceState::Restarting => {
                pending = pending.or(Some(inst));
            }
            _ => {}
        }
    }
    if let Some(inst) = best {
        return Placement::Use {
            instance: inst.id.clone(),
        };
    }
    if let Some(inst) = pending {
        let verb = if inst.state == InstanceState::Restarting {
            "restart"
        } else {
            "load"
        };
        return Placement::Wait {
            reason: format!(
                "waiting for instance {} of {model} to {verb} on {} {}",
                inst.id,
                inst.runner,
                format::gpus(&inst.gpus)
            ),
        };
    }
    if count >= opts.max_instances_per_model {
        return Placement::Wait {
            reason: format!(
                "{model} has {count} instances, the most allowed (max_instances_per_model {}), \
                 and none has a free slot ({busy} busy)",
                opts.max_instances_per_model
            ),
        };
    }
    if busy > 0 {
        return match new_instance(cluster, model, false) {
            Ok(Placement::Start {
                runner,
                gpus,
                evict,
                reason,
            }) => Placement::Start {
                runner,
                gpus,
                evict,
                reason: format!("scale out ({busy} busy instances): {reason}"),
            },
            Ok(other) => other,
            Err(why) => Placement::Wait {
                reason: format!(
                    "all {busy} instances of {model} are busy; no room for another without \
                     eviction: {why}"
                ),
            },
        };
    }
    match new_instance(cluster, model, true) {
        Ok(start) => start,
        Err(reason) => Placement::Wait { reason },
    }
}

/// Checks that some runner offers `model` and could hold one instance when empty.
pub fn admit(cluster: &Cluster, model: &str) -> Result<(), SchedError> {
    let mut needed = u64::MAX;
    let mut largest = 0u64;
    let mut any = false;
    for runner in cluster.runners_offering(model) {
        let Some(offer) = runner.offers.get(model) else {
            continue;
        };
        any = true;
        if fits_empty(runner, offer) {
            return Ok(());
        }
        needed = needed.min(offer.memory_bytes);
        largest = largest.max(capacity(runner, offer));
    }
    if !any {
        return Err(SchedError::ModelNotOffered {
            model: model.to_owned(),
        });
    }
    Err(SchedError::ModelTooLarge {
        model: model.to_owned(),
        needed_bytes: needed,
        largest_bytes: largest,
    })
}

/// GPU counts one instance may span on `runner`: 1, then 2, 4, 8 ... up to the
/// offer's `max_gpus` and the runner's GPU count.
fn spans(runner: &Runner, offer: &ModelOffer) -> impl Iterator<Item = usize> {
    let limit = (offer.max_gpus.max(1) as usize).min(runner.gpus.len().max(1));
    std::iter::successors(Some(1usize), |k| k.checked_mul(2)).take_while(move |k| *k <= limit)
}

fn fits_empty(runner: &Runner, offer: &ModelOffer) -> bool {
    spans(runner, offer).any(|k| {
        let need = share_bytes(offer.memory_bytes, k);
        runner
            .gpus
            .iter()
            .filter(|g| g.info.total_bytes >= need)
            .count()
            >= k
    })
}

/// The largest instance `runner` could hold when empty, split as `offer` allows.
fn capacity(runner: &Runner, offer: &ModelOffer) -> u64 {
    let mut totals: Vec<u64> = runner.gpus.iter().map(|g| g.info.total_bytes).collect();
    totals.sort_unstable_by(|a, b| b.cmp(a));
    spans(runner, offer)
        .filter_map(|k| totals.get(k - 1).map(|t| t.saturating_mul(k as u64)))
        .max()
        .unwrap_or(0)
}

/// A candidate GPU: where, how much is unbooked, and what would be evicted.
#[derive(Debug, Clone)]
struct Slot<'a> {
    gpu: u32,
    unbooked: u64,
    evict: Vec<&'a Instance>,
}

/// The least recently used idle instances on `runner`'s `gpu` that free at least
/// `need - unbooked` there, or `None` when all of them together are not enough.
fn eviction<'a>(
    cluster: &'a Cluster,
    runner: &Runner,
    gpu: &Gpu,
    need: u64,
) -> Option<Vec<&'a Instance>> {
    let unbooked = gpu.unbooked();
    if unbooked.saturating_add(gpu.idle) < need {
        return None;
    }
    let gpu = gpu.info.index;
    let mut idle: Vec<&Instance> = runner
        .instances
        .iter()
        .filter_map(|id| cluster.instances.get(id))
        .filter(|i| i.is_idle() && i.gpus.contains(&gpu))
        .collect();
    idle.sort_by(|a, b| a.last_used.cmp(&b.last_used).then_with(|| a.id.cmp(&b.id)));
    let mut freed = 0u64;
    let mut evict = Vec::new();
    for inst in idle {
        if unbooked.saturating_add(freed) >= need {
            break;
        }
        freed += inst.share_bytes;
        evict.push(inst);
    }
    (unbooked.saturating_add(freed) >= need).then_some(evict)
}

/// Finds where a new instance of `model` goes, or says why it cannot go anywhere now.
fn new_instance(cluster: &Cluster, model: &str, allow_evict: bool) -> Result<Placement, String> {
    let eligible: Vec<(&Runner, &ModelOffer)> = cluster
        .runners_offering(model)
        .filter(|r| r.state == RunnerState::Connected)
        .filter_map(|r| r.offers.get(model).map(|o| (r, o)))
        .collect();
    if eligible.is_empty() {
        return Err(format!(
            "no connected runner offering {model} is fresh (all are stale or disconnected)"
        ));
    }
    let gpu_count: usize = eligible.iter().map(|(r, _)| r.gpus.len()).sum();

    // Tier 1: one GPU, no eviction, most unbooked wins.
    let mut best: Option<(&Runner, &ModelOffer, u32, u64)> = None;
    let mut most: Option<(&Runner, u32, u64)> = None;
    for (runner, offer) in &eligible {
        for g in &runner.gpus {
            let unbooked = g.unbooked();
            if most.is_none_or(|(_, _, m)| unbooked > m) {
                most = Some((runner, g.info.index, unbooked));
            }
            if unbooked >= offer.memory_bytes && best.is_none_or(|(_, _, _, b)| unbooked > b) {
                best = Some((runner, offer, g.info.index, unbooked));
            }
        }
    }
    if let Some((runner, offer, gpu, unbooked)) = best {
        return Ok(Placement::Start {
            runner: runner.id.clone(),
            gpus: vec![gpu],
            evict: Vec::new(),
            reason: format!(
                "placed {model} on {} gpu {gpu}: needs {}, {} unbooked (most unbooked of {gpu_count} \
                 eligible gpus)",
                runner.id,
                format::bytes(offer.memory_bytes),
                format::bytes(unbooked),
            ),
        });
    }

    // Tier 2: one GPU, evicting the fewest idle instances (then the least recently used).
    if allow_evict {
        let mut best: Option<(&Runner, &ModelOffer, Slot)> = None;
        for (runner, offer) in &eligible {
            for g in &runner.gpus {
                if g.info.total_bytes < offer.memory_bytes {
                    continue;
                }
                let unbooked = g.unbooked();
                let Some(evict) = eviction(cluster, runner, g, offer.memory_bytes) else {
                    continue;
                };
                let slot = Slot {
                    gpu: g.info.index,
                    unbooked,
                    evict,
                };
                if best
                    .as_ref()
                    .is_none_or(|(_, _, b)| better_eviction(&slot, b))
                {
                    best = Some((runner, offer, slot));
                }
            }
        }
        if let Some((runner, offer, slot)) = best {
            return Ok(evicting_start(model, runner, offer, vec![slot]));
        }
    }

    // Tiers 3 and 4: tensor parallel over k GPUs of one runner, smallest k first.
    for evict in [false, true] {
        if evict && !allow_evict {
            break;
        }
        let mut best: Option<(usize, &Runner, &ModelOffer, Vec<Slot>)> = None;
        for (runner, offer) in &eligible {
            for k in spans(runner, offer).skip(1) {
                if best.as_ref().is_some_and(|(bk, ..)| *bk < k) {
                    break;
                }
                let Some(slots) = tensor_parallel(cluster, runner, offer, k, evict) else {
                    continue;
                };
                if best
                    .as_ref()
                    .is_none_or(|(bk, _, _, b)| k < *bk || better_group(&slots, b))
                {
                    best = Some((k, runner, offer, slots));
                }
                break;
            }
        }
        if let Some((_, runner, offer, slots)) = best {
            return Ok(evicting_start(model, runner, offer, slots));
        }
    }

    let need = eligible
        .iter()
        .map(|(_, o)| o.memory_bytes)
        .min()
        .unwrap_or(0);
    let (runner, gpu, unbooked) =
        most.map_or((String::new(), 0, 0), |(r, g, u)| (r.id.0.clone(), g, u));
    let ways = eligible
        .iter()
        .filter_map(|(r, o)| spans(r, o).last())
        .max()
        .unwrap_or(1);
    let split = if ways > 1 {
        format!(
            " on one gpu or split up to {ways} ways ({} per gpu)",
            format::bytes(share_bytes(need, ways))
        )
    } else {
        String::new()
    };
    Err(format!(
        "{model} needs {}{split} and no eligible gpus have room{}: the most unbooked is {} on \
         {runner} gpu {gpu} (of {gpu_count} eligible gpus)",
        format::bytes(need),
        if allow_evict {
            " even after evicting idle instances"
        } else {
            " without eviction"
        },
        format::bytes(unbooked),
    ))
}

/// Fewer evictions, then the older newest-evicted instance, then more unbooked.
fn better_eviction(a: &Slot, b: &Slot) -> bool {
    let newest = |s: &Slot| s.evict.iter().map(|i| i.last_used).max();
    (a.evict.len(), newest(a), std::cmp::Reverse(a.unbooked))
        < (b.evict.len(), newest(b), std::cmp::Reverse(b.unbooked))
}

/// Fewer evictions, then more unbooked on the tightest GPU.
fn better_group(a: &[Slot], b: &[Slot]) -> bool {
    let key = |s: &[Slot]| {
        let evicted: usize = s.iter().map(|x| x.evict.len()).sum();
        let tightest = s.iter().map(|x| x.unbooked).min().unwrap_or(0);
        (evicted, std::cmp::Reverse(tightest))
    };
    key(a) < key(b)
}

/// The `k` GPUs of `runner` that hold `ceil(mem / k)` each, with the fewest
/// evictions (none when `evict` is false), or `None`.
fn tensor_parallel<'a>(
    cluster: &'a Cluster,
    runner: &Runner,
    offer: &ModelOffer,
    k: usize,
    evict: bool,
) -> Option<Vec<Slot<'a>>> {
    let need = share_bytes(offer.memory_bytes, k);
    let mut slots: Vec<Slot> = runner
        .gpus
        .iter()
        .filter(|g| g.info.total_bytes >= need)
        .filter_map(|g| {
            let unbooked = g.unbooked();
            if unbooked >= need {
                return Some(Slot {
                    gpu: g.info.index,
                    unbooked,
                    evict: Vec::new(),
                });
            }
            if !evict {
                return None;
            }
            eviction(cluster, runner, g, need).map(|evict| Slot {
                gpu: g.info.index,
                unbooked,
                evict,
            })
        })
        .collect();
    if slots.len() < k {
        return None;
    }
    slots.sort_by_key(|s| (s.evict.len(), std::cmp::Reverse(s.unbooked), s.gpu));
    slots.truncate(k);
    slots.sort_by_key(|s| s.gpu);
    Some(slots)
}

/// A Start over `slots`, evicting the union of their eviction sets minus any
/// instance the others' evictions make unnecessary.
fn evicting_start(model: &str, runner: &Runner, offer: &ModelOffer, slots: Vec<Slot>) -> Placement {
    let need = share_bytes(offer.memory_bytes, slots.len());
    let gpus: Vec<u32> = slots.iter().map(|s| s.gpu).collect();
    let mut evict: Vec<&Instance> = Vec::new();
    for s in &slots {
        for inst in &s.evict {
            if !evict.iter().any(|e| e.id == inst.id) {
                evict.push(inst);
            }
        }
    }
    // Drop the most recently used first while every GPU still fits without it.
    evict.sort_by_key(|i| std::cmp::Reverse(i.last_used));
    let mut i = 0;
    while i < evict.len() {
        let without: Vec<&Instance> = evict
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, e)| *e)
            .collect();
        let fits = slots.iter().all(|s| {
            let freed: u64 = without
                .iter()
                .filter(|e| e.gpus.contains(&s.gpu))
                .map(|e| e.share_bytes)
                .sum();
            s.unbooked.saturating_add(freed) >= need
        });
        if fits {
            evict.remove(i);
        } else {
            i += 1;
        }
    }
    evict.reverse();
    let unbooked: u64 = slots.iter().map(|s| s.unbooked).min().unwrap_or(0);
    let freed: u64 = slots
        .iter()
        .map(|s| {
            evict
                .iter()
                .filter(|e| e.gpus.contains(&s.gpu))
                .map(|e| e.share_bytes)
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0);
    let mut reason = if slots.len() == 1 {
        format!(
            "placed {model} on {} gpu {}: needs {}, {} unbooked",
            runner.id,
            slots[0].gpu,
            format::bytes(need),
            format::bytes(unbooked),
        )
    } else {
        format!(
            "placed {model} tensor parallel on {} {}: needs {} ({} per gpu), {} unbooked on the \
             tightest gpu",
            runner.id,
            format::gpus(&gpus),
            format::bytes(offer.memory_bytes),
            format::bytes(need),
            format::bytes(unbooked),
        )
    };
    if !evict.is_empty() {
        let names: Vec<String> = evict
            .iter()
            .map(|e| format!("{} of {}", e.id, e.model))
            .collect();
        reason.push_str(&format!(
            "; evicting {} idle instance{} ({}), least recently used first, to free {}",
            evict.len(),
            if evict.len() == 1 { "" } else { "s" },
            names.join(", "),
            format::bytes(freed),
        ));
    }
    Placement::Start {
        runner: runner.id.clone(),
        gpus,
        evict: evict.into_iter().map(|e| e.id.clone()).collect(),
        reason,
    }
}
