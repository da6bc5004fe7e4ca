//! `helix bench runners`: what Helix's runner path adds to a call to a real engine.
//!
//! A [`RunnerHub`] and an in-process runner agent (connected through
//! [`LocalConnector`], as in `helix serve`) serve the tiny test model with a real
//! `llama-server`. Every scenario is measured two ways in the same run, in alternating
//! blocks so that drift (CPU frequency, other load) hits both alike:
//! - **direct**: an HTTP call straight to the engine's `/v1/chat/completions` (the
//!   baseline), on a fresh loopback connection per call as the runner makes them
//!   (`--direct-keep-alive` reuses connections instead);
//! - **runner path**: the same call through [`RunnerPool`]'s provider: a queued slot
//!   granted by the scheduler, the request and the answer framed as runner-protocol
//!   messages over the in-memory connection, and the runner's HTTP hop to the engine.
//!
//! The overhead is the difference of the two, at p50 and p99. Streams are timed to
//! their first chunk (time to first token) and to their end.

use super::pct;
use crate::runner_cmd::LocalRunnerArgs;
use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use helix_core::providers::{ChatMessage, ChatRequest, Provider, ProviderPool};
use helix_sched::hub::{HubConfig, LocalConnector, RunnerHub, RunnerPool};
use helix_sched::runner::{Agent, AgentConfig, InstanceManager};
use helix_sched::{InstanceId, InstanceState, RunnerId};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flags of `helix bench runners`.
#[derive(Debug, Clone, Args)]
pub struct RunnersBenchArgs {
    /// The `llama-server` binary.
    #[arg(long, env = "HELIX_LLAMA_SERVER")]
    pub llama_server: String,
    /// The GGUF model to serve (the tiny test model: it answers quickly).
    #[arg(long, env = "HELIX_TEST_MODEL")]
    pub model: String,
    /// Requests per scenario and path.
    #[arg(long, default_value_t = 300)]
    pub requests: usize,
    /// Concurrency levels to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    pub concurrency: Vec<usize>,
    /// Requests per path in each alternating block.
    #[arg(long, default_value_t = 20)]
    pub block: usize,
    /// `max_tokens` of every call.
    #[arg(long, default_value_t = 8)]
    pub max_tokens: u32,
    /// An extra `llama-server` argument (repeat the flag; e.g. `--engine-arg=--poll
    /// --engine-arg=0`).
    #[arg(long = "engine-arg", allow_hyphen_values = true)]
    pub engine_args: Vec<String>,
    /// Let the baseline reuse its connections to the engine (the runner opens one per
    /// call). llama-server closes a connection after a streamed answer, so some
    /// baseline stream calls then fail and are made again.
    #[arg(long)]
    pub direct_keep_alive: bool,
}

/// One scenario's result on one path.
#[derive(Debug, Clone)]
pub struct RunnersResult {
    /// `plain`, `stream ttft` or `stream end`.
    pub scenario: &'static str,
    /// Concurrent clients.
    pub concurrency: usize,
    /// `direct` or `runner`.
    pub path: &'static str,
    /// Requests measured.
    pub requests: usize,
    /// p50 latency.
    pub p50: Duration,
    /// p99 latency.
    pub p99: Duration,
    /// Calls that failed (and were made again; not in the timings).
    pub failed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Direct,
    Runner,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Direct => "direct",
            Path::Runner => "runner",
        }
    }
}

/// One call's timings: to the end, and (streams) to the first chunk.
#[derive(Debug, Clone, Copy)]
struct Sample {
    total: Duration,
    first: Option<Duration>,
}

/// The two ways to the same engine.
struct Target {
    http: reqwest::Client,
    /// The engine's `/v1/chat/completions`.
    url: String,
    /// The model name the engine expects (what the runner rewrites `model` to).
    engine_model: String,
    /// The pool's provider for owner `bench`.
    provider: Box<dyn Provider>,
    max_tokens: u32,
}

const PROMPT: &str = "hi";

/// The request the runner path sends (the pool's provider sets `stream` itself).
fn pool_request(max_tokens: u32, stream: bool) -> ChatRequest {
    let mut extra = serde_json::Map::new();
    extra.insert("max_tokens".into(), json!(max_tokens));
    ChatRequest {
        model: "tiny".into(),
        messages: vec![ChatMessage {
            role: "user".into(),
            content: Some(json!(PROMPT)),
            extra: serde_json::Map::new(),
        }],
        stream: stream.then_some(true),
        extra,
    }
}

impl Target {
    fn direct_body(&self, stream: bool) -> Value {
        let mut body = json!({
            "model": self.engine_model,
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": self.max_tokens,
        });
        if stream {
            body["stream"] = json!(true);
        }
        body
    }

