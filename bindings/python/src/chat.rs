//! `ChatStream`: an answer as it is written; iterate it (sync or async) for its text.

use crate::op::Op;
use crate::{errors::to_py, runtime, to_python};
use helix_client::{ChatChunk, Interaction};
use pyo3::exceptions::{PyRuntimeError, PyStopAsyncIteration};
use pyo3::prelude::*;
use std::sync::{Arc, Mutex};
use tokio::sync::Mutex as AsyncMutex;

/// An answer being written. Iterating (`for` or `async for`) yields its text as it comes;
/// `interaction` holds the finished answer afterwards.
#[pyclass(module = "helix._native", frozen, skip_from_py_object)]
#[derive(Debug, Clone)]
pub struct ChatStream {
    inner: Arc<AsyncMutex<helix_client::ChatStream>>,
    done: Arc<Mutex<Option<Interaction>>>,
}

impl ChatStream {
    pub fn new(s: helix_client::ChatStream) -> Self {
        ChatStream {
            inner: Arc::new(AsyncMutex::new(s)),
            done: Arc::new(Mutex::new(None)),
        }
    }

    /// The next piece of text; `None` once the answer is complete.
    async fn next_text(self) -> helix_client::Result<Option<String>> {
        let mut s = self.inner.lock().await;
        loop {
            match s.next_chunk().await? {
                Some(ChatChunk::Text(t)) => return Ok(Some(t)),
                Some(ChatChunk::Done(i)) => {
                    *self.done.lock().expect("not poisoned") = Some(i);
                }
                None => return Ok(None),
            }
        }
    }
}

#[pymethods]
impl ChatStream {
    /// The next event as a dict (`interaction_created`, `delta`, `completed`, `failed`),
    /// `None` after the last.
    fn next_event(&self) -> Op {
        let inner = self.inner.clone();
        Op::serde(async move { inner.lock().await.next_event().await })
    }

    /// Reads to the end; the finished answer (a dict).
    fn finish(&self) -> Op {
        let me = self.clone();
        Op::serde(async move {
            let i = me.inner.lock().await.finish().await?;
            *me.done.lock().expect("not poisoned") = Some(i.clone());
            Ok(i)
        })
    }

    /// The finished answer once the stream has ended, else `None`.
    #[getter]
    fn interaction(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &*self
            .done
            .lock()
            .map_err(|_| PyRuntimeError::new_err("poisoned"))?
        {
            Some(i) => to_python(py, i),
            None => Ok(py.None()),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let me = self.clone();
        py.detach(|| runtime().block_on(me.next_text()))
            .map_err(to_py)
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let me = self.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match me.next_text().await.map_err(to_py)? {
                Some(t) => Ok(t),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
}
