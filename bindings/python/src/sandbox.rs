//! `Sandbox`, `ExecStream` and `LogStream`: a sandbox (on a server or run by this
//! process), a command's output and the workspace's output as they come.

use crate::op::Op;
use crate::{errors::to_py, runtime, to_python};
use helix_client::{CommandResult, ExecEvent, ExecSpec};
use pyo3::exceptions::{PyRuntimeError, PyStopAsyncIteration};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Mutex as AsyncMutex;

/// A sandbox on a Helix server or run by this process.
#[pyclass(module = "helix._native", frozen)]
#[derive(Debug)]
pub struct Sandbox {
    inner: Arc<Mutex<helix_client::Sandbox>>,
}

impl Sandbox {
    pub fn new(s: helix_client::Sandbox) -> Self {
        Sandbox {
            inner: Arc::new(Mutex::new(s)),
        }
    }

    fn handle(&self) -> PyResult<helix_client::Sandbox> {
        self.inner
            .lock()
            .map(|s| s.clone())
            .map_err(|_| PyRuntimeError::new_err("poisoned"))
    }
}

pub(crate) fn command_result(py: Python<'_>, r: CommandResult) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("stdout", String::from_utf8_lossy(&r.stdout))?;
    d.set_item("stderr", String::from_utf8_lossy(&r.stderr))?;
    d.set_item("exit_code", r.exit_code)?;
    d.set_item("timed_out", r.timed_out)?;
    Ok(d.into_any().unbind())
}

#[pymethods]
impl Sandbox {
    /// Its id (`sbx_...`).
    #[getter]
    fn id(&self) -> PyResult<String> {
        Ok(self.handle()?.id().to_owned())
    }

    /// What the server said of it when last asked (a dict).
    #[getter]
    fn info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, self.handle()?.info())
    }

    /// Asks the server for its state now; the new info.
    fn refresh(&self) -> PyResult<Op> {
        let mut s = self.handle()?;
        let shared = self.inner.clone();
        Ok(Op::serde(async move {
            let info = s.refresh().await?.clone();
            *shared.lock().expect("not poisoned") = s;
            Ok(info)
        }))
    }

    /// Starts a command (`spec`: `cmd`, `env`, `cwd`, `user`, `timeout`); resolves to an
    /// `ExecStream`.
    fn run(&self, spec: &Bound<'_, PyAny>) -> PyResult<Op> {
        let spec: ExecSpec = pythonize::depythonize(spec).map_err(crate::invalid)?;
        let s = self.handle()?;
        Ok(Op::new(async move { s.run(spec).await }, |py, stream| {
            Ok(Py::new(py, ExecStream::new(stream))?.into_any())
        }))
    }

    /// A file's bytes.
    fn read_file(&self, path: String) -> PyResult<Op> {
        let s = self.handle()?;
        Ok(Op::new(async move { s.read_file(&path).await }, |py, b| {
            Ok(PyBytes::new(py, &b).into_any().unbind())
        }))
    }

    /// Writes a file (folders created, an existing file replaced).
    fn write_file(&self, path: String, data: Vec<u8>) -> PyResult<Op> {
        let s = self.handle()?;
        Ok(Op::unit(async move { s.write_file(&path, data).await }))
    }

    /// A folder's entries (dicts: name, path, kind, size, mode, modified).
    fn list_dir(&self, path: String) -> PyResult<Op> {
        let s = self.handle()?;
        Ok(Op::serde(async move { s.list_dir(&path).await }))
    }

    /// Whether this process runs it (`LocalSandboxes`), not a server.
    #[getter]
    fn is_local(&self) -> PyResult<bool> {
        Ok(self.handle()?.is_local())
    }

    /// The URL at which HTTP reaches `port` in the sandbox (a server's relay, or the
    /// sandbox's own address when local).
    fn host(&self, port: u16) -> PyResult<Op> {
        let s = self.handle()?;
        Ok(Op::serde(async move { s.host(port).await }))
    }

    /// A new lifetime in seconds, counted from now; the new info.
    fn set_timeout(&self, seconds: f64) -> PyResult<Op> {
        let t = Duration::try_from_secs_f64(seconds)
            .map_err(|e| crate::invalid(format!("seconds: {e}")))?;
        let mut s = self.handle()?;
        let shared = self.inner.clone();
        Ok(Op::serde(async move {
            let info = s.set_timeout(t).await?.clone();
            *shared.lock().expect("not poisoned") = s;
            Ok(info)
        }))
    }

    /// What the workspace's main process has written.
    fn logs(&self) -> PyResult<Op> {
        let s = self.handle()?;
        Ok(Op::serde(async move { s.logs().await }))
    }

    /// The workspace's output as it comes (`follow`: until the sandbox stops); resolves
    /// to a `LogStream`.
    #[pyo3(signature = (follow = false))]
    fn logs_stream(&self, follow: bool) -> PyResult<Op> {
        let s = self.handle()?;
        Ok(Op::new(
            async move { s.logs_stream(follow).await },
            |py, stream| Ok(Py::new(py, LogStream::new(stream))?.into_any()),
        ))
    }

    /// Kills it; everything it had is removed.
    fn kill(&self) -> PyResult<Op> {
        let mut s = self.handle()?;
        let shared = self.inner.clone();
        Ok(Op::unit(async move {
            s.kill().await?;
            *shared.lock().expect("not poisoned") = s;
            Ok(())
        }))
    }
}

