//! `helix sandbox ...`: a command-line client of the sandbox API of a Helix server, for
//! scripts and CI jobs (`create`, `ls`, `exec`, `put`, `get`, `logs`, `kill`), over
//! `helix-client`.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use helix_client::{Client, ExecEvent, ExecSpec, Limits, SandboxSpec};
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

/// A handle on sandbox `id` (one GET: an unknown id fails here with the server's code).
async fn sandbox(c: &Client, id: &str) -> anyhow::Result<helix_client::Sandbox> {
    Ok(c.connect_sandbox(id).await?)
}

/// Runs the command; returns the process exit code. A server error reads
/// `CODE (STATUS): MESSAGE`.
pub async fn run(cli: SandboxCli) -> anyhow::Result<i32> {
    run_command(cli)
        .await
        .map_err(|e| match e.downcast::<helix_client::Error>() {
            Ok(e) => match e.status {
                Some(status) => anyhow::anyhow!("{} ({status}): {}", e.code, e.message),
                None => anyhow::anyhow!("{}: {}", e.code, e.message),
            },
            Err(e) => e,
        })
}

async fn run_command(cli: SandboxCli) -> anyhow::Result<i32> {
    let c = Client::builder(&cli.remote.server, &cli.remote.api_key)
        .user_agent(format!("helix-cli/{}", env!("CARGO_PKG_VERSION")))
        .build()?;
    match cli.command {
        SandboxCommand::Create {
            image,
            env,
            labels,
            timeout,
            cpus,
            memory_bytes,
        } => {
            let timeout = timeout
                .map(|t| {
                    std::time::Duration::try_from_secs_f64(t)
                        .map_err(|e| anyhow::anyhow!("--timeout: {e}"))
                })
                .transpose()?;
            let spec = SandboxSpec {
                image,
                env: pairs(&env, "--env")?,
                labels: pairs(&labels, "--label")?,
                limits: Limits {
                    cpus,
                    memory_bytes,
                    ..Default::default()
                },
                timeout,
                ..Default::default()
            };
            println!("{}", c.create_sandbox(spec).await?.id());
        }
        SandboxCommand::Ls => {
            for s in c.list_sandboxes().await? {
                let state = serde_json::to_value(s.state)?;
                println!(
                    "{}  {:8}  {}  expires {}",
                    s.id.as_str(),
                    state.as_str().unwrap_or(""),
                    s.image,
                    s.expires_at.to_rfc3339()
                );
            }
        }
        SandboxCommand::Exec {
            id,
            cwd,
            timeout,
            cmd,
        } => {
            let timeout = timeout
                .map(|t| {
                    std::time::Duration::try_from_secs_f64(t)
                        .map_err(|e| anyhow::anyhow!("--timeout: {e}"))
                })
                .transpose()?;
            let spec = ExecSpec {
                cmd,
                cwd,
                timeout,
                ..Default::default()
            };
            let mut stream = sandbox(&c, &id).await?.run(spec).await?;
            return stream_exec(&mut stream).await;
        }
        SandboxCommand::Put { id, local, path } => {
            let data =
                std::fs::read(&local).with_context(|| format!("read {}", local.display()))?;
            sandbox(&c, &id).await?.write_file(&path, data).await?;
        }
        SandboxCommand::Get { id, path, local } => {
            let bytes = sandbox(&c, &id).await?.read_file(&path).await?;
            match local {
                Some(p) => {
                    std::fs::write(&p, &bytes).with_context(|| format!("write {}", p.display()))?
                }
                None => std::io::stdout().write_all(&bytes)?,
            }
        }
        SandboxCommand::Logs { id, follow } => {
            let mut logs = sandbox(&c, &id).await?.logs_stream(follow).await?;
            let mut out = std::io::stdout();
            while let Some(chunk) = logs.next_chunk().await? {
                out.write_all(&chunk)?;
                out.flush()?;
            }
        }
        SandboxCommand::Kill { id } => sandbox(&c, &id).await?.kill().await?,
    }
    Ok(0)
}

/// Copies a command's output to stdout/stderr as it comes; returns its exit code.
async fn stream_exec(stream: &mut helix_client::ExecStream) -> anyhow::Result<i32> {
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    while let Some(ev) = stream.next_event().await? {
        match ev {
            ExecEvent::Stdout { data } => {
                out.write_all(&data)?;
                out.flush()?;
            }
            ExecEvent::Stderr { data } => {
                err.write_all(&data)?;
                err.flush()?;
            }
            ExecEvent::Exit { code, timed_out } => {
                if timed_out {
                    eprintln!("helix sandbox exec: the command timed out");
                }
                return Ok(code.clamp(0, 255) as i32);
            }
        }
    }
    bail!("the stream ended without an exit status")
}
