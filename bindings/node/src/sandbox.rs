//! `Sandbox`, `ExecStream` and `LogStream`: a sandbox on a server or run by this
//! process, a command's output and the workspace's output.

use crate::{from_json, json, to_js};
use helix_client::{ExecSpec, SandboxInfo};
use napi::bindgen_prelude::Buffer;
use napi::Result;
use napi_derive::napi;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Mutex as AsyncMutex;

/// A sandbox on a Helix server or run by this process.
#[napi]
#[derive(Debug)]
pub struct Sandbox {
    inner: Arc<Mutex<helix_client::Sandbox>>,
}

impl Sandbox {
    pub fn new(s: helix_client::Sandbox) -> Self {
        Sandbox {
            inner: Arc::new(Mutex::new(s)),
        }
    }

    fn handle(&self) -> helix_client::Sandbox {
        self.inner.lock().expect("not poisoned").clone()
    }

    fn store(&self, s: helix_client::Sandbox) -> Result<Value> {
        let info: SandboxInfo = s.info().clone();
        *self.inner.lock().expect("not poisoned") = s;
        json(info)
    }
}

/// What a finished command did.
#[napi(object)]
#[derive(Debug)]
pub struct CommandResult {
    /// Everything it wrote to standard output.
    pub stdout: String,
    /// Everything it wrote to standard error.
    pub stderr: String,
    /// Exit status (128 + signal when killed).
    pub exit_code: i64,
    /// Whether it was killed because its timeout passed.
    pub timed_out: bool,
}

#[napi]
impl Sandbox {
    /// Its id (`sbx_...`).
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.handle().id().to_owned()
    }

    /// What the server said of it when last asked.
    #[napi(getter)]
    pub fn info(&self) -> Result<Value> {
        json(self.handle().info())
    }

    /// Asks the server for its state now.
    #[napi]
    pub async fn refresh(&self) -> Result<Value> {
        let mut s = self.handle();
        s.refresh().await.map_err(to_js)?;
        self.store(s)
    }

    /// Starts a command (`spec`: `cmd`, `env`, `cwd`, `user`, `timeout` in seconds).
    #[napi]
    pub async fn run(&self, spec: Value) -> Result<ExecStream> {
        let spec: ExecSpec = from_json("spec", spec)?;
        let stream = self.handle().run(spec).await.map_err(to_js)?;
        Ok(ExecStream {
            inner: Arc::new(AsyncMutex::new(stream)),
        })
    }

    /// A file's bytes.
    #[napi]
    pub async fn read_file(&self, path: String) -> Result<Buffer> {
        let b = self.handle().read_file(&path).await.map_err(to_js)?;
        Ok(b.to_vec().into())
    }

    /// Writes a file (folders created, an existing file replaced).
    #[napi]
    pub async fn write_file(&self, path: String, data: Buffer) -> Result<()> {
        let data: Vec<u8> = data.to_vec();
        self.handle().write_file(&path, data).await.map_err(to_js)
    }

    /// A folder's entries.
    #[napi]
    pub async fn list_dir(&self, path: String) -> Result<Value> {
        json(self.handle().list_dir(&path).await.map_err(to_js)?)
    }

    /// Whether this process runs it (`LocalSandboxes`), not a server.
    #[napi(getter)]
    pub fn is_local(&self) -> bool {
        self.handle().is_local()
    }

    /// The URL at which HTTP reaches `port` in the sandbox (a server's relay, or the
    /// sandbox's own address when local).
    #[napi]
    pub async fn host(&self, port: u16) -> Result<String> {
        self.handle().host(port).await.map_err(to_js)
    }

    /// A new lifetime in seconds, counted from now.
    #[napi]
    pub async fn set_timeout(&self, seconds: f64) -> Result<Value> {
        let t = Duration::try_from_secs_f64(seconds).map_err(|e| {
            to_js(helix_client::Error::new(
                helix_client::INVALID_ARGUMENT,
                format!("seconds: {e}"),
            ))
        })?;
        let mut s = self.handle();
        s.set_timeout(t).await.map_err(to_js)?;
        self.store(s)
    }

    /// What the workspace's main process has written.
    #[napi]
    pub async fn logs(&self) -> Result<String> {
        self.handle().logs().await.map_err(to_js)
    }

    /// The workspace's output as it comes (`follow`: until the sandbox stops).
    #[napi]
    pub async fn logs_stream(&self, follow: Option<bool>) -> Result<LogStream> {
        let stream = self
            .handle()
            .logs_stream(follow.unwrap_or(false))
            .await
            .map_err(to_js)?;
        Ok(LogStream {
            inner: Arc::new(AsyncMutex::new(stream)),
        })
    }

    /// Kills it; everything it had is removed.
    #[napi]
    pub async fn kill(&self) -> Result<()> {
        let mut s = self.handle();
        s.kill().await.map_err(to_js)?;
        self.store(s).map(|_| ())
    }
}

/// A running command (`index.js` makes it an async iterable of events).
#[napi]
#[derive(Debug)]
pub struct ExecStream {
    inner: Arc<AsyncMutex<helix_client::ExecStream>>,
}

#[napi]
impl ExecStream {
    /// The next event (`{type: "stdout"|"stderr", data}`, then `{type: "exit", code,
    /// timed_out}`); `null` after exit.
    #[napi]
    pub async fn next_event(&self) -> Result<Value> {
        json(self.inner.lock().await.next_event().await.map_err(to_js)?)
    }

    /// Reads to the end.
    #[napi]
    pub async fn wait(&self) -> Result<CommandResult> {
        let r = self.inner.lock().await.wait().await.map_err(to_js)?;
        Ok(CommandResult {
            stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
            exit_code: r.exit_code,
            timed_out: r.timed_out,
        })
    }
}

/// The workspace's output (`index.js` makes it an async iterable of Buffers).
#[napi]
#[derive(Debug)]
pub struct LogStream {
    inner: Arc<AsyncMutex<helix_client::LogStream>>,
}

#[napi]
impl LogStream {
    /// The next piece; `null` at the end.
    #[napi]
    pub async fn next_chunk(&self) -> Result<Option<Buffer>> {
        let b = self.inner.lock().await.next_chunk().await.map_err(to_js)?;
        Ok(b.map(|b| b.to_vec().into()))
    }
}
