//! `Scheduler`: helix-sched's scheduler in this process (`EmbeddedScheduler`): dicts in,
//! dicts out, time in seconds since it was made (`at=None`: the real clock).

use crate::to_python;
use helix_sched::{EmbeddedConfig, EmbeddedRequest, EmbeddedScheduler, RunnerId, TicketId};
use pyo3::prelude::*;

/// The GPU scheduler, embedded. No I/O: the caller carries out the actions `tick`
/// returns and reports back what its runners say.
#[pyclass(module = "helix._native", frozen)]
#[derive(Debug)]
pub struct Scheduler {
    inner: EmbeddedScheduler,
}

fn sched_err(e: helix_sched::SchedError) -> PyErr {
    crate::errors::to_py(helix_client::Error {
        status: Some(e.http_status()),
        code: e.code().to_owned(),
        message: e.to_string(),
    })
}

fn from_py<T: serde::de::DeserializeOwned>(v: &Bound<'_, PyAny>) -> PyResult<T> {
    pythonize::depythonize(v).map_err(crate::invalid)
}

#[pymethods]
impl Scheduler {
    #[new]
    #[pyo3(signature = (config = None))]
    fn new(config: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let cfg: EmbeddedConfig = match config {
            Some(c) => from_py(c)?,
            None => EmbeddedConfig::default(),
        };
        Ok(Scheduler {
            inner: EmbeddedScheduler::new(cfg).map_err(sched_err)?,
        })
    }

    /// Seconds since the scheduler was made (the latest time it has seen).
    fn now(&self) -> f64 {
        self.inner.now()
    }

    /// A runner connected: `{"id", "name", "gpus", "offers", "instances"}`.
    #[pyo3(signature = (report, *, at = None))]
    fn runner_connected(&self, report: &Bound<'_, PyAny>, at: Option<f64>) -> PyResult<()> {
        self.inner
            .runner_connected(from_py(report)?, at)
            .map_err(sched_err)
    }

    #[pyo3(signature = (runner, gpus, instances, *, at = None))]
    fn runner_heartbeat(
        &self,
        runner: &str,
        gpus: &Bound<'_, PyAny>,
        instances: &Bound<'_, PyAny>,
        at: Option<f64>,
    ) -> PyResult<()> {
        self.inner
            .runner_heartbeat(
                &RunnerId::from(runner),
                from_py(gpus)?,
                from_py(instances)?,
                at,
            )
            .map_err(sched_err)
    }

    #[pyo3(signature = (runner, *, at = None))]
    fn runner_disconnected(&self, runner: &str, at: Option<f64>) -> PyResult<()> {
        self.inner
            .runner_disconnected(&RunnerId::from(runner), at)
            .map_err(sched_err)
    }

    /// An instance changed state: `{"instance", "model", "gpus", "state", "message"}`.
    #[pyo3(signature = (runner, status, *, at = None))]
    fn instance_status(
        &self,
        runner: &str,
        status: &Bound<'_, PyAny>,
        at: Option<f64>,
    ) -> PyResult<()> {
        self.inner
            .instance_status(&RunnerId::from(runner), from_py(status)?, at)
            .map_err(sched_err)
    }

    /// Queues a request; returns its ticket number.
    #[pyo3(signature = (owner, model, *, priority = "normal".to_owned(), deadline_secs = None, at = None))]
    fn enqueue(
        &self,
        owner: String,
        model: String,
        priority: String,
        deadline_secs: Option<f64>,
        at: Option<f64>,
    ) -> PyResult<u64> {
        let priority = serde_json::from_value(serde_json::Value::String(priority))
            .map_err(|_| crate::invalid("priority must be background, normal or interactive"))?;
        let req = EmbeddedRequest {
            owner,
            model,
            priority,
            deadline_secs,
        };
        Ok(self.inner.enqueue(req, at).map_err(sched_err)?.0)
    }

    #[pyo3(signature = (ticket, *, at = None))]
    fn cancel(&self, ticket: u64, at: Option<f64>) -> PyResult<bool> {
        self.inner.cancel(TicketId(ticket), at).map_err(sched_err)
    }

    #[pyo3(signature = (ticket, *, at = None))]
    fn release(&self, ticket: u64, at: Option<f64>) -> PyResult<()> {
        self.inner.release(TicketId(ticket), at).map_err(sched_err)
    }

    /// Decides: a list of actions (`{"type": "start_instance"|"stop_instance"|"grant"|
    /// "reject", ...}`) to carry out in order.
    #[pyo3(signature = (*, at = None))]
    fn tick(&self, py: Python<'_>, at: Option<f64>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.inner.tick(at).map_err(sched_err)?)
    }

    /// Runners, GPUs, instances, the queue and recent decisions.
    #[pyo3(signature = (*, at = None))]
    fn view(&self, py: Python<'_>, at: Option<f64>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.inner.view(at).map_err(sched_err)?)
    }
}
