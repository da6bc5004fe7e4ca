//! `Client`: every operation of `helix_client::Client` as a Promise.

use crate::chat::ChatStream;
use crate::sandbox::Sandbox;
use crate::{from_json, json, to_js};
use helix_client::{NewApp, NewSession, SandboxSpec};
use napi::Result;
use napi_derive::napi;
use serde_json::Value;

/// A Helix server reached with an API key.
#[napi]
#[derive(Debug)]
pub struct Client {
    inner: helix_client::Client,
}

/// What a new session talks to.
#[napi(object)]
#[derive(Debug, Default)]
pub struct NewSessionOptions {
    /// Model name; required unless `appId` is given.
    pub model: Option<String>,
    /// The app (assistant) to talk to.
    pub app_id: Option<String>,
    /// Title.
    pub name: Option<String>,
}

/// A new app.
#[napi(object)]
#[derive(Debug)]
pub struct NewAppOptions {
    /// The org that will own it.
    pub org_id: String,
    /// Display name.
    pub name: String,
    /// Model name.
    pub model: String,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Settings (temperature, max_tokens, ...).
    pub settings: Option<Value>,
}

#[napi]
impl Client {
    /// A client for the server at `baseUrl` calling with `apiKey` (`hx-...`).
    #[napi(constructor)]
    pub fn new(base_url: String, api_key: String, user_agent: Option<String>) -> Result<Self> {
        let ua = user_agent.unwrap_or_else(|| format!("helix-node/{}", env!("CARGO_PKG_VERSION")));
        let inner = helix_client::Client::builder(&base_url, &api_key)
            .user_agent(ua)
            .build()
            .map_err(to_js)?;
        Ok(Client { inner })
    }

    /// The server's base URL.
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    #[napi]
    pub async fn list_models(&self) -> Result<Value> {
        json(self.inner.list_models().await.map_err(to_js)?)
    }

    #[napi]
    pub async fn usage(&self, days: Option<u32>) -> Result<Value> {
        json(self.inner.usage(days).await.map_err(to_js)?)
    }

    #[napi]
    pub async fn list_orgs(&self) -> Result<Value> {
        json(self.inner.list_orgs().await.map_err(to_js)?)
    }

    #[napi]
    pub async fn list_sessions(&self) -> Result<Value> {
        json(self.inner.list_sessions().await.map_err(to_js)?)
    }

    #[napi]
    pub async fn create_session(&self, options: Option<NewSessionOptions>) -> Result<Value> {
        let o = options.unwrap_or_default();
        let new = NewSession {
            name: o.name,
            model: o.model,
            app_id: o.app_id,
        };
        json(self.inner.create_session(new).await.map_err(to_js)?)
    }

    #[napi]
    pub async fn get_session(&self, session_id: String) -> Result<Value> {
        json(self.inner.get_session(&session_id).await.map_err(to_js)?)
    }

    #[napi]
    pub async fn delete_session(&self, session_id: String) -> Result<()> {
        self.inner.delete_session(&session_id).await.map_err(to_js)
    }

    /// Sends a message; the answer streams back.
    #[napi]
    pub async fn chat(&self, session_id: String, message: String) -> Result<ChatStream> {
        let s = self
            .inner
            .chat(&session_id, &message)
            .await
            .map_err(to_js)?;
        Ok(ChatStream::new(s))
    }

    #[napi]
    pub async fn list_apps(&self, org_id: Option<String>) -> Result<Value> {
        json(
            self.inner
                .list_apps(org_id.as_deref())
                .await
                .map_err(to_js)?,
        )
    }

    #[napi]
    pub async fn create_app(&self, options: NewAppOptions) -> Result<Value> {
        let new = NewApp {
            org_id: options.org_id,
            name: options.name,
            model: options.model,
            system_prompt: options.system_prompt.unwrap_or_default(),
            description: options.description.unwrap_or_default(),
            settings: options.settings,
        };
        json(self.inner.create_app(new).await.map_err(to_js)?)
    }

    #[napi]
    pub async fn get_app(&self, app_id: String) -> Result<Value> {
        json(self.inner.get_app(&app_id).await.map_err(to_js)?)
    }

    #[napi]
    pub async fn delete_app(&self, app_id: String) -> Result<()> {
        self.inner.delete_app(&app_id).await.map_err(to_js)
    }

    /// Creates a sandbox from a spec (`image`, `env`, `labels`, `limits`, `timeout` in
    /// seconds); running when the Promise resolves.
    #[napi]
    pub async fn create_sandbox(&self, spec: Value) -> Result<Sandbox> {
        let spec: SandboxSpec = from_json("spec", spec)?;
        let s = self.inner.create_sandbox(spec).await.map_err(to_js)?;
        Ok(Sandbox::new(s))
    }

    /// A handle on an existing sandbox of the caller's.
    #[napi]
    pub async fn connect_sandbox(&self, sandbox_id: String) -> Result<Sandbox> {
        let s = self
            .inner
            .connect_sandbox(&sandbox_id)
            .await
            .map_err(to_js)?;
        Ok(Sandbox::new(s))
    }

    #[napi]
    pub async fn list_sandboxes(&self) -> Result<Value> {
        json(self.inner.list_sandboxes().await.map_err(to_js)?)
    }
}
