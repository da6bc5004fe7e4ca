//! Runner and instance events: connect and resync, heartbeats, disconnects, instance
//! state reports, and the passage of time (stale runners, forgotten ones).

use std::collections::BTreeSet;
use std::time::Instant;

use crate::scheduler::{format, Action, DecisionKind, RunnerReport, RunnerState, Scheduler};
use crate::types::{InstanceId, InstanceState, InstanceStatus, RunnerId};
use crate::SchedError;

fn is_live(state: InstanceState) -> bool {
    matches!(
        state,
        InstanceState::Loading | InstanceState::Ready | InstanceState::Restarting
    )
}

impl Scheduler {
    /// A runner connected, or reconnected and resyncs: its GPUs and offers replace
    /// what was known, the instances it reports are adopted (booked as they are, even
    /// over a GPU's total), and its known instances it no longer reports are forgotten.
    pub fn runner_connected(&mut self, now: Instant, report: RunnerReport) {
        self.refresh(now);
        let RunnerReport {
            id,
            name,
            gpus,
            offers,
            instances,
        } = report;
        let before = self.cluster.runner(&id).map(|r| r.state);
        let (gpu_count, offer_count) = (gpus.len(), offers.len());
        self.cluster
            .upsert_runner(now, id.clone(), name.clone(), gpus, offers);

        let reported: BTreeSet<&InstanceId> = instances.iter().map(|s| &s.instance).collect();
        let gone: Vec<InstanceId> = self.cluster.runners[&id]
            .instances
            .iter()
            .filter(|i| !reported.contains(i))
            .cloned()
            .collect();
        for instance in gone {
            self.forget_instance(now, &instance, "no longer reported at resync");
        }
        self.clear_stopped(&id, &instances);
        for status in instances.iter() {
            self.apply_status(now, &id, status);
        }
        let verb = match before {
            None => "connected",
            Some(_) => "reconnected and resynced",
        };
        self.log.push(
            now,
            DecisionKind::Runner,
            format!(
                "runner {id} ({name}) {verb}: {gpu_count} gpus, {offer_count} offers, {} instances \
                 reported",
                instances.len()
            ),
        );
    }

    /// A heartbeat: the runner is fresh again, its reported GPUs replace the old ones
    /// and its instances' states are reconciled. A Ready or Restarting instance it no
    /// longer reports is forgotten; a Loading one is kept (its start may still be on
    /// the way). Ignored for unknown or disconnected runners.
    pub fn runner_heartbeat(
        &mut self,
        now: Instant,
        id: &RunnerId,
        gpus: Vec<crate::types::GpuInfo>,
        instances: Vec<InstanceStatus>,
    ) {
        self.refresh(now);
        let Some(runner) = self.cluster.runners.get_mut(id) else {
            return;
        };
        if runner.state == RunnerState::Disconnected {
            return;
        }
        runner.last_seen = now;
        if runner.state == RunnerState::Stale {
            runner.state = RunnerState::Connected;
            self.log.push(
                now,
                DecisionKind::Runner,
                format!("runner {id} is fresh again: heartbeat received"),
            );
        }
        self.cluster.set_gpus(id, gpus);
        let reported: BTreeSet<&InstanceId> = instances.iter().map(|s| &s.instance).collect();
        let gone: Vec<InstanceId> = self.cluster.runners[id]
            .instances
            .iter()
            .filter(|i| !reported.contains(i))
            .filter(|i| {
                self.cluster
                    .instance(i)
                    .is_some_and(|inst| inst.state != InstanceState::Loading)
            })
            .cloned()
            .collect();
        for instance in gone {
            self.forget_instance(now, &instance, "no longer reported in heartbeat");
        }
        self.clear_stopped(id, &instances);
        for status in &instances {
            self.apply_status(now, id, status);
        }
    }

    /// The runner's connection closed: its instances stay booked but are not granted
    /// until it reconnects; after `disconnect_grace` it is forgotten.
    pub fn runner_disconnected(&mut self, now: Instant, id: &RunnerId) {
        self.refresh(now);
        if self.cluster.runner(id).is_none() {
            return;
        }
        self.cluster.mark_disconnected(now, id);
        self.log.push(
            now,
            DecisionKind::Runner,
            format!(
                "runner {id} disconnected: its instances stay booked for {} in case it reconnects",
                format::duration(self.cfg.disconnect_grace)
            ),
        );
    }

    /// One instance's state, as its runner reported it. Ready makes it grantable;
    /// Loading and Restarting keep it booked but not grantable; Failed and Stopped
    /// remove it (Failed also rejects the model's queued requests with
    /// `model_failed`). An unknown live instance is adopted.
    pub fn instance_status(&mut self, now: Instant, runner: &RunnerId, status: InstanceStatus) {
        self.refresh(now);
        if self.cluster.runner(runner).is_some() {
            self.apply_status(now, runner, &status);
        }
    }

    /// Forgets stop tombstones the runner no longer reports as running.
    fn clear_stopped(&mut self, id: &RunnerId, instances: &[InstanceStatus]) {
        if let Some(runner) = self.cluster.runners.get_mut(id) {
            runner.stopping.retain(|i| {
                instances
                    .iter()
                    .any(|s| s.instance == *i && is_live(s.state))
            });
        }
    }