/// A running command. Iterating yields its output events as dicts
/// (`{"type": "stdout"|"stderr", "data": str}`, then `{"type": "exit", ...}`).
#[pyclass(module = "helix._native", frozen, skip_from_py_object)]
#[derive(Debug, Clone)]
pub struct ExecStream {
    inner: Arc<AsyncMutex<helix_client::ExecStream>>,
}

impl ExecStream {
    fn new(s: helix_client::ExecStream) -> Self {
        ExecStream {
            inner: Arc::new(AsyncMutex::new(s)),
        }
    }

    async fn next(self) -> helix_client::Result<Option<ExecEvent>> {
        self.inner.lock().await.next_event().await
    }
}

#[pymethods]
impl ExecStream {
    /// The next event (a dict), `None` after `exit`.
    fn next_event(&self) -> Op {
        Op::serde(self.clone().next())
    }

    /// Reads to the end: `{"stdout", "stderr", "exit_code", "timed_out"}`.
    fn wait(&self) -> Op {
        let inner = self.inner.clone();
        Op::new(
            async move { inner.lock().await.wait().await },
            command_result,
        )
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let me = self.clone();
        match py.detach(|| runtime().block_on(me.next())).map_err(to_py)? {
            Some(ev) => Ok(Some(to_python(py, &ev)?)),
            None => Ok(None),
        }
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let me = self.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match me.next().await.map_err(to_py)? {
                Some(ev) => Python::attach(|py| to_python(py, &ev)),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
}

/// The workspace's output. Iterating yields `bytes` pieces as they arrive.
#[pyclass(module = "helix._native", frozen, skip_from_py_object)]
#[derive(Debug, Clone)]
pub struct LogStream {
    inner: Arc<AsyncMutex<helix_client::LogStream>>,
}

impl LogStream {
    fn new(s: helix_client::LogStream) -> Self {
        LogStream {
            inner: Arc::new(AsyncMutex::new(s)),
        }
    }

    async fn next(self) -> helix_client::Result<Option<bytes::Bytes>> {
        self.inner.lock().await.next_chunk().await
    }
}

#[pymethods]
impl LogStream {
    /// The next piece (`bytes`), `None` at the end.
    fn next_chunk(&self) -> Op {
        Op::new(self.clone().next(), |py, b| match b {
            Some(b) => Ok(PyBytes::new(py, &b).into_any().unbind()),
            None => Ok(py.None()),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let me = self.clone();
        match py.detach(|| runtime().block_on(me.next())).map_err(to_py)? {
            Some(b) => Ok(Some(PyBytes::new(py, &b).into_any().unbind())),
            None => Ok(None),
        }
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let me = self.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match me.next().await.map_err(to_py)? {
                Some(b) => Python::attach(|py| Ok(PyBytes::new(py, &b).into_any().unbind())),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
}
