//! `helix sandbox ...`: a command-line client of the sandbox API of a Helix server, for
//! scripts and CI jobs (`create`, `ls`, `exec`, `put`, `get`, `logs`, `kill`).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

/// Where the server is and who is calling.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The Helix server, `http(s)://host:port`.
    #[arg(long, env = "HELIX_SERVER", default_value = "http://localhost:8080")]
    pub server: String,
    /// A Helix API key (`hx-...`).
    #[arg(long, env = "HELIX_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

/// `helix sandbox`.
#[derive(Debug, Args)]
pub struct SandboxCli {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: SandboxCommand,
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Create a sandbox; prints its id.
    Create {
        /// Image of its workspace.
        #[arg(long)]
        image: String,
        /// `NAME=VALUE` (repeat).
        #[arg(long = "env")]
        env: Vec<String>,
        /// `KEY=VALUE` (repeat).
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long)]
        timeout: Option<f64>,
        /// CPU cores.
        #[arg(long)]
        cpus: Option<f64>,
        /// Memory in bytes.
        #[arg(long)]
        memory_bytes: Option<u64>,
    },
    /// List your sandboxes.
    Ls,
    /// Run a command; its output streams to stdout/stderr and its exit code is ours.
    Exec {
        /// Sandbox id.
        id: String,
        /// Working directory.
        #[arg(long)]
        cwd: Option<String>,
        /// Kill the command after this many seconds.
        #[arg(long)]
        timeout: Option<f64>,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// Upload a local file to a path in the sandbox.
    Put {
        /// Sandbox id.
        id: String,
        /// Local file.
        local: std::path::PathBuf,
        /// Absolute path in the sandbox.
        path: String,
    },
    /// Download a file from the sandbox (to stdout without LOCAL).
    Get {
        /// Sandbox id.
        id: String,
        /// Absolute path in the sandbox.
        path: String,
        /// Local file to write.
        local: Option<std::path::PathBuf>,
    },
    /// The workspace's output.
    Logs {
        /// Sandbox id.
        id: String,
        /// Keep streaming.
        #[arg(long)]
        follow: bool,
    },
    /// Kill a sandbox and remove everything it had.
    Kill {
        /// Sandbox id.
        id: String,
    },
}

fn pairs(items: &[String], what: &str) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("bad {what} {kv:?}: expected KEY=VALUE"))
        })
        .collect()
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    async fn check(resp: reqwest::Response) -> anyhow::Result<reqwest::Response> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        bail!(
            "{} ({}): {}",
            body["error"]["code"].as_str().unwrap_or("error"),
            status.as_u16(),
            body["error"]["message"].as_str().unwrap_or("")
        )
    }
}

/// Runs the command; returns the process exit code.
pub async fn run(cli: SandboxCli) -> anyhow::Result<i32> {
    let c = Client {
        http: reqwest::Client::new(),
        base: cli.remote.server.trim_end_matches('/').to_owned(),
        key: cli.remote.api_key.clone(),
    };
    use reqwest::Method as M;
    match cli.command {
        SandboxCommand::Create {
            image,
            env,
            labels,
            timeout,
            cpus,
            memory_bytes,
        } => {
            let mut body = json!({
                "image": image,
                "env": pairs(&env, "--env")?,
                "labels": pairs(&labels, "--label")?,
                "limits": {"cpus": cpus, "memory_bytes": memory_bytes},
            });
            if let Some(t) = timeout {
                body["timeout"] = json!(t);
            }
            let resp = Client::check(
                c.req(M::POST, "/api/v1/sandboxes")
                    .json(&body)
                    .send()
                    .await?,
            )
            .await?;
            let info: Value = resp.json().await?;
            println!("{}", info["id"].as_str().unwrap_or_default());
        }
        SandboxCommand::Ls => {
            let resp = Client::check(c.req(M::GET, "/api/v1/sandboxes").send().await?).await?;
            let list: Vec<Value> = resp.json().await?;
            for s in list {
                println!(
                    "{}  {:8}  {}  expires {}",
                    s["id"].as_str().unwrap_or(""),
                    s["state"].as_str().unwrap_or(""),
                    s["image"].as_str().unwrap_or(""),
                    s["expires_at"].as_str().unwrap_or("")
                );
            }
        }
        SandboxCommand::Exec {
            id,
            cwd,
            timeout,
            cmd,
        } => {
            let body = json!({"cmd": cmd, "cwd": cwd, "timeout": timeout});
            let resp = Client::check(
                c.req(M::POST, &format!("/api/v1/sandboxes/{id}/exec"))
                    .json(&body)
                    .send()
                    .await?,
            )
            .await?;
            return stream_exec(resp).await;
        }
        SandboxCommand::Put { id, local, path } => {
            let data =
                std::fs::read(&local).with_context(|| format!("read {}", local.display()))?;
            Client::check(
                c.req(M::PUT, &format!("/api/v1/sandboxes/{id}/files"))
                    .query(&[("path", &path)])
                    .body(data)
                    .send()
                    .await?,
            )
            .await?;
        }
        SandboxCommand::Get { id, path, local } => {
            let resp = Client::check(
                c.req(M::GET, &format!("/api/v1/sandboxes/{id}/files"))
                    .query(&[("path", &path)])
                    .send()
                    .await?,
            )
            .await?;
            let bytes = resp.bytes().await?;
            match local {
                Some(p) => {
                    std::fs::write(&p, &bytes).with_context(|| format!("write {}", p.display()))?
                }
                None => std::io::stdout().write_all(&bytes)?,
            }
        }
        SandboxCommand::Logs { id, follow } => {
            let resp = Client::check(
                c.req(M::GET, &format!("/api/v1/sandboxes/{id}/logs"))
                    .query(&[("follow", follow)])
                    .send()
                    .await?,
            )
            .await?;
            let mut body = resp.bytes_stream();
            let mut out = std::io::stdout();
            while let Some(chunk) = body.next().await {
                out.write_all(&chunk?)?;
                out.flush()?;
            }
        }
        SandboxCommand::Kill { id } => {
            Client::check(
                c.req(M::DELETE, &format!("/api/v1/sandboxes/{id}"))
                    .send()
                    .await?,
            )
            .await?;
        }
    }
    Ok(0)
}

/// Copies NDJSON exec events to stdout/stderr as they come; returns the exit code.
async fn stream_exec(resp: reqwest::Response) -> anyhow::Result<i32> {
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk?);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let ev: Value = serde_json::from_slice(&line).context("bad event from the server")?;
            match ev["type"].as_str() {
                Some("stdout") => {
                    out.write_all(ev["data"].as_str().unwrap_or("").as_bytes())?;
                    out.flush()?;
                }
                Some("stderr") => {
                    err.write_all(ev["data"].as_str().unwrap_or("").as_bytes())?;
                    err.flush()?;
                }
                Some("exit") => {
                    if ev["timed_out"].as_bool() == Some(true) {
                        eprintln!("helix sandbox exec: the command timed out");
                    }
                    return Ok(ev["code"].as_i64().unwrap_or(1).clamp(0, 255) as i32);
                }
                Some("error") => bail!(
                    "{}: {}",
                    ev["code"].as_str().unwrap_or("error"),
                    ev["message"].as_str().unwrap_or("")
                ),
                _ => {}
            }
        }
    }
    bail!("the stream ended without an exit status")
}
