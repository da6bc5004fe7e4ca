//! Sandboxes, in the shape of E2B-style SDKs: create, run a command with streamed
//! output, files, a port exposed through the control plane, a timeout, kill.
//!
//! A [`Sandbox`] is on a server ([`Client::create_sandbox`]) or run by this process
//! ([`crate::LocalSandboxes`]); its methods are the same either way.

use crate::client::{path_id, Client};
use crate::error::{Error, Result, STREAM_ERROR};
use crate::local::hydra_error;
use crate::stream::{Framing, Records};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use helix_hydra::{ExecEvent, ExecSpec, FileEntry, SandboxInfo, SandboxRuntime, SandboxSpec};
use reqwest::Method;
use std::sync::Arc;
use std::time::Duration;

impl Client {
    /// Creates a sandbox; it is running (a command can be run at once) when this returns.
    pub async fn create_sandbox(&self, spec: SandboxSpec) -> Result<Sandbox> {
        let info: SandboxInfo = self
            .json(self.request(Method::POST, "api/v1/sandboxes").json(&spec))
            .await?;
        Ok(Sandbox {
            backend: Backend::Remote(self.clone()),
            info,
        })
    }

    /// A handle on an existing sandbox of the caller's.
    pub async fn connect_sandbox(&self, sandbox_id: &str) -> Result<Sandbox> {
        let id = path_id("sandbox_id", sandbox_id)?;
        let info = self
            .json(self.request(Method::GET, &format!("api/v1/sandboxes/{id}")))
            .await?;
        Ok(Sandbox {
            backend: Backend::Remote(self.clone()),
            info,
        })
    }

    /// The caller's sandboxes.
    pub async fn list_sandboxes(&self) -> Result<Vec<SandboxInfo>> {
        self.json(self.request(Method::GET, "api/v1/sandboxes"))
            .await
    }
}

/// A sandbox, on a server or run by this process. Dropping the handle leaves the
/// sandbox running until its timeout; [`Sandbox::kill`] ends it now.
#[derive(Debug, Clone)]
pub struct Sandbox {
    backend: Backend,
    info: SandboxInfo,
}

#[derive(Debug, Clone)]
enum Backend {
    Remote(Client),
    Local(Arc<dyn SandboxRuntime>),
}

/// What a finished command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandResult {
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error.
    pub stderr: Vec<u8>,
    /// Exit status (128 + signal when killed).
    pub exit_code: i64,
    /// Whether it was killed because its timeout passed.
    pub timed_out: bool,
}

impl Sandbox {
    pub(crate) fn local(runtime: Arc<dyn SandboxRuntime>, info: SandboxInfo) -> Self {
        Sandbox {
            backend: Backend::Local(runtime),
            info,
        }
    }

    /// Its id (`sbx_...`).
    pub fn id(&self) -> &str {
        self.info.id.as_str()
    }

    /// What was known of it when this handle was made or last refreshed (or changed by
    /// [`Sandbox::set_timeout`] or [`Sandbox::kill`]).
    pub fn info(&self) -> &SandboxInfo {
        &self.info
    }

