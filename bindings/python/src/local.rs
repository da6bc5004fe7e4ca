//! `LocalSandboxes`: sandboxes run by this process (helix-client's local host), handed
//! out as the same `Sandbox` objects as a server's.

use crate::op::Op;
use crate::sandbox::Sandbox;
use helix_client::{LocalConfig, SandboxSpec};
use pyo3::prelude::*;

/// A sandbox host in this process (a dockerd per sandbox; needs root and Docker).
#[pyclass(module = "helix._native", frozen)]
#[derive(Debug)]
pub struct LocalSandboxes {
    inner: helix_client::LocalSandboxes,
}

#[pymethods]
impl LocalSandboxes {
    /// Starts the host (`config`: state_dir, prefix, uplink_pool, container_pool, images
    /// as `[[name, rootfs_tar], ...]`, max_sandboxes, disk_bytes, warm).
    #[staticmethod]
    fn start(config: &Bound<'_, PyAny>) -> PyResult<Op> {
        let cfg: LocalConfig = pythonize::depythonize(config).map_err(crate::invalid)?;
        Ok(Op::new(
            helix_client::LocalSandboxes::start(cfg),
            |py, inner| Ok(Py::new(py, LocalSandboxes { inner })?.into_any()),
        ))
    }

    fn create_sandbox(&self, spec: &Bound<'_, PyAny>) -> PyResult<Op> {
        let spec: SandboxSpec = pythonize::depythonize(spec).map_err(crate::invalid)?;
        let h = self.inner.clone();
        Ok(Op::new(
            async move { h.create_sandbox(spec).await },
            |py, s| Ok(Py::new(py, Sandbox::new(s))?.into_any()),
        ))
    }

    fn connect_sandbox(&self, sandbox_id: String) -> Op {
        let h = self.inner.clone();
        Op::new(
            async move { h.connect_sandbox(&sandbox_id).await },
            |py, s| Ok(Py::new(py, Sandbox::new(s))?.into_any()),
        )
    }

    fn list_sandboxes(&self) -> Op {
        let h = self.inner.clone();
        Op::serde(async move { h.list_sandboxes().await })
    }

    /// Kills every sandbox of this host and stops it.
    fn shutdown(&self) -> Op {
        let h = self.inner.clone();
        Op::unit(async move {
            h.shutdown().await;
            Ok(())
        })
    }
}
