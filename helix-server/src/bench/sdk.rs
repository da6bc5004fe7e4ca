//! `helix bench sdk`: what the Python and Node bindings add to a call of the Rust client
//! they wrap.
//!
//! Helix runs in-process in front of the fast canned upstream of `helix bench gateway`.
//! The same operations are timed three ways in one run: with `helix-client` in Rust (the
//! baseline), with the Python SDK (`bindings/bench/bench.py`, sync API) and with the
//! Node SDK (`bindings/bench/bench.cjs`), each client in a process of its own (the Rust
//! one is this binary again, `--rust-client`), as users run them:
//!
//! - `ffi`: an in-process call with no I/O (`Scheduler::now` of the embedded
//!   scheduler): the cost of crossing into Rust and back, mean of many calls;
//! - `call`: one HTTP call (`list_models`), p50 and p99;
//! - `stream`: a streamed chat answer read to its end (16 pieces), p50 and p99.

use super::gateway::{start_stack, Stack};
use super::pct;
use clap::Args;
use helix_client::{ChatChunk, Client, NewSession};
use helix_sched::{EmbeddedConfig, EmbeddedScheduler};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Flags of `helix bench sdk`.
#[derive(Debug, Clone, Args)]
pub struct SdkBenchArgs {
    /// The Python with the `helix` package installed (bindings/build.sh makes one).
    #[arg(long, env = "HELIX_SDK_PYTHON")]
    pub python: Option<PathBuf>,
    /// A folder with `@helix/sdk` installed (bindings/build.sh makes one).
    #[arg(long, env = "HELIX_SDK_NODE_DIR")]
    pub node_dir: Option<PathBuf>,
    /// HTTP calls timed per client.
    #[arg(long, default_value_t = 2000)]
    pub calls: usize,
    /// Streamed answers timed per client.
    #[arg(long, default_value_t = 200)]
    pub streams: usize,
    /// In-process calls per client (averaged).
    #[arg(long, default_value_t = 200_000)]
    pub ffi_calls: usize,
    /// Rounds; each runs every client once, in turn.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Internal: measure the Rust client against `URL KEY` and print the JSON the SDK
    /// scripts print (how the parent runs the baseline in a process of its own).
    #[arg(long, num_args = 2, value_names = ["URL", "KEY"], hide = true)]
    pub rust_client: Option<Vec<String>>,
    /// Measure the Rust baseline in this process instead of a child (tests).
    #[arg(long, hide = true)]
    pub rust_in_process: bool,
}

/// One client's measurements.
#[derive(Debug, Clone)]
pub struct SdkResult {
    /// `rust`, `python` or `node`.
    pub client: &'static str,
    /// Mean of an in-process call.
    pub ffi: Duration,
    /// HTTP call latencies.
    pub call: Vec<Duration>,
    /// Streamed answer latencies (to the last piece).
    pub stream: Vec<Duration>,
    /// Pieces per streamed answer.
    pub pieces: usize,
}

const MODEL: &str = "up/bench";