    /// Whether this process runs it (no server in between).
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local(_))
    }

    fn path(&self, rest: &str) -> String {
        format!("api/v1/sandboxes/{}/{rest}", self.info.id.as_str())
    }

    fn base(&self) -> String {
        format!("api/v1/sandboxes/{}", self.info.id.as_str())
    }

    /// Asks for its state now.
    pub async fn refresh(&mut self) -> Result<&SandboxInfo> {
        self.info = match &self.backend {
            Backend::Remote(c) => c.json(c.request(Method::GET, &self.base())).await?,
            Backend::Local(rt) => rt.get(&self.info.id).await.map_err(hydra_error)?,
        };
        Ok(&self.info)
    }

    /// Starts a command; its output streams back as [`ExecEvent`]s, `Exit` last.
    pub async fn run(&self, spec: ExecSpec) -> Result<ExecStream> {
        let source = match &self.backend {
            Backend::Remote(c) => {
                let resp = c
                    .send(c.request(Method::POST, &self.path("exec")).json(&spec))
                    .await?;
                Source::Remote(Records::new(resp, Framing::Ndjson))
            }
            Backend::Local(rt) => {
                Source::Local(rt.exec(&self.info.id, spec).await.map_err(hydra_error)?)
            }
        };
        Ok(ExecStream {
            source,
            done: false,
            exit: None,
        })
    }

    /// Reads a file (absolute path).
    pub async fn read_file(&self, path: &str) -> Result<Bytes> {
        match &self.backend {
            Backend::Remote(c) => {
                let resp = c
                    .send(
                        c.request(Method::GET, &self.path("files"))
                            .query(&[("path", path)]),
                    )
                    .await?;
                resp.bytes().await.map_err(Error::transport)
            }
            Backend::Local(rt) => rt.read_file(&self.info.id, path).await.map_err(hydra_error),
        }
    }

    /// Writes a file (absolute path), creating its folders and replacing what was there.
    pub async fn write_file(&self, path: &str, data: impl Into<Bytes>) -> Result<()> {
        match &self.backend {
            Backend::Remote(c) => {
                let req = c
                    .request(Method::PUT, &self.path("files"))
                    .query(&[("path", path)])
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(data.into());
                c.empty(req).await
            }
            Backend::Local(rt) => rt
                .write_file(&self.info.id, path, data.into())
                .await
                .map_err(hydra_error),
        }
    }

    /// Lists a folder.
    pub async fn list_dir(&self, path: &str) -> Result<Vec<FileEntry>> {
        match &self.backend {
            Backend::Remote(c) => {
                c.json(
                    c.request(Method::GET, &self.path("dir"))
                        .query(&[("path", path)]),
                )
                .await
            }
            Backend::Local(rt) => rt.list_dir(&self.info.id, path).await.map_err(hydra_error),
        }
    }

    /// The URL at which HTTP reaches `port` inside the sandbox: on a server, the control
    /// plane's relay (call it with the same API key); locally, the sandbox's address on
    /// this machine.
    pub async fn host(&self, port: u16) -> Result<String> {
        match &self.backend {
            Backend::Remote(c) => {
                if port == 0 {
                    return Err(Error::new(crate::INVALID_ARGUMENT, "port must be 1-65535"));
                }
                Ok(c.url(&self.path(&format!("ports/{port}/"))))
            }
            Backend::Local(rt) => {
                let addr = rt
                    .port_target(&self.info.id, port)
                    .await
                    .map_err(hydra_error)?;
                Ok(format!("http://{addr}/"))
            }
        }
    }

    /// Gives it `timeout` more to live, counted from now.
    pub async fn set_timeout(&mut self, timeout: Duration) -> Result<&SandboxInfo> {
        self.info = match &self.backend {
            Backend::Remote(c) => {
                let body = serde_json::json!({ "timeout": timeout.as_secs_f64() });
                c.json(c.request(Method::POST, &self.path("timeout")).json(&body))
                    .await?
            }
            Backend::Local(rt) => rt
                .set_timeout(&self.info.id, timeout)
                .await
                .map_err(hydra_error)?,
        };
        Ok(&self.info)
    }

    /// What the workspace's main process has written so far.
    pub async fn logs(&self) -> Result<String> {
        match &self.backend {
            Backend::Remote(c) => {
                let resp = c.send(c.request(Method::GET, &self.path("logs"))).await?;
                resp.text().await.map_err(Error::transport)
            }
            Backend::Local(_) => {
                let mut stream = self.logs_stream(false).await?;
                let mut out = Vec::new();
                while let Some(b) = stream.next_chunk().await? {
                    out.extend_from_slice(&b);
                }
                Ok(String::from_utf8_lossy(&out).into_owned())
            }
        }
    }

    /// The workspace's output as it comes; with `follow`, the stream stays open for new
    /// output until the sandbox stops.
    pub async fn logs_stream(&self, follow: bool) -> Result<LogStream> {
        let body: BoxStream<'static, Result<Bytes>> = match &self.backend {
            Backend::Remote(c) => {
                let resp = c
                    .send(
                        c.request(Method::GET, &self.path("logs"))
                            .query(&[("follow", follow)]),
                    )
                    .await?;
                resp.bytes_stream()
                    .map_err(|e| {
                        Error::new(
                            STREAM_ERROR,
                            format!("the log stream broke: {}", e.without_url()),
                        )
                    })
                    .boxed()
            }
            Backend::Local(rt) => rt
                .logs(&self.info.id, follow)
                .await
                .map_err(hydra_error)?
                .filter_map(|ev| async move {
                    match ev {
                        Ok(ExecEvent::Stdout { data } | ExecEvent::Stderr { data }) => {
                            Some(Ok(data))
                        }
                        Ok(ExecEvent::Exit { .. }) => None,
                        Err(e) => Some(Err(hydra_error(e))),
                    }
                })
                .boxed(),
        };
        Ok(LogStream { body })
    }

    /// Kills it; everything it had is removed. Killing a sandbox that is already gone
    /// (killed before, or past its timeout) succeeds, so `kill` in cleanup code never
    /// hides the error that led there.
    pub async fn kill(&mut self) -> Result<()> {
        if self.info.state == helix_hydra::SandboxState::Stopped {
            return Ok(());
        }
        let done = match &self.backend {
            Backend::Remote(c) => c.empty(c.request(Method::DELETE, &self.base())).await,
            Backend::Local(rt) => rt.kill(&self.info.id).await.map_err(hydra_error),
        };
        match done {
            Err(e) if e.code != "sandbox_not_found" => return Err(e),
            _ => {}
        }
        self.info.state = helix_hydra::SandboxState::Stopped;
        Ok(())
    }
}

