//! `helix._native`: the Python face of `helix-client` (and of helix-sched's embedded
//! scheduler). Thin: types are converted, errors
//! mapped to exception classes, and async bridged (every call returns an `Op` that is
//! either awaited on asyncio or waited for with the GIL released). The `helix` package's
//! Python facade (`python/helix/`) adds the E2B-style shape on top.

mod chat;
mod client;
mod errors;
mod local;
mod op;
mod sandbox;
mod scheduler;

use pyo3::prelude::*;

/// The runtime every call runs on (pyo3-async-runtimes' tokio runtime).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// A serde value as plain Python objects (dict, list, str, int, float, bool, None).
pub(crate) fn to_python<T: serde::Serialize + ?Sized>(
    py: Python<'_>,
    v: &T,
) -> PyResult<Py<PyAny>> {
    pythonize::pythonize(py, v)
        .map(Bound::unbind)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// An argument refused before any request: `InvalidRequestError`, code `invalid_argument`.
pub(crate) fn invalid(e: impl std::fmt::Display) -> PyErr {
    errors::to_py(helix_client::Error::new(
        helix_client::INVALID_ARGUMENT,
        e.to_string(),
    ))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::Client>()?;
    m.add_class::<sandbox::Sandbox>()?;
    m.add_class::<sandbox::ExecStream>()?;
    m.add_class::<sandbox::LogStream>()?;
    m.add_class::<local::LocalSandboxes>()?;
    m.add_class::<scheduler::Scheduler>()?;
    m.add_class::<chat::ChatStream>()?;
    m.add_class::<op::Op>()?;
    errors::register(m)?;
    Ok(())
}
