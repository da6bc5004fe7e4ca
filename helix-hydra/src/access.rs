//! Who may use which sandbox: [`SandboxService`] puts the control plane's access rules
//! in front of any [`SandboxRuntime`].
//!
//! A sandbox belongs to the user who created it, recorded in the reserved label
//! `helix.owner` (so a sandbox host that outlives a control plane restart still knows).
//! Its owner and site administrators may use it; anyone else gets `sandbox_not_found`,
//! exactly as for an id that does not exist, so ids cannot be probed. Labels starting
//! with `helix.` are reserved.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use helix_core::auth::Principal;

use crate::sandbox::{
    ExecSpec, ExecStream, FileEntry, LogStream, SandboxId, SandboxInfo, SandboxRuntime, SandboxSpec,
};
use crate::{HydraError, Result};

/// The label holding a sandbox's owner (a user id).
pub const OWNER_LABEL: &str = "helix.owner";
const RESERVED_PREFIX: &str = "helix.";

/// Access-checked sandbox operations for authenticated callers.
#[derive(Debug, Clone)]
pub struct SandboxService {
    runtime: Arc<dyn SandboxRuntime>,
}

impl SandboxService {
    /// Wraps a runtime.
    pub fn new(runtime: Arc<dyn SandboxRuntime>) -> Self {
        SandboxService { runtime }
    }

    /// The runtime underneath (no access checks).
    pub fn runtime(&self) -> &Arc<dyn SandboxRuntime> {
        &self.runtime
    }

    fn may_use(p: &Principal, info: &SandboxInfo) -> bool {
        p.is_admin() || info.labels.get(OWNER_LABEL) == Some(&p.user.id.to_string())
    }

    async fn authorize(&self, p: &Principal, id: &SandboxId) -> Result<SandboxInfo> {
        let info = self.runtime.get(id).await?;
        if Self::may_use(p, &info) {
            Ok(info)
        } else {
            Err(HydraError::SandboxNotFound { id: id.to_string() })
        }
    }

    /// Creates a sandbox owned by the caller.
    pub async fn create(&self, p: &Principal, mut spec: SandboxSpec) -> Result<SandboxInfo> {
        if spec.labels.keys().any(|k| k.starts_with(RESERVED_PREFIX)) {
            return Err(HydraError::invalid(
                "labels starting with `helix.` are reserved",
            ));
        }
        spec.labels
            .insert(OWNER_LABEL.into(), p.user.id.to_string());
        self.runtime.create(spec).await
    }

    /// One sandbox the caller may use.
    pub async fn get(&self, p: &Principal, id: &SandboxId) -> Result<SandboxInfo> {
        self.authorize(p, id).await
    }

    /// The caller's sandboxes (every sandbox for site administrators).
    pub async fn list(&self, p: &Principal) -> Result<Vec<SandboxInfo>> {
        let mut all = self.runtime.list().await?;
        all.retain(|i| Self::may_use(p, i));
        Ok(all)
    }

    /// Runs a command.
    pub async fn exec(&self, p: &Principal, id: &SandboxId, spec: ExecSpec) -> Result<ExecStream> {
        self.authorize(p, id).await?;
        self.runtime.exec(id, spec).await
    }

    /// Writes a file.
    pub async fn write_file(
        &self,
        p: &Principal,
        id: &SandboxId,
        path: &str,
        data: Bytes,
    ) -> Result<()> {
        self.authorize(p, id).await?;
        self.runtime.write_file(id, path, data).await
    }

    /// Reads a file.
    pub async fn read_file(&self, p: &Principal, id: &SandboxId, path: &str) -> Result<Bytes> {
        self.authorize(p, id).await?;
        self.runtime.read_file(id, path).await
    }

    /// Lists a directory.
    pub async fn list_dir(
        &self,
        p: &Principal,
        id: &SandboxId,
        path: &str,
    ) -> Result<Vec<FileEntry>> {
        self.authorize(p, id).await?;
        self.runtime.list_dir(id, path).await
    }

    /// Where a port of the sandbox is reachable from the sandbox host.
    pub async fn port_target(
        &self,
        p: &Principal,
        id: &SandboxId,
        port: u16,
    ) -> Result<SocketAddr> {
        self.authorize(p, id).await?;
        self.runtime.port_target(id, port).await
    }

    /// One buffered HTTP exchange with a port of the sandbox.
    pub async fn http(
        &self,
        p: &Principal,
        id: &SandboxId,
        port: u16,
        req: crate::relay::HttpExchange,
    ) -> Result<crate::relay::HttpAnswer> {
        self.authorize(p, id).await?;
        self.runtime.http(id, port, req).await
    }

    /// The workspace's output.
    pub async fn logs(&self, p: &Principal, id: &SandboxId, follow: bool) -> Result<LogStream> {
        self.authorize(p, id).await?;
        self.runtime.logs(id, follow).await
    }

    /// Moves the deadline.
    pub async fn set_timeout(
        &self,
        p: &Principal,
        id: &SandboxId,
        timeout: Duration,
    ) -> Result<SandboxInfo> {
        self.authorize(p, id).await?;
        self.runtime.set_timeout(id, timeout).await
    }

    /// Kills the sandbox.
    pub async fn kill(&self, p: &Principal, id: &SandboxId) -> Result<()> {
        self.authorize(p, id).await?;
        self.runtime.kill(id).await
    }
}
