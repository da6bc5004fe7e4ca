//! `Client`: every operation of `helix_client::Client`, each returning an [`Op`].

use crate::chat::ChatStream;
use crate::errors::to_py;
use crate::op::Op;
use crate::sandbox::Sandbox;
use helix_client::{NewApp, NewSession, SandboxSpec};
use pyo3::prelude::*;

/// A Helix server reached with an API key.
#[pyclass(module = "helix._native", frozen)]
#[derive(Debug)]
pub struct Client {
    inner: helix_client::Client,
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (base_url, api_key, *, user_agent = None))]
    fn new(base_url: &str, api_key: &str, user_agent: Option<String>) -> PyResult<Self> {
        let ua =
            user_agent.unwrap_or_else(|| format!("helix-python/{}", env!("CARGO_PKG_VERSION")));
        let inner = helix_client::Client::builder(base_url, api_key)
            .user_agent(ua)
            .build()
            .map_err(to_py)?;
        Ok(Client { inner })
    }

    /// The server's base URL.
    #[getter]
    fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    fn list_models(&self) -> Op {
        let c = self.inner.clone();
        Op::serde(async move { c.list_models().await })
    }

    #[pyo3(signature = (days = None))]
    fn usage(&self, days: Option<u32>) -> Op {
        let c = self.inner.clone();
        Op::serde(async move { c.usage(days).await })
    }

    fn list_orgs(&self) -> Op {
        let c = self.inner.clone();
        Op::serde(async move { c.list_orgs().await })
    }

    fn list_sessions(&self) -> Op {
        let c = self.inner.clone();
        Op::serde(async move { c.list_sessions().await })
    }

    #[pyo3(signature = (*, model = None, app_id = None, name = None))]
    fn create_session(
        &self,
        model: Option<String>,
        app_id: Option<String>,
        name: Option<String>,
    ) -> Op {
        let c = self.inner.clone();
        let new = NewSession {
            name,
            model,
            app_id,
        };
        Op::serde(async move { c.create_session(new).await })
    }

    fn get_session(&self, session_id: String) -> Op {
        let c = self.inner.clone();
        Op::serde(async move { c.get_session(&session_id).await })
    }

    fn delete_session(&self, session_id: String) -> Op {
        let c = self.inner.clone();
        Op::unit(async move { c.delete_session(&session_id).await })
    }

    /// Sends a message; resolves to a `ChatStream` of the answer.
    fn chat(&self, session_id: String, message: String) -> Op {
        let c = self.inner.clone();
        Op::new(
            async move { c.chat(&session_id, &message).await },
            |py, s| Ok(Py::new(py, ChatStream::new(s))?.into_any()),
        )
    }

    #[pyo3(signature = (org_id = None))]
    fn list_apps(&self, org_id: Option<String>) -> Op {
        let c = self.inner.clone();
        Op::serde(async move { c.list_apps(org_id.as_deref()).await })
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (*, org_id, name, model, system_prompt = String::new(), description = String::new(), settings = None))]
    fn create_app(
        &self,
        org_id: String,
        name: String,
        model: String,
        system_prompt: String,
        description: String,
        settings: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Op> {
        let settings = settings
            .map(|s| pythonize::depythonize::<serde_json::Value>(s).map_err(crate::invalid))
            .transpose()?;
        let new = NewApp {
            org_id,
            name,
            model,
            system_prompt,
            description,
            settings,
        };
        let c = self.inner.clone();
        Ok(Op::serde(async move { c.create_app(new).await }))
    }

    fn get_app(&self, app_id: String) -> Op {
        let c = self.inner.clone();
        Op::serde(async move { c.get_app(&app_id).await })
    }

    fn delete_app(&self, app_id: String) -> Op {
        let c = self.inner.clone();
        Op::unit(async move { c.delete_app(&app_id).await })
    }

    /// Creates a sandbox from a spec dict (`image`, `env`, `labels`, `limits`,
    /// `timeout`); resolves to a `Sandbox`, running.
    fn create_sandbox(&self, spec: &Bound<'_, PyAny>) -> PyResult<Op> {
        let spec: SandboxSpec = pythonize::depythonize(spec).map_err(crate::invalid)?;
        let c = self.inner.clone();
        Ok(Op::new(
            async move { c.create_sandbox(spec).await },
            |py, s| Ok(Py::new(py, Sandbox::new(s))?.into_any()),
        ))
    }

    /// A handle on an existing sandbox; resolves to a `Sandbox`.
    fn connect_sandbox(&self, sandbox_id: String) -> Op {
        let c = self.inner.clone();
        Op::new(
            async move { c.connect_sandbox(&sandbox_id).await },
            |py, s| Ok(Py::new(py, Sandbox::new(s))?.into_any()),
        )
    }

    fn list_sandboxes(&self) -> Op {
        let c = self.inner.clone();
        Op::serde(async move { c.list_sandboxes().await })
    }
}
