//! [`Op`]: one call in flight, awaited (`await op`) or waited for (`op.wait()`), so the
//! async and the sync API run the same Rust future.

use crate::errors::to_py;
use futures::future::BoxFuture;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::Mutex;

/// Turns a finished call's value into a Python object (under the GIL).
pub type Convert = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Py<PyAny>> + Send>;

type Pending = BoxFuture<'static, PyResult<Convert>>;

/// A call that has not run yet: `await` it, or `wait()` for it (the GIL is released
/// while it runs). Either once.
#[pyclass(module = "helix._native", frozen)]
pub struct Op {
    fut: Mutex<Option<Pending>>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Op")
    }
}

impl Op {
    /// An op whose value is converted by `convert`.
    pub fn new<T, F, C>(fut: F, convert: C) -> Op
    where
        T: Send + 'static,
        F: Future<Output = helix_client::Result<T>> + Send + 'static,
        C: for<'py> FnOnce(Python<'py>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        let pending = async move {
            let v = fut.await.map_err(to_py)?;
            Ok(Box::new(move |py: Python<'_>| convert(py, v)) as Convert)
        };
        Op {
            fut: Mutex::new(Some(Box::pin(pending))),
        }
    }

    /// An op whose value goes to Python through serde (dicts, lists, strings, numbers).
    pub fn serde<T, F>(fut: F) -> Op
    where
        T: serde::Serialize + Send + 'static,
        F: Future<Output = helix_client::Result<T>> + Send + 'static,
    {
        Op::new(fut, |py, v| crate::to_python(py, &v))
    }

    /// An op with no value (`None`).
    pub fn unit<F>(fut: F) -> Op
    where
        F: Future<Output = helix_client::Result<()>> + Send + 'static,
    {
        Op::new(fut, |py, ()| Ok(py.None()))
    }

    fn take(&self) -> PyResult<Pending> {
        self.fut
            .lock()
            .map_err(|_| PyRuntimeError::new_err("op poisoned"))?
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this call was already awaited or waited for"))
    }
}

#[pymethods]
impl Op {
    /// Runs the call to its end on this thread (the GIL released meanwhile).
    fn wait(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let fut = self.take()?;
        let convert = py.detach(|| crate::runtime().block_on(fut))?;
        convert(py)
    }

    fn __await__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.take()?;
        let aw = pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let convert = fut.await?;
            Python::attach(convert)
        })?;
        aw.call_method0("__await__")
    }
}
