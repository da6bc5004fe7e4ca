//! `LocalSandboxes`: sandboxes run by this process, as the same `Sandbox` objects.

use crate::sandbox::Sandbox;
use crate::{from_json, json, to_js};
use helix_client::{LocalConfig, SandboxSpec};
use napi::Result;
use napi_derive::napi;
use serde_json::Value;

/// A sandbox host in this process (a dockerd per sandbox; needs root and Docker).
#[napi]
#[derive(Debug)]
pub struct LocalSandboxes {
    inner: helix_client::LocalSandboxes,
}

#[napi]
impl LocalSandboxes {
    /// Starts the host (`config`: state_dir, prefix, uplink_pool, container_pool, images
    /// as `[[name, rootfsTar], ...]`, max_sandboxes, disk_bytes, warm).
    #[napi(factory)]
    pub async fn start(config: Value) -> Result<LocalSandboxes> {
        let cfg: LocalConfig = from_json("config", config)?;
        let inner = helix_client::LocalSandboxes::start(cfg)
            .await
            .map_err(to_js)?;
        Ok(LocalSandboxes { inner })
    }

    #[napi]
    pub async fn create_sandbox(&self, spec: Value) -> Result<Sandbox> {
        let spec: SandboxSpec = from_json("spec", spec)?;
        let s = self.inner.create_sandbox(spec).await.map_err(to_js)?;
        Ok(Sandbox::new(s))
    }

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

    /// Kills every sandbox of this host and stops it.
    #[napi]
    pub async fn shutdown(&self) -> Result<()> {
        self.inner.shutdown().await;
        Ok(())
    }
}