async fn rust(helix: &str, key: &str, args: &SdkBenchArgs) -> anyhow::Result<SdkResult> {
    let s = EmbeddedScheduler::new(EmbeddedConfig::default())?;
    for _ in 0..1000 {
        std::hint::black_box(s.now());
    }
    let t = Instant::now();
    for _ in 0..args.ffi_calls {
        std::hint::black_box(s.now());
    }
    let ffi = t.elapsed() / args.ffi_calls.max(1) as u32;

    let client = Client::new(helix, key)?;
    for _ in 0..50 {
        client.list_models().await?;
    }
    let mut call = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let t = Instant::now();
        client.list_models().await?;
        call.push(t.elapsed());
    }
    let (mut stream, mut pieces) = (Vec::with_capacity(args.streams), 0);
    for i in 0..args.streams + 5 {
        let session = client
            .create_session(NewSession {
                model: Some(MODEL.into()),
                ..Default::default()
            })
            .await?;
        let t = Instant::now();
        let mut answer = client.chat(session.id.as_str(), "hi").await?;
        let mut n = 0;
        while let Some(chunk) = answer.next_chunk().await? {
            if let ChatChunk::Text(_) = chunk {
                n += 1;
            }
        }
        if i >= 5 {
            stream.push(t.elapsed());
            pieces = n;
        }
    }
    Ok(SdkResult {
        client: "rust",
        ffi,
        call,
        stream,
        pieces,
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Measured {
    ffi_ns: f64,
    call_us: Vec<f64>,
    stream_us: Vec<f64>,
    pieces: usize,
}

/// Runs a client's measurements in a process of its own and reads its JSON.
async fn child(
    client: &'static str,
    mut cmd: tokio::process::Command,
    stack: &Stack,
    args: &SdkBenchArgs,
) -> anyhow::Result<SdkResult> {
    if client == "rust" {
        cmd.args([&stack.helix, &stack.key]).args([
            format!("--calls={}", args.calls),
            format!("--streams={}", args.streams),
            format!("--ffi-calls={}", args.ffi_calls),
        ]);
    } else {
        cmd.args([&stack.helix, &stack.key, MODEL])
            .args([args.calls, args.streams, args.ffi_calls].map(|n| n.to_string()));
    }
    cmd.env("RUST_LOG", "warn")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stderr(std::process::Stdio::inherit());
    let out = cmd.output().await?;
    anyhow::ensure!(
        out.status.success(),
        "the {client} bench failed: {}",
        out.status
    );
    // The JSON is the last line (anything a child logs comes before it).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let m: Measured = serde_json::from_str(last)
        .map_err(|e| anyhow::anyhow!("the {client} bench printed no result ({e}): {stdout}"))?;
    let us = |v: Vec<f64>| {
        v.into_iter()
            .map(|u| Duration::from_secs_f64(u / 1e6))
            .collect()
    };
    Ok(SdkResult {
        client,
        ffi: Duration::from_secs_f64(m.ffi_ns / 1e9),
        call: us(m.call_us),
        stream: us(m.stream_us),
        pieces: m.pieces,
    })
}

/// Runs the benchmark and prints a table.
pub async fn run(args: SdkBenchArgs) -> anyhow::Result<Vec<SdkResult>> {
    if let Some([url, key]) = args.rust_client.as_deref() {
        let r = rust(url, key, &args).await?;
        let us = |v: &[Duration]| v.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        let m = Measured {
            ffi_ns: r.ffi.as_secs_f64() * 1e9,
            call_us: us(&r.call),
            stream_us: us(&r.stream),
            pieces: r.pieces,
        };
        println!("{}", serde_json::to_string(&m)?);
        return Ok(vec![r]);
    }
    let stack = start_stack(0).await?;
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bindings/bench");
    println!(
        "helix bench sdk: helix {} in front of a canned upstream; {} calls, {} streams, {} in-process calls per client",
        stack.helix, args.calls, args.streams, args.ffi_calls
    );
    let mut results: Vec<SdkResult> = Vec::new();
    // Rounds interleave the clients, so a slow spell of the machine is shared out.
    for round in 1..=args.rounds.max(1) {
        eprintln!("  round {round}: rust ...");
        let r = if args.rust_in_process {
            rust(&stack.helix, &stack.key, &args).await?
        } else {
            let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
            cmd.args(["bench", "sdk", "--rust-client"]);
            child("rust", cmd, &stack, &args).await?
        };
        merge(&mut results, r);
        if let Some(py) = &args.python {
            eprintln!("  round {round}: python ...");
            let mut cmd = tokio::process::Command::new(py);
            cmd.arg(scripts.join("bench.py"));
            merge(&mut results, child("python", cmd, &stack, &args).await?);
        }
        if let Some(dir) = &args.node_dir {
            eprintln!("  round {round}: node ...");
            let mut cmd = tokio::process::Command::new("node");
            cmd.arg(scripts.join("bench.cjs")).arg(dir);
            merge(&mut results, child("node", cmd, &stack, &args).await?);
        }
    }
    if args.python.is_none() {
        eprintln!("  python: skipped (no --python / HELIX_SDK_PYTHON)");
    }
    if args.node_dir.is_none() {
        eprintln!("  node: skipped (no --node-dir / HELIX_SDK_NODE_DIR)");
    }
    print_table(&results);
    Ok(results)
}

/// Adds a round's samples to its client's (the in-process mean: averaged over rounds).
fn merge(results: &mut Vec<SdkResult>, r: SdkResult) {
    match results.iter_mut().find(|x| x.client == r.client) {
        Some(x) => {
            let rounds = (x.call.len() / r.call.len().max(1)) as u32;
            x.ffi = (x.ffi * rounds + r.ffi) / (rounds + 1);
            x.call.extend(r.call);
            x.stream.extend(r.stream);
        }
        None => results.push(r),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn print_table(results: &[SdkResult]) {
    println!(
        "{:<8} {:<7} {:>8} {:>11} {:>11} {:>12} {:>12} {:>7}",
        "op", "client", "n", "p50 us", "p99 us", "+p50 us", "+p99 us", "x p50"
    );
    let base = &results[0];
    for (op, pick) in [
        (
            "ffi",
            (|r: &SdkResult| vec![r.ffi]) as fn(&SdkResult) -> Vec<Duration>,
        ),
        ("call", |r| r.call.clone()),
        ("stream", |r| r.stream.clone()),
    ] {
        let mut b = pick(base);
        b.sort();
        for r in results {
            let mut v = pick(r);
            v.sort();
            let (p50, p99) = (us(pct(&v, 0.5)), us(pct(&v, 0.99)));
            let (b50, b99) = (us(pct(&b, 0.5)), us(pct(&b, 0.99)));
            let (d50, d99, ratio) = if r.client == base.client {
                ("baseline".into(), "baseline".into(), "1.00".into())
            } else {
                (
                    format!("{:+.2}", p50 - b50),
                    format!("{:+.2}", p99 - b99),
                    format!("{:.2}", p50 / b50),
                )
            };
            let n = if op == "ffi" { 1 } else { v.len() };
            println!(
                "{op:<8} {:<7} {n:>8} {p50:>11.3} {p99:>11.3} {d50:>12} {d99:>12} {ratio:>7}",
                r.client
            );
        }
    }
    for r in results {
        println!("{}: {} pieces per streamed answer", r.client, r.pieces);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_the_rust_baseline() {
        let args = SdkBenchArgs {
            python: None,
            node_dir: None,
            calls: 20,
            streams: 3,
            ffi_calls: 100,
            rounds: 2,
            rust_client: None,
            rust_in_process: true,
        };
        let results = run(args).await.unwrap();
        let [rust] = results.as_slice() else {
            panic!("{results:?}")
        };
        // Two rounds' samples, together.
        assert_eq!((rust.call.len(), rust.stream.len()), (40, 6));
        // The canned upstream streams 16 pieces; every one reaches the client.
        assert_eq!(rust.pieces, 16);
    }
}
