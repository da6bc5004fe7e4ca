//! Creates a sandbox, runs a command in it with its output streamed as it comes, reads a
//! file it wrote, and kills it. On a Helix server (`HELIX_URL`, `HELIX_API_KEY`), or with
//! `--local ROOTFS.tar` in this process (a dockerd of its own; root and Docker needed):
//!
//! ```sh
//! HELIX_URL=http://localhost:8080 HELIX_API_KEY=hx-... \
//!   cargo run -p helix-examples --bin sandbox_run -- --image python:3.12 -- python -V
//! sudo cargo run -p helix-examples --bin sandbox_run -- --local busybox.tar
//! ```

use anyhow::Context;
use helix_client::{
    Client, ExecEvent, ExecSpec, LocalConfig, LocalSandboxes, Sandbox, SandboxSpec,
};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

struct Args {
    local: Option<PathBuf>,
    image: String,
    cmd: Vec<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        local: None,
        image: std::env::var("HELIX_SANDBOX_IMAGE").unwrap_or_else(|_| "busybox:1".into()),
        cmd: Vec::new(),
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--local" => a.local = Some(it.next().context("--local needs ROOTFS.tar")?.into()),
            "--image" => a.image = it.next().context("--image needs a name")?,
            "--" => a.cmd = it.by_ref().collect(),
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    if a.cmd.is_empty() {
        a.cmd = [
            "sh",
            "-c",
            "for i in 1 2 3; do echo step $i; sleep 0.2; done; echo ok > /tmp/result.txt",
        ]
        .map(String::from)
        .to_vec();
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let spec = SandboxSpec {
        image: a.image.clone(),
        timeout: Some(Duration::from_secs(300)),
        ..SandboxSpec::default()
    };
    // The same `Sandbox` either way; only where it runs differs.
    let (sandbox, local) = match &a.local {
        Some(rootfs) => {
            let mut cfg = LocalConfig::new(std::env::temp_dir().join("helix-example-sandboxes"));
            cfg.images.push((a.image.clone(), rootfs.clone()));
            let host = LocalSandboxes::start(cfg).await?;
            (host.create_sandbox(spec).await?, Some(host))
        }
        None => {
            let url = std::env::var("HELIX_URL").context("set HELIX_URL (or use --local)")?;
            let key = std::env::var("HELIX_API_KEY").context("set HELIX_API_KEY")?;
            (Client::new(&url, &key)?.create_sandbox(spec).await?, None)
        }
    };
    println!("sandbox {} ({})", sandbox.id(), a.image);
    let result = run(sandbox, &a.cmd).await;
    if let Some(host) = local {
        host.shutdown().await;
    }
    let code = result?;
    println!("exit status {code}");
    std::process::exit(code.clamp(0, 255) as i32)
}

/// Runs the command and kills the sandbox, whatever happened.
async fn run(mut sandbox: Sandbox, cmd: &[String]) -> anyhow::Result<i64> {
    let result = run_in(&sandbox, cmd).await;
    sandbox.kill().await?;
    result
}

async fn run_in(sandbox: &Sandbox, cmd: &[String]) -> anyhow::Result<i64> {
    let mut stream = sandbox.run(ExecSpec::new(cmd.iter().cloned())).await?;
    let mut code = -1;
    while let Some(ev) = stream.next_event().await? {
        match ev {
            ExecEvent::Stdout { data } => std::io::stdout().write_all(&data)?,
            ExecEvent::Stderr { data } => std::io::stderr().write_all(&data)?,
            ExecEvent::Exit { code: c, .. } => code = c,
        }
    }
    match sandbox.read_file("/tmp/result.txt").await {
        Ok(b) => println!("/tmp/result.txt: {}", String::from_utf8_lossy(&b).trim()),
        Err(e) if e.is_not_found() => println!("(no /tmp/result.txt)"),
        Err(e) => return Err(e.into()),
    }
    Ok(code)
}
