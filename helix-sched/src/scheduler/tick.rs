//! One scheduling step: expire deadlines, serve the queue, stop idle instances past
//! keep-alive, and prewarm.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::scheduler::{
    format, place, Action, DecisionKind, Granted, PlaceMode, PlaceOptions, Placement, Scheduler,
    TicketId,
};
use crate::types::{InstanceId, InstanceSpec, InstanceState, InstanceStatus, RunnerId};
use crate::SchedError;

/// A [`Placement::Start`] to carry out.
struct NewInstance {
    runner: RunnerId,
    gpus: Vec<u32>,
    evict: Vec<InstanceId>,
    reason: String,
}

impl Scheduler {
    /// Takes every decision that is due at `now` and returns what the host must do,
    /// in order: rejections decided since the last tick, deadline rejections, grants
    /// and starts for the queue (stops of evicted instances before the start that
    /// needs their memory), keep-alive stops, prewarm starts.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        self.refresh(now);
        let mut actions = std::mem::take(&mut self.pending);
        self.expire(now, &mut actions);
        self.serve(now, &mut actions);
        self.keep_alive(now, &mut actions);
        self.prewarm(now, &mut actions);
        actions
    }

    fn expire(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let due: Vec<TicketId> = self
            .queue
            .iter()
            .filter(|q| q.deadline.is_some_and(|d| d <= now))
            .map(|q| q.ticket)
            .collect();
        for ticket in due {
            let Some(q) = self.queue.remove(ticket) else {
                continue;
            };
            let error = SchedError::QueueTimeout {
                ticket: ticket.0,
                model: q.model.clone(),
                waited_ms: millis(now.saturating_duration_since(q.enqueued_at)),
            };
            self.log.push(
                now,
                DecisionKind::Reject,
                format!("rejected ticket {ticket} of {}: {error}", q.owner),
            );
            actions.push(Action::Reject { ticket, error });
        }
    }

    fn serve(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let opts = PlaceOptions {
            max_instances_per_model: self.cfg.max_instances_per_model,
            mode: PlaceMode::Serve,
        };
        // A model that must wait waits for all its requests this tick, until a start
        // changes the bookings.
        let mut waits: HashMap<String, String> = HashMap::new();
        for ticket in self.queue.order(&self.last_served) {
            let Some(model) = self.queue.get(ticket).map(|q| q.model.clone()) else {
                continue;
            };
            let placement = match waits.get(&model) {
                Some(reason) => Placement::Wait {
                    reason: reason.clone(),
                },
                None => place(&self.cluster, &model, &opts),
            };
            match placement {
                Placement::Use { instance } => self.grant(now, ticket, instance, actions),
                Placement::Start {
                    runner,
                    gpus,
                    evict,
                    reason,
                } => {
                    waits.clear();
                    let plan = NewInstance {
                        runner,
                        gpus,
                        evict,
                        reason,
                    };
                    let id = self.start(now, &model, plan, actions);
                    if let Some(q) = self.queue.get_mut(ticket) {
                        q.waiting_for = format!("instance {id} of {model} to load");
                    }
                }
                Placement::Wait { reason } => {
                    self.note_wait(now, &model, &reason);
                    if let Some(q) = self.queue.get_mut(ticket) {
                        q.waiting_for.clone_from(&reason);
                    }
                    waits.insert(model, reason);
                }
                Placement::Refuse { error } => {
                    self.queue.remove(ticket);
                    self.log.push(
                        now,
                        DecisionKind::Reject,
                        format!("rejected ticket {ticket}: {error}"),
                    );
                    actions.push(Action::Reject { ticket, error });
                }
            }
        }
        let queued: HashSet<&str> = self.queue.iter().map(|q| q.model.as_str()).collect();
        self.logged_waits
            .retain(|key, _| key.starts_with("prewarm ") || queued.contains(key.as_str()));
    }

    fn grant(
        &mut self,
        now: Instant,
        ticket: TicketId,
        instance: InstanceId,
        actions: &mut Vec<Action>,
    ) {
        let Some(q) = self.queue.remove(ticket) else {
            return;
        };
        self.cluster.take_slot(now, &instance);
        let Some(inst) = self.cluster.instance(&instance) else {
            return;
        };
        let runner = inst.runner.clone();
        self.serve_seq += 1;
        self.last_served.insert(q.owner.clone(), self.serve_seq);
        self.log.push(
            now,
            DecisionKind::Grant,
            format!(
                "granted ticket {ticket} ({}, {}) to instance {instance} of {} on {runner} {}: \
                 {}/{} slots busy, waited {}",
                q.owner,
                q.priority.as_str(),
                q.model,
                format::gpus(&inst.gpus),
                inst.active,
                inst.slots,
                format::duration(now.saturating_duration_since(q.enqueued_at)),
            ),
        );
        self.granted.insert(
            ticket,
            Granted {
                owner: q.owner,
                model: q.model,
                runner: runner.clone(),
                instance: instance.clone(),
                at: now,
            },
        );
        actions.push(Action::Grant {
            ticket,
            runner,
            instance,
        });
    }

    /// Stops the evicted instances, books and starts a new one; returns its id.
    fn start(
        &mut self,
        now: Instant,
        model: &str,
        plan: NewInstance,
        actions: &mut Vec<Action>,
    ) -> InstanceId {
        let NewInstance {
            runner,
            gpus,
            evict,
            reason,
        } = plan;
        for id in evict {
            let idle = self
                .cluster
                .instance(&id)
                .map(|i| format::duration(now.saturating_duration_since(i.last_used)))
                .unwrap_or_default();
            let why = format!("evicted (idle {idle}) to make room for {model}");
            self.stop(now, &id, why, actions);
        }
        let instance = (self.new_id)();
        self.cluster.add_instance(
            now,
            &runner,
            &InstanceStatus {
                instance: instance.clone(),
                model: model.to_owned(),
                gpus: gpus.clone(),
                state: InstanceState::Loading,
                message: None,
            },
        );
        self.log.push(
            now,
            DecisionKind::Start,
            format!("started instance {instance}: {reason}"),
        );
        actions.push(Action::StartInstance {
            runner,
            spec: InstanceSpec {
                instance: instance.clone(),
                model: model.to_owned(),
                gpus,
            },
        });
        instance
    }

    /// Unbooks an instance at once and asks its runner to stop it.
    fn stop(&mut self, now: Instant, id: &InstanceId, reason: String, actions: &mut Vec<Action>) {
        let Some(inst) = self.cluster.remove_instance(id) else {
            return;
        };
        self.drop_grants(id);
        if let Some(runner) = self.cluster.runners.get_mut(&inst.runner) {
            runner.stopping.insert(id.clone());
        }
        self.log.push(
            now,
            DecisionKind::Stop,
            format!(
                "stopped instance {id} of {} on {} {}: {reason}; unbooked {} per gpu",
                inst.model,
                inst.runner,
                format::gpus(&inst.gpus),
                format::bytes(inst.share_bytes),
            ),
        );
        actions.push(Action::StopInstance {
            runner: inst.runner,
            instance: id.clone(),
            reason,
        });
    }

    fn keep_alive(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let keep_alive = self.cfg.keep_alive;
        let expired: Vec<(InstanceId, String)> = self
            .cluster
            .instances()
            .filter(|i| i.is_idle() && now.saturating_duration_since(i.last_used) >= keep_alive)
            .filter(|i| {
                self.cluster
                    .runner(&i.runner)
                    .is_some_and(|r| r.state != crate::scheduler::RunnerState::Disconnected)
            })
            .map(|i| (i.id.clone(), i.model.clone()))
            .collect();
        for (id, model) in expired {
            let keep = self.prewarm_target(&model);
            if keep > 0 && self.cluster.instances_of(&model).count() as u32 <= keep {
                continue;
            }
            let idle = self
                .cluster
                .instance(&id)
                .map(|i| now.saturating_duration_since(i.last_used))
                .unwrap_or_default();
            let reason = format!(
                "idle for {} (keep_alive {})",
                format::duration(idle),
                format::duration(keep_alive)
            );
            self.stop(now, &id, reason, actions);
        }
    }

    fn prewarm_target(&self, model: &str) -> u32 {
        self.cfg
            .prewarm
            .iter()
            .filter(|p| p.model == model)
            .map(|p| p.instances.min(self.cfg.max_instances_per_model))
            .max()
            .unwrap_or(0)
    }

    fn prewarm(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let opts = PlaceOptions {
            max_instances_per_model: self.cfg.max_instances_per_model,
            mode: PlaceMode::Prewarm,
        };
        let models: Vec<String> = self.cfg.prewarm.iter().map(|p| p.model.clone()).collect();
        for model in models {
            let want = self.prewarm_target(&model);
            let have = self.cluster.instances_of(&model).count() as u32;
            if have >= want || self.cluster.runners_offering(&model).next().is_none() {
                continue;
            }
            let key = format!("prewarm {model}");
            match place(&self.cluster, &model, &opts) {
                Placement::Start {
                    runner,
                    gpus,
                    evict,
                    reason,
                } => {
                    self.logged_waits.remove(&key);
                    let plan = NewInstance {
                        runner,
                        gpus,
                        evict,
                        reason: format!("prewarm ({} of {want}): {reason}", have + 1),
                    };
                    self.start(now, &model, plan, actions);
                }
                Placement::Wait { reason } => {
                    self.note_wait(now, &key, &format!("prewarm of {model} waits: {reason}"));
                }
                Placement::Refuse { error } => {
                    self.note_wait(
                        now,
                        &key,
                        &format!("prewarm of {model} impossible: {error}"),
                    );
                }
                Placement::Use { .. } => {}
            }
        }
    }
}

pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
