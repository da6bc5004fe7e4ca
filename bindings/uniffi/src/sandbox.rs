//! [`Sandbox`], [`ExecStream`] and [`LogStream`]: a sandbox, a command's output as it
//! comes, the workspace's output as it comes.

use crate::error::Result;
use crate::sandbox_types::{duration, CommandResult, ExecEvent, ExecSpec, FileEntry, SandboxInfo};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Mutex as AsyncMutex;

/// A sandbox on a Helix server. Dropping it leaves the sandbox running until its timeout;
/// `kill` ends it now.
#[derive(Debug, uniffi::Object)]
pub struct Sandbox {
    inner: Mutex<helix_client::Sandbox>,
}

impl Sandbox {
    pub(crate) fn new(s: helix_client::Sandbox) -> Self {
        Sandbox {
            inner: Mutex::new(s),
        }
    }

    /// A copy of the handle to call with (the lock is not held across a call).
    fn handle(&self) -> helix_client::Sandbox {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps the handle a call refreshed; its info.
    fn store(&self, s: helix_client::Sandbox) -> SandboxInfo {
        let info = s.info().clone().into();
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = s;
        info
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Sandbox {
    /// Its id (`sbx_...`).
    pub fn id(&self) -> String {
        self.handle().id().to_owned()
    }

    /// What the server said of it when it was last asked.
    pub fn info(&self) -> SandboxInfo {
        self.handle().info().clone().into()
    }

    /// Whether this process runs it (always false here: these bindings reach sandboxes
    /// through a server).
    pub fn is_local(&self) -> bool {
        self.handle().is_local()
    }

    /// Asks the server for its state now.
    pub async fn refresh(&self) -> Result<SandboxInfo> {
        let mut s = self.handle();
        s.refresh().await?;
        Ok(self.store(s))
    }

    /// Starts a command; its output streams back.
    pub async fn run(&self, spec: ExecSpec) -> Result<Arc<ExecStream>> {
        let stream = self.handle().run(spec.into_client()?).await?;
        Ok(Arc::new(ExecStream {
            inner: AsyncMutex::new(stream),
        }))
    }

    /// A file's bytes (absolute path).
    pub async fn read_file(&self, path: String) -> Result<Vec<u8>> {
        Ok(self.handle().read_file(&path).await?.into())
    }

    /// Writes a file (absolute path): folders created, an existing file replaced.
    pub async fn write_file(&self, path: String, data: Vec<u8>) -> Result<()> {
        Ok(self.handle().write_file(&path, data).await?)
    }

    /// A folder's entries.
    pub async fn list_dir(&self, path: String) -> Result<Vec<FileEntry>> {
        let entries = self.handle().list_dir(&path).await?;
        Ok(entries.into_iter().map(Into::into).collect())
    }

    /// The URL through which the control plane relays HTTP to `port` in the sandbox
    /// (call it with the same API key).
    pub async fn host(&self, port: u16) -> Result<String> {
        Ok(self.handle().host(port).await?)
    }

    /// A new lifetime of `seconds`, counted from now; the new info.
    pub async fn set_timeout(&self, seconds: f64) -> Result<SandboxInfo> {
        let t = duration("seconds", seconds)?;
        let mut s = self.handle();
        s.set_timeout(t).await?;
        Ok(self.store(s))
    }

    /// What the workspace's main process has written so far.
    pub async fn logs(&self) -> Result<String> {
        Ok(self.handle().logs().await?)
    }

    /// The workspace's output as it comes; with `follow`, the stream stays open for new
    /// output until the sandbox stops.
    #[uniffi::method(default(follow = false))]
    pub async fn logs_stream(&self, follow: bool) -> Result<Arc<LogStream>> {
        let s = self.handle().logs_stream(follow).await?;
        Ok(Arc::new(LogStream {
            inner: AsyncMutex::new(s),
        }))
    }

    /// Kills it; everything it had is removed (`info` then says `Stopped`).
    pub async fn kill(&self) -> Result<()> {
        let mut s = self.handle();
        s.kill().await?;
        self.store(s);
        Ok(())
    }
}

/// A running command's output, as it comes.
#[derive(Debug, uniffi::Object)]
pub struct ExecStream {
    inner: AsyncMutex<helix_client::ExecStream>,
}

#[uniffi::export(async_runtime = "tokio")]
impl ExecStream {
    /// The next event; none after `Exit`.
    pub async fn next_event(&self) -> Result<Option<ExecEvent>> {
        Ok(self.inner.lock().await.next_event().await?.map(Into::into))
    }

    /// Reads to the end: the output not read with `next_event` yet, and the exit status.
    pub async fn wait(&self) -> Result<CommandResult> {
        Ok(self.inner.lock().await.wait().await?.into())
    }
}

/// A sandbox's output, in the pieces it arrives in.
#[derive(Debug, uniffi::Object)]
pub struct LogStream {
    inner: AsyncMutex<helix_client::LogStream>,
}

#[uniffi::export(async_runtime = "tokio")]
impl LogStream {
    /// The next piece; none at the end.
    pub async fn next_chunk(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.lock().await.next_chunk().await?.map(Into::into))
    }
}