enum Source {
    Remote(Records<ExecEvent>),
    Local(helix_hydra::ExecStream),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Remote(_) => "Remote",
            Source::Local(_) => "Local",
        })
    }
}

/// A running command's output, as it comes.
#[derive(Debug)]
pub struct ExecStream {
    source: Source,
    done: bool,
    /// The exit status, once read.
    exit: Option<(i64, bool)>,
}

impl ExecStream {
    /// The next event; `None` after `Exit`.
    pub async fn next_event(&mut self) -> Result<Option<ExecEvent>> {
        if self.done {
            return Ok(None);
        }
        let ev = match &mut self.source {
            Source::Remote(r) => r.next().await?,
            Source::Local(s) => s.next().await.transpose().map_err(hydra_error)?,
        };
        match &ev {
            Some(ExecEvent::Exit { code, timed_out }) => {
                self.done = true;
                self.exit = Some((*code, *timed_out));
            }
            Some(_) => {}
            None => {
                self.done = true;
                return Err(Error::new(
                    STREAM_ERROR,
                    "the command's stream ended before its exit status",
                ));
            }
        }
        Ok(ev)
    }

    /// Reads to the end, collecting the output not read yet (events already taken with
    /// `next_event` are not repeated); the exit status is the command's either way.
    pub async fn wait(&mut self) -> Result<CommandResult> {
        let mut out = CommandResult::default();
        while let Some(ev) = self.next_event().await? {
            match ev {
                ExecEvent::Stdout { data } => out.stdout.extend_from_slice(&data),
                ExecEvent::Stderr { data } => out.stderr.extend_from_slice(&data),
                ExecEvent::Exit { .. } => {}
            }
        }
        let (code, timed_out) = self.exit.ok_or_else(|| {
            Error::new(
                STREAM_ERROR,
                "the command's stream ended before its exit status",
            )
        })?;
        out.exit_code = code;
        out.timed_out = timed_out;
        Ok(out)
    }
}

/// A sandbox's output, in the pieces it arrives in.
pub struct LogStream {
    body: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogStream")
    }
}

impl LogStream {
    /// The next piece; `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        self.body.next().await.transpose()
    }
}
