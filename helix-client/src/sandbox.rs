//! Sandboxes, in the shape of E2B-style SDKs: create, run a command with streamed
//! output, files, a port exposed through the control plane, a timeout, kill.

use crate::client::{path_id, Client};
use crate::error::{Error, Result, STREAM_ERROR};
use crate::stream::{Framing, Records};
use bytes::Bytes;
use helix_hydra::{ExecEvent, ExecSpec, FileEntry, SandboxInfo, SandboxSpec};
use reqwest::Method;
use std::time::Duration;

impl Client {
    /// Creates a sandbox; it is running (a command can be run at once) when this returns.
    pub async fn create_sandbox(&self, spec: SandboxSpec) -> Result<Sandbox> {
        let info: SandboxInfo = self
            .json(self.request(Method::POST, "api/v1/sandboxes").json(&spec))
            .await?;
        Ok(Sandbox {
            client: self.clone(),
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
            client: self.clone(),
            info,
        })
    }

    /// The caller's sandboxes.
    pub async fn list_sandboxes(&self) -> Result<Vec<SandboxInfo>> {
        self.json(self.request(Method::GET, "api/v1/sandboxes"))
            .await
    }
}

/// A sandbox on the server. Dropping the handle leaves the sandbox running until its
/// timeout; [`Sandbox::kill`] ends it now.
#[derive(Debug, Clone)]
pub struct Sandbox {
    client: Client,
    info: SandboxInfo,
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
    /// Its id (`sbx_...`).
    pub fn id(&self) -> &str {
        self.info.id.as_str()
    }

    /// What the server said of it when this handle was made or last refreshed.
    pub fn info(&self) -> &SandboxInfo {
        &self.info
    }

    fn path(&self, rest: &str) -> String {
        format!("api/v1/sandboxes/{}/{rest}", self.info.id.as_str())
    }

    /// Asks the server for its state now.
    pub async fn refresh(&mut self) -> Result<&SandboxInfo> {
        let c = &self.client;
        self.info = c
            .json(c.request(
                Method::GET,
                &format!("api/v1/sandboxes/{}", self.info.id.as_str()),
            ))
            .await?;
        Ok(&self.info)
    }

    /// Starts a command; its output streams back as [`ExecEvent`]s, `Exit` last.
    pub async fn run(&self, spec: ExecSpec) -> Result<ExecStream> {
        let c = &self.client;
        let resp = c
            .send(c.request(Method::POST, &self.path("exec")).json(&spec))
            .await?;
        Ok(ExecStream {
            records: Records::new(resp, Framing::Ndjson),
            done: false,
            exit: None,
        })
    }

    /// Reads a file (absolute path).
    pub async fn read_file(&self, path: &str) -> Result<Bytes> {
        let c = &self.client;
        let resp = c
            .send(
                c.request(Method::GET, &self.path("files"))
                    .query(&[("path", path)]),
            )
            .await?;
        resp.bytes().await.map_err(Error::transport)
    }

    /// Writes a file (absolute path), creating its folders and replacing what was there.
    pub async fn write_file(&self, path: &str, data: impl Into<Bytes>) -> Result<()> {
        let c = &self.client;
        let req = c
            .request(Method::PUT, &self.path("files"))
            .query(&[("path", path)])
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(data.into());
        c.empty(req).await
    }

    /// Lists a folder.
    pub async fn list_dir(&self, path: &str) -> Result<Vec<FileEntry>> {
        let c = &self.client;
        c.json(
            c.request(Method::GET, &self.path("dir"))
                .query(&[("path", path)]),
        )
        .await
    }

    /// The URL at which the control plane relays HTTP to `port` inside the sandbox (call
    /// it with the same API key).
    pub fn host(&self, port: u16) -> String {
        self.client.url(&self.path(&format!("ports/{port}/")))
    }

    /// Gives it `timeout` more to live, counted from now.
    pub async fn set_timeout(&mut self, timeout: Duration) -> Result<&SandboxInfo> {
        let c = &self.client;
        let body = serde_json::json!({ "timeout": timeout.as_secs_f64() });
        self.info = c
            .json(c.request(Method::POST, &self.path("timeout")).json(&body))
            .await?;
        Ok(&self.info)
    }

    /// What the workspace's main process has written so far.
    pub async fn logs(&self) -> Result<String> {
        let c = &self.client;
        let resp = c.send(c.request(Method::GET, &self.path("logs"))).await?;
        resp.text().await.map_err(Error::transport)
    }

    /// The workspace's output as it comes; with `follow`, the stream stays open for new
    /// output until the sandbox stops.
    pub async fn logs_stream(&self, follow: bool) -> Result<LogStream> {
        let c = &self.client;
        let resp = c
            .send(
                c.request(Method::GET, &self.path("logs"))
                    .query(&[("follow", follow)]),
            )
            .await?;
        Ok(LogStream {
            body: Box::pin(resp.bytes_stream()),
        })
    }

    /// Kills it; everything it had is removed.
    pub async fn kill(&self) -> Result<()> {
        let c = &self.client;
        c.empty(c.request(
            Method::DELETE,
            &format!("api/v1/sandboxes/{}", self.info.id.as_str()),
        ))
        .await
    }
}

/// A running command's output, as it comes.
#[derive(Debug)]
pub struct ExecStream {
    records: Records<ExecEvent>,
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
        let ev = self.records.next().await?;
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
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Bytes>> + Send>>,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogStream")
    }
}

impl LogStream {
    /// The next piece; `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        use futures::StreamExt;
        match self.body.next().await {
            Some(Ok(b)) => Ok(Some(b)),
            Some(Err(e)) => Err(Error::new(
                STREAM_ERROR,
                format!("the log stream broke: {}", e.without_url()),
            )),
            None => Ok(None),
        }
    }
}
