//! `Scheduler`: helix-sched's scheduler in this process (`EmbeddedScheduler`): JSON in,
//! JSON out, time in seconds since it was made (`at` left out: the real clock).

use crate::{from_json, json};
use helix_sched::{EmbeddedRequest, EmbeddedScheduler, RunnerId, TicketId};
use napi::Result;
use napi_derive::napi;
use serde_json::Value;

fn sched_err(e: helix_sched::SchedError) -> napi::Error {
    crate::to_js(helix_client::Error {
        status: Some(e.http_status()),
        code: e.code().to_owned(),
        message: e.to_string(),
    })
}

/// The GPU scheduler, embedded. No I/O: the caller carries out the actions `tick`
/// returns and reports back what its runners say.
#[napi]
#[derive(Debug)]
pub struct Scheduler {
    inner: EmbeddedScheduler,
}

#[napi]
impl Scheduler {
    /// `config`: keep_alive_secs, queue_capacity, per_owner_queue_capacity,
    /// max_instances_per_model, heartbeat_timeout_secs, disconnect_grace_secs, prewarm,
    /// decision_log (all optional).
    #[napi(constructor)]
    pub fn new(config: Option<Value>) -> Result<Self> {
        let cfg = from_json("config", config.unwrap_or_else(|| serde_json::json!({})))?;
        Ok(Scheduler {
            inner: EmbeddedScheduler::new(cfg).map_err(sched_err)?,
        })
    }

    /// Seconds since the scheduler was made (the latest time it has seen).
    #[napi]
    pub fn now(&self) -> f64 {
        self.inner.now()
    }

    /// A runner connected: `{id, name, gpus, offers, instances}`.
    #[napi]
    pub fn runner_connected(&self, report: Value, at: Option<f64>) -> Result<()> {
        self.inner
            .runner_connected(from_json("report", report)?, at)
            .map_err(sched_err)
    }

    #[napi]
    pub fn runner_heartbeat(
        &self,
        runner: String,
        gpus: Value,
        instances: Value,
        at: Option<f64>,
    ) -> Result<()> {
        self.inner
            .runner_heartbeat(
                &RunnerId::from(runner.as_str()),
                from_json("gpus", gpus)?,
                from_json("instances", instances)?,
                at,
            )
            .map_err(sched_err)
    }

    #[napi]
    pub fn runner_disconnected(&self, runner: String, at: Option<f64>) -> Result<()> {
        self.inner
            .runner_disconnected(&RunnerId::from(runner.as_str()), at)
            .map_err(sched_err)
    }

    /// An instance changed state: `{instance, model, gpus, state, message}`.
    #[napi]
    pub fn instance_status(&self, runner: String, status: Value, at: Option<f64>) -> Result<()> {
        self.inner
            .instance_status(
                &RunnerId::from(runner.as_str()),
                from_json("status", status)?,
                at,
            )
            .map_err(sched_err)
    }

    /// Queues a request (`{owner, model, priority?, deadline_secs?}`); its ticket number.
    #[napi]
    pub fn enqueue(&self, request: Value, at: Option<f64>) -> Result<i64> {
        let req: EmbeddedRequest = from_json("request", request)?;
        let t = self.inner.enqueue(req, at).map_err(sched_err)?;
        Ok(t.0 as i64)
    }

    #[napi]
    pub fn cancel(&self, ticket: i64, at: Option<f64>) -> Result<bool> {
        self.inner
            .cancel(TicketId(ticket as u64), at)
            .map_err(sched_err)
    }

    #[napi]
    pub fn release(&self, ticket: i64, at: Option<f64>) -> Result<()> {
        self.inner
            .release(TicketId(ticket as u64), at)
            .map_err(sched_err)
    }

    /// Decides: actions (`{type: "start_instance"|"stop_instance"|"grant"|"reject", ...}`)
    /// to carry out in order.
    #[napi]
    pub fn tick(&self, at: Option<f64>) -> Result<Value> {
        json(self.inner.tick(at).map_err(sched_err)?)
    }

    /// Runners, GPUs, instances, the queue and recent decisions.
    #[napi]
    pub fn view(&self, at: Option<f64>) -> Result<Value> {
        json(self.inner.view(at).map_err(sched_err)?)
    }
}