    fn apply_status(&mut self, now: Instant, runner: &RunnerId, status: &InstanceStatus) {
        let Some(r) = self.cluster.runners.get_mut(runner) else {
            return;
        };
        if r.stopping.contains(&status.instance) {
            // Asked to stop and already unbooked: ignore until it is gone.
            if !is_live(status.state) {
                r.stopping.remove(&status.instance);
            }
            return;
        }
        let Some(inst) = self.cluster.instance(&status.instance) else {
            if is_live(status.state) && self.cluster.add_instance(now, runner, status) {
                let inst = &self.cluster.instances[&status.instance];
                self.log.push(
                    now,
                    DecisionKind::Instance,
                    format!(
                        "adopted instance {} of {} on {runner} {} ({}): books {} per gpu",
                        status.instance,
                        status.model,
                        format::gpus(&status.gpus),
                        status.state.as_str(),
                        format::bytes(inst.share_bytes),
                    ),
                );
            }
            return;
        };
        if inst.runner != *runner {
            return;
        }
        let previous = inst.state;
        match status.state {
            InstanceState::Failed => {
                let message = status
                    .message
                    .clone()
                    .unwrap_or_else(|| "no reason given".into());
                if let Some(inst) = self.forget_instance(now, &status.instance, "failed") {
                    self.fail_model(now, runner, &inst.id, &inst.model, &message);
                }
            }
            InstanceState::Stopped => {
                self.forget_instance(now, &status.instance, "stopped");
            }
            state if state != previous => {
                self.cluster.set_state(&status.instance, state);
                if state == InstanceState::Ready {
                    self.cluster.touch(now, &status.instance);
                }
                self.log.push(
                    now,
                    DecisionKind::Instance,
                    format!(
                        "instance {} of {} on {runner} is {}{}",
                        status.instance,
                        status.model,
                        state.as_str(),
                        status
                            .message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ),
                );
            }
            _ => {}
        }
    }

    /// Removes an instance, its booking and its grants; logs why.
    pub(crate) fn forget_instance(
        &mut self,
        now: Instant,
        id: &InstanceId,
        why: &str,
    ) -> Option<crate::scheduler::Instance> {
        let inst = self.cluster.remove_instance(id)?;
        self.drop_grants(id);
        self.log.push(
            now,
            DecisionKind::Instance,
            format!(
                "instance {id} of {} on {} {} {why}: unbooked {} per gpu",
                inst.model,
                inst.runner,
                format::gpus(&inst.gpus),
                format::bytes(inst.share_bytes),
            ),
        );
        Some(inst)
    }

    /// Rejects the queued requests of a model whose instance just failed, so they do
    /// not wait for a start that keeps failing.
    fn fail_model(
        &mut self,
        now: Instant,
        runner: &RunnerId,
        instance: &InstanceId,
        model: &str,
        message: &str,
    ) {
        let tickets: Vec<_> = self
            .queue
            .iter()
            .filter(|q| q.model == model)
            .map(|q| q.ticket)
            .collect();
        for ticket in tickets {
            self.queue.remove(ticket);
            let error = SchedError::ModelFailed {
                model: model.to_owned(),
                runner: runner.0.clone(),
                instance: instance.0.clone(),
                message: message.to_owned(),
            };
            self.log.push(
                now,
                DecisionKind::Reject,
                format!("rejected ticket {ticket}: {error}"),
            );
            self.pending.push(Action::Reject { ticket, error });
        }
    }

    /// Applies the passage of time: connected runners silent for `heartbeat_timeout`
    /// become stale; disconnected runners past `disconnect_grace` are forgotten, and
    /// queued requests for models nobody else offers are rejected.
    pub(crate) fn refresh(&mut self, now: Instant) {
        let mut stale = Vec::new();
        let mut expired = Vec::new();
        for runner in self.cluster.runners() {
            match runner.state {
                RunnerState::Connected
                    if now.saturating_duration_since(runner.last_seen)
                        >= self.cfg.heartbeat_timeout =>
                {
                    stale.push(runner.id.clone());
                }
                RunnerState::Disconnected
                    if runner.disconnected_at.is_some_and(|at| {
                        now.saturating_duration_since(at) >= self.cfg.disconnect_grace
                    }) =>
                {
                    expired.push(runner.id.clone());
                }
                _ => {}
            }
        }
        for id in stale {
            self.cluster.mark_stale(&id);
            self.log.push(
                now,
                DecisionKind::Runner,
                format!(
                    "runner {id} is stale: no heartbeat for {}; nothing new is placed on it, its \
                     instances keep serving",
                    format::duration(self.cfg.heartbeat_timeout)
                ),
            );
        }
        for id in expired {
            self.forget_runner(now, &id);
        }
    }

    fn forget_runner(&mut self, now: Instant, id: &RunnerId) {
        let models: Vec<String> = self
            .cluster
            .runner(id)
            .map(|r| r.offers.keys().cloned().collect())
            .unwrap_or_default();
        for inst in self.cluster.remove_runner(id) {
            self.drop_grants(&inst.id);
        }
        self.log.push(
            now,
            DecisionKind::Runner,
            format!(
                "runner {id} forgotten: disconnected for {} (disconnect_grace); its instances are \
                 unbooked",
                format::duration(self.cfg.disconnect_grace)
            ),
        );
        for model in models {
            if self.cluster.runners_offering(&model).next().is_some() {
                continue;
            }
            let tickets: Vec<_> = self
                .queue
                .iter()
                .filter(|q| q.model == model)
                .map(|q| q.ticket)
                .collect();
            for ticket in tickets {
                self.queue.remove(ticket);
                let error = SchedError::ModelNotOffered {
                    model: model.clone(),
                };
                self.log.push(
                    now,
                    DecisionKind::Reject,
                    format!("rejected ticket {ticket}: {error} (runner {id} is gone)"),
                );
                self.pending.push(Action::Reject { ticket, error });
            }
        }
    }
}