    async fn call(&self, path: Path, stream: bool) -> anyhow::Result<(Sample, String)> {
        match (path, stream) {
            (Path::Direct, false) => {
                let body = self.direct_body(false);
                let t = Instant::now();
                let resp = self.http.post(&self.url).json(&body).send().await?;
                anyhow::ensure!(resp.status().is_success(), "engine: {}", resp.status());
                let v: Value = resp.json().await?;
                let total = t.elapsed();
                Ok((Sample { total, first: None }, answer_text(&v)))
            }
            (Path::Runner, false) => {
                let req = pool_request(self.max_tokens, false);
                let t = Instant::now();
                let v = self.provider.chat(&req).await?;
                let total = t.elapsed();
                Ok((Sample { total, first: None }, answer_text(&v)))
            }
            (Path::Direct, true) => {
                let body = self.direct_body(true);
                let t = Instant::now();
                let resp = self.http.post(&self.url).json(&body).send().await?;
                anyhow::ensure!(resp.status().is_success(), "engine: {}", resp.status());
                let mut bytes = resp.bytes_stream();
                let mut buf: Vec<u8> = Vec::new();
                let mut first = None;
                let mut text = String::new();
                let mut done = false;
                while let Some(chunk) = bytes.next().await {
                    buf.extend_from_slice(&chunk?);
                    // Complete events end with a blank line.
                    while let Some(end) = find(&buf, b"\n\n") {
                        let event: Vec<u8> = buf.drain(..end + 2).collect();
                        let event = String::from_utf8_lossy(&event);
                        for data in event.lines().filter_map(|l| l.strip_prefix("data:")) {
                            let data = data.trim();
                            if data == "[DONE]" {
                                done = true;
                                continue;
                            }
                            let v: Value = serde_json::from_str(data)
                                .with_context(|| format!("bad chunk {data:?}"))?;
                            first.get_or_insert_with(|| t.elapsed());
                            text.push_str(delta_text(&v));
                        }
                    }
                }
                let total = t.elapsed();
                anyhow::ensure!(done, "engine stream ended without [DONE]");
                Ok((Sample { total, first }, text))
            }
            (Path::Runner, true) => {
                let req = pool_request(self.max_tokens, true);
                let t = Instant::now();
                let mut chunks = self.provider.chat_stream(&req).await?;
                let mut first = None;
                let mut text = String::new();
                while let Some(chunk) = chunks.next().await {
                    let v = chunk?;
                    first.get_or_insert_with(|| t.elapsed());
                    text.push_str(delta_text(&v));
                }
                let total = t.elapsed();
                Ok((Sample { total, first }, text))
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn answer_text(v: &Value) -> String {
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn delta_text(v: &Value) -> &str {
    v["choices"][0]["delta"]["content"]
        .as_str()
        .unwrap_or_default()
}

/// Which timing of a sample a scenario reports.
type Pick = fn(&Sample) -> Option<Duration>;

/// What one path gave so far: timings of the calls that succeeded, and the calls that
/// failed (retried, so that every path gets its number of timings).
#[derive(Debug, Default)]
struct Tally {
    samples: Vec<Sample>,
    failed: usize,
    first_error: Option<String>,
}

/// `n` successful calls on `path` by `concurrency` clients sharing the budget; a call
/// that fails is counted, reported and made again.
async fn block(
    target: &Arc<Target>,
    path: Path,
    stream: bool,
    concurrency: usize,
    n: usize,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let budget = Arc::new(AtomicUsize::new(n));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (target, budget) = (target.clone(), budget.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Tally::default();
            while budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                match target.call(path, stream).await {
                    Ok((sample, _)) => out.samples.push(sample),
                    Err(e) => {
                        out.failed += 1;
                        out.first_error.get_or_insert_with(|| format!("{e:#}"));
                        anyhow::ensure!(out.failed <= n, "too many failures: {e:#}");
                        budget.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            anyhow::Ok(out)
        }));
    }
    for w in workers {
        let out = w.await??;
        tally.samples.extend(out.samples);
        tally.failed += out.failed;
        if tally.first_error.is_none() {
            tally.first_error = out.first_error;
        }
    }
    Ok(())
}

/// The hub and the in-process runner.
struct Running {
    hub: RunnerHub,
    pool: RunnerPool,
    manager: Arc<InstanceManager>,
    stop: tokio::sync::watch::Sender<bool>,
    agent: tokio::task::JoinHandle<()>,
}

/// Starts the hub and the in-process runner (connected in memory, as in `helix serve`);
/// no engine runs until the first call.
fn start(args: &RunnersBenchArgs, state_dir: &std::path::Path) -> anyhow::Result<Running> {
    let max_parallel = args.concurrency.iter().copied().max().unwrap_or(1).max(1);
    let mut model = format!(
        "name=tiny,runtime=llama_cpp,source={},ctx=1024,parallel={max_parallel},binary={}",
        args.model, args.llama_server
    );
    if args.direct_keep_alive {
        // llama-server's HTTP server holds a thread per open connection until it has
        // been idle for 5 s: give it threads for the baseline's idle connections too,
        // or the runner's calls wait for them to time out.
        model.push_str(&format!(
            ",arg=--threads-http,arg={}",
            (4 * max_parallel).max(8)
        ));
    }
    for arg in &args.engine_args {
        anyhow::ensure!(!arg.contains(','), "--engine-arg {arg:?}: no commas");
        model.push_str(&format!(",arg={arg}"));
    }
    let local = LocalRunnerArgs {
        models: vec![model],
        gpus: vec!["cpu:2GiB".into()],
        state_dir: state_dir.to_owned(),
    };
    // The manager is kept: it knows the engine's URL, for the direct baseline.
    let (gpus, offers, manager) = local.build()?;
    let hub = RunnerHub::new(HubConfig::default());
    let pool = RunnerPool::new(hub.clone(), Duration::from_secs(120));
    let agent = Agent::new(
        AgentConfig::new(None, "bench"),
        gpus,
        offers,
        manager.clone(),
    );
    let connector = LocalConnector::new(hub.clone(), RunnerId::from("bench"));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(async move {
        let stopped = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = agent.run(&connector, stopped).await {
            tracing::error!(error = %e, "bench runner stopped");
        }
    });
    Ok(Running {
        hub,
        pool,
        manager,
        stop,
        agent,
    })
}

/// One call through the pool (the scheduler starts the engine and loads the model),
/// then the instance it placed, from the hub's view.
async fn warm_up(args: &RunnersBenchArgs, running: &Running) -> anyhow::Result<InstanceId> {
    // The runner connects in the background; until its hello, no model is offered.
    let t = Instant::now();
    while !running.hub.model_names().iter().any(|m| m == "tiny") {
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(30),
            "the in-process runner did not connect"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("  starting llama-server through the runner (the first call loads the model) ...");
    let t = Instant::now();
    let answer = running
        .pool
        .provider("bench")
        .chat(&pool_request(args.max_tokens, false))
        .await
        .context("first call through the runner")?;
    eprintln!(
        "  ready in {:.1} s; answer: {:?}",
        t.elapsed().as_secs_f64(),
        answer_text(&answer)
    );
    running
        .hub
        .view()
        .runners
        .iter()
        .flat_map(|r| &r.instances)
        .find(|i| i.model == "tiny" && i.state == InstanceState::Ready)
        .map(|i| i.id.clone())
        .context("no ready instance of tiny in the scheduler's view")
}

/// Runs the benchmark and prints a table.
pub async fn run(args: RunnersBenchArgs) -> anyhow::Result<Vec<RunnersResult>> {
    anyhow::ensure!(args.requests > 0 && args.block > 0, "nothing to measure");
    anyhow::ensure!(
        args.concurrency.iter().all(|&c| c > 0),
        "concurrency must be at least 1"
    );
    let dir = tempfile::tempdir()?;
    let running = start(&args, dir.path())?;
    let result = async {
        let instance = warm_up(&args, &running).await?;
        measure(&args, &running.pool, &running.manager, &instance).await
    }
    .await;
    // Stop the runner (and its engine) whatever happened.
    let _ = running.stop.send(true);
    let _ = running.agent.await;
    running.hub.shutdown();
    let results = result?;
    print_table(&results);
    Ok(results)
}

async fn measure(
    args: &RunnersBenchArgs,
    pool: &RunnerPool,
    manager: &InstanceManager,
    instance: &InstanceId,
) -> anyhow::Result<Vec<RunnersResult>> {
    let base = manager
        .base_url(instance)
        .context("the instance has no engine URL")?;
    let url = base
        .join("v1/chat/completions")
        .context("engine url")?
        .to_string();
    let max_conc = args.concurrency.iter().copied().max().unwrap_or(1);
    let target = Arc::new(Target {
        http: reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(if args.direct_keep_alive { max_conc } else { 0 })
            .build()?,
        url,
        engine_model: manager
            .upstream_model(instance)
            .unwrap_or_else(|| "tiny".into()),
        provider: pool.provider("bench"),
        max_tokens: args.max_tokens,
    });
    println!(
        "helix bench runners: {} on {} (instance {instance} at {base}); max_tokens {}; {} calls per scenario and path in alternating blocks of {}; direct calls {}",
        args.model,
        args.llama_server,
        args.max_tokens,
        args.requests,
        args.block,
        if args.direct_keep_alive {
            "reuse connections"
        } else {
            "open a connection each, as the runner does"
        }
    );

    // Both paths answer, and alike.
    for stream in [false, true] {
        let (_, direct) = target.call(Path::Direct, stream).await?;
        let (_, runner) = target.call(Path::Runner, stream).await?;
        anyhow::ensure!(
            !direct.is_empty() && direct == runner,
            "the paths answer differently (stream {stream}): direct {direct:?}, runner {runner:?}"
        );
    }

    let mut results = Vec::new();
    for stream in [false, true] {
        for &conc in &args.concurrency {
            let mode = if stream { "stream" } else { "plain" };
            // Warm both paths' connections at this concurrency.
            for path in [Path::Direct, Path::Runner] {
                block(&target, path, stream, conc, 2 * conc, &mut Tally::default()).await?;
            }
            let mut direct = Tally::default();
            let mut runner = Tally::default();
            let mut round = 0;
            while direct.samples.len() < args.requests || runner.samples.len() < args.requests {
                // Alternate which path goes first in each round.
                let order = if round % 2 == 0 {
                    [Path::Direct, Path::Runner]
                } else {
                    [Path::Runner, Path::Direct]
                };
                for path in order {
                    let done = match path {
                        Path::Direct => &mut direct,
                        Path::Runner => &mut runner,
                    };
                    let n = args.block.min(args.requests - done.samples.len());
                    if n > 0 {
                        block(&target, path, stream, conc, n, done).await?;
                    }
                }
                round += 1;
                eprintln!(
                    "  {mode} x{conc}: {}/{} per path",
                    direct.samples.len().min(runner.samples.len()),
                    args.requests
                );
            }
            for (path, tally) in [(Path::Direct, &direct), (Path::Runner, &runner)] {
                if let Some(e) = &tally.first_error {
                    eprintln!(
                        "  {mode} x{conc}: {} {} calls failed and were made again; first: {e}",
                        tally.failed,
                        path.name()
                    );
                }
                let scenarios: &[(&'static str, Pick)] = if stream {
                    &[
                        ("stream ttft", |s| s.first),
                        ("stream end", |s| Some(s.total)),
                    ]
                } else {
                    &[("plain", |s| Some(s.total))]
                };
                for (scenario, pick) in scenarios {
                    let mut lat: Vec<Duration> = tally.samples.iter().filter_map(pick).collect();
                    lat.sort();
                    results.push(RunnersResult {
                        scenario,
                        concurrency: conc,
                        path: path.name(),
                        requests: lat.len(),
                        p50: pct(&lat, 0.5),
                        p99: pct(&lat, 0.99),
                        failed: tally.failed,
                    });
                }
            }
        }
    }
    Ok(results)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_table(results: &[RunnersResult]) {
    println!(
        "{:<12} {:>5} {:>9} {:>11} {:>11} {:>11} {:>11} {:>9} {:>9} {:>9}",
        "scenario",
        "conc",
        "requests",
        "direct p50",
        "direct p99",
        "runner p50",
        "runner p99",
        "+p50 ms",
        "+p99 ms",
        "failed"
    );
    for d in results.iter().filter(|r| r.path == "direct") {
        let Some(r) = results.iter().find(|r| {
            r.path == "runner" && r.scenario == d.scenario && r.concurrency == d.concurrency
        }) else {
            continue;
        };
        println!(
            "{:<12} {:>5} {:>9} {:>11.3} {:>11.3} {:>11.3} {:>11.3} {:>+9.3} {:>+9.3} {:>9}",
            d.scenario,
            d.concurrency,
            d.requests.min(r.requests),
            ms(d.p50),
            ms(d.p99),
            ms(r.p50),
            ms(r.p99),
            ms(r.p50) - ms(d.p50),
            ms(r.p99) - ms(d.p99),
            format!("{}/{}", d.failed, r.failed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs a real engine: skipped unless `HELIX_LLAMA_SERVER` and `HELIX_TEST_MODEL`
    /// are set (`scripts/llama.sh`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_direct_and_through_the_runner() {
        let (Ok(llama_server), Ok(model)) = (
            std::env::var("HELIX_LLAMA_SERVER"),
            std::env::var("HELIX_TEST_MODEL"),
        ) else {
            assert!(
                std::env::var("HELIX_TEST_REQUIRE_LLAMA").as_deref() != Ok("1"),
                "HELIX_TEST_REQUIRE_LLAMA=1 but HELIX_LLAMA_SERVER or HELIX_TEST_MODEL is not set"
            );
            eprintln!("llama-server not available: bench runners test not run");
            return;
        };
        let args = RunnersBenchArgs {
            llama_server,
            model,
            requests: 6,
            concurrency: vec![2],
            block: 3,
            max_tokens: 8,
            engine_args: Vec::new(),
            direct_keep_alive: false,
        };
        let results = run(args).await.unwrap();
        assert_eq!(
            results.len(),
            6,
            "plain, stream ttft and stream end; direct and runner"
        );
        assert!(
            results.iter().all(|r| r.requests == 6 && r.p50 <= r.p99),
            "{results:?}"
        );
    }
}
