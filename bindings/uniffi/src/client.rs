//! [`Client`]: every operation of `helix_client::Client`, each an async call.

use crate::chat::ChatStream;
use crate::error::Result;
use crate::sandbox::Sandbox;
use crate::sandbox_types::{SandboxInfo, SandboxSpec};
use crate::types::{
    App, ChatSession, ModelInfo, NewApp, NewSession, Org, SessionWithInteractions, UsageRow,
};
use std::sync::Arc;

/// A Helix server reached with an API key. Cheap to share between threads.
#[derive(Debug, uniffi::Object)]
pub struct Client {
    inner: helix_client::Client,
}

fn all<T, U: From<T>>(v: Vec<T>) -> Vec<U> {
    v.into_iter().map(Into::into).collect()
}

#[uniffi::export(async_runtime = "tokio")]
impl Client {
    /// A client for the server at `base_url` (`http(s)://host:port`) calling with
    /// `api_key` (`hx-...`). Fails (`invalid_argument`) on a bad URL or an empty key.
    #[uniffi::constructor(default(user_agent = None))]
    pub fn new(base_url: String, api_key: String, user_agent: Option<String>) -> Result<Arc<Self>> {
        let ua =
            user_agent.unwrap_or_else(|| format!("helix-uniffi/{}", env!("CARGO_PKG_VERSION")));
        let inner = helix_client::Client::builder(&base_url, &api_key)
            .user_agent(ua)
            .build()?;
        Ok(Arc::new(Client { inner }))
    }

    /// The server's base URL.
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    /// The models the caller may use.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>> {
        Ok(all(self.inner.list_models().await?))
    }

    /// Calls, tokens and latency per day, model and key over the last `days` (default 30).
    #[uniffi::method(default(days = None))]
    pub async fn usage(&self, days: Option<u32>) -> Result<Vec<UsageRow>> {
        Ok(all(self.inner.usage(days).await?))
    }

    /// The orgs the caller belongs to, with their role.
    pub async fn list_orgs(&self) -> Result<Vec<Org>> {
        Ok(all(self.inner.list_orgs().await?))
    }

    /// The caller's sessions, newest first.
    pub async fn list_sessions(&self) -> Result<Vec<ChatSession>> {
        Ok(all(self.inner.list_sessions().await?))
    }

    /// Starts a session.
    pub async fn create_session(&self, new: NewSession) -> Result<ChatSession> {
        Ok(self.inner.create_session(new.into()).await?.into())
    }

    /// A session with all its messages.
    pub async fn get_session(&self, session_id: String) -> Result<SessionWithInteractions> {
        Ok(self.inner.get_session(&session_id).await?.into())
    }

    /// Deletes a session and its messages.
    pub async fn delete_session(&self, session_id: String) -> Result<()> {
        Ok(self.inner.delete_session(&session_id).await?)
    }

    /// Sends a message; the answer streams back. The server keeps the answer even if the
    /// stream is dropped.
    pub async fn chat(&self, session_id: String, message: String) -> Result<Arc<ChatStream>> {
        let s = self.inner.chat(&session_id, &message).await?;
        Ok(Arc::new(ChatStream::new(s)))
    }

    /// The apps of the caller's orgs, or of one org.
    #[uniffi::method(default(org_id = None))]
    pub async fn list_apps(&self, org_id: Option<String>) -> Result<Vec<App>> {
        Ok(all(self.inner.list_apps(org_id.as_deref()).await?))
    }

    /// Creates an app in an org.
    pub async fn create_app(&self, new: NewApp) -> Result<App> {
        Ok(self.inner.create_app(new.into_client()?).await?.into())
    }

    /// One app.
    pub async fn get_app(&self, app_id: String) -> Result<App> {
        Ok(self.inner.get_app(&app_id).await?.into())
    }

    /// Deletes an app.
    pub async fn delete_app(&self, app_id: String) -> Result<()> {
        Ok(self.inner.delete_app(&app_id).await?)
    }

    /// Creates a sandbox; it is running when this returns.
    pub async fn create_sandbox(&self, spec: SandboxSpec) -> Result<Arc<Sandbox>> {
        let s = self.inner.create_sandbox(spec.into_client()?).await?;
        Ok(Arc::new(Sandbox::new(s)))
    }

    /// A handle on an existing sandbox of the caller's.
    pub async fn connect_sandbox(&self, sandbox_id: String) -> Result<Arc<Sandbox>> {
        let s = self.inner.connect_sandbox(&sandbox_id).await?;
        Ok(Arc::new(Sandbox::new(s)))
    }

    /// The caller's sandboxes.
    pub async fn list_sandboxes(&self) -> Result<Vec<SandboxInfo>> {
        Ok(all(self.inner.list_sandboxes().await?))
    }
}
