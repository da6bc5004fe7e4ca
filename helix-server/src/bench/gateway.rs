//! `helix bench gateway`: what Helix adds to a model call.
//!
//! A fast OpenAI-compatible upstream runs in-process on loopback (a canned completion;
//! a stream of 16 chunks plus usage), so the upstream costs almost nothing and what is
//! measured is the gateway. Every scenario runs twice in the same run: straight to the
//! upstream (the baseline) and through Helix's `/v1` with an API key (authentication,
//! model resolution, provider call, usage metering, SSE re-encoding). The overhead is
//! the difference of the two, at p50 and p99.

use super::{closed_loop, pct};
use crate::state::{AppState, HttpSettings};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use clap::Args;
use helix_core::{ControlPlane, SecretBox, SqlStore};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Flags of `helix bench gateway`.
#[derive(Debug, Clone, Args)]
pub struct GatewayBenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Most requests per measurement.
    #[arg(long, default_value_t = 20_000)]
    pub max_requests: usize,
    /// Concurrency levels to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    pub concurrency: Vec<usize>,
    /// Measure through this other OpenAI-compatible gateway too (its base URL, e.g.
    /// `http://127.0.0.1:4000/v1`), configured to forward model `bench` to the upstream
    /// URL this command prints.
    #[arg(long)]
    pub other: Option<String>,
    /// Port of the in-process upstream (0: any), so another gateway can be pointed at it.
    #[arg(long, default_value_t = 0)]
    pub upstream_port: u16,
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct GatewayResult {
    /// `plain` or `stream`.
    pub mode: &'static str,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Which path.
    pub path: &'static str,
    /// Requests measured.
    pub requests: usize,
    /// p50 latency (streams: to the end of the stream).
    pub p50: Duration,
    /// p99 latency.
    pub p99: Duration,
}

const CHUNKS: usize = 16;

async fn upstream_chat(axum::Json(req): axum::Json<Value>) -> axum::response::Response {
    if req["stream"] == true {
        let mut body = String::new();
        for i in 0..CHUNKS {
            let c = json!({"id": "c", "object": "chat.completion.chunk", "model": "bench",
                "choices": [{"index": 0, "delta": {"content": format!("t{i} ")}, "finish_reason": null}]});
            body.push_str(&format!("data: {c}\n\n"));
        }
        if req["stream_options"]["include_usage"] == true {
            let u = json!({"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": CHUNKS}});
            body.push_str(&format!("data: {u}\n\n"));
        }
        body.push_str("data: [DONE]\n\n");
        return ([("content-type", "text/event-stream")], body).into_response();
    }
    axum::Json(json!({"id": "c", "object": "chat.completion", "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}}))
    .into_response()
}

/// Helix in-process (SQLite in a temp dir) in front of the in-process fast upstream,
/// reached as provider `up` (model `up/bench`): shared with `helix bench sdk`.
pub(crate) struct Stack {
    /// The upstream's base URL (`.../v1`).
    pub upstream_url: String,
    /// Helix's base URL.
    pub helix: String,
    /// An API key of a registered user.
    pub key: String,
    _dir: tempfile::TempDir,
}

pub(crate) async fn start_stack(upstream_port: u16) -> anyhow::Result<Stack> {
    let upstream = axum::Router::new()
        .route("/v1/chat/completions", post(upstream_chat))
        .route(
            "/v1/models",
            get(|| async { axum::Json(json!({"object": "list", "data": [{"id": "bench"}]})) }),
        );
    let up_listener = tokio::net::TcpListener::bind(("127.0.0.1", upstream_port)).await?;
    let upstream_url = format!("http://{}/v1", up_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(crate::serve::nodelay(up_listener), upstream).await });

    let dir = tempfile::tempdir()?;
    let store = SqlStore::open_sqlite_dir(dir.path()).await?;
    let (secrets, _) = SecretBox::load_or_generate(None, dir.path())?;
    let cp = ControlPlane::builder()
        .store(Arc::new(store))
        .secrets(secrets)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let helix = format!("http://{}", listener.local_addr()?);
    let app = crate::router(AppState::new(cp, HttpSettings::default()));
    tokio::spawn(async move { axum::serve(crate::serve::nodelay(listener), app).await });
    let key = setup(&helix, &upstream_url).await?;
    Ok(Stack {
        upstream_url,
        helix,
        key,
        _dir: dir,
    })
}

/// Runs the benchmark and prints a table.
pub async fn run(args: GatewayBenchArgs) -> anyhow::Result<Vec<GatewayResult>> {
    let Stack {
        upstream_url,
        helix,
        key,
        _dir,
    } = start_stack(args.upstream_port).await?;
    println!("helix bench gateway: upstream {upstream_url} (in-process, canned answers; stream = {CHUNKS} chunks)");

    let mut paths: Vec<(&'static str, String, String, Option<String>)> = vec![
        (
            "direct",
            format!("{upstream_url}/chat/completions"),
            "bench".into(),
            None,
        ),
        (
            "helix",
            format!("{helix}/v1/chat/completions"),
            "up/bench".into(),
            Some(key),
        ),
    ];
    if let Some(other) = &args.other {
        paths.push((
            "other",
            format!("{}/chat/completions", other.trim_end_matches('/')),
            "bench".into(),
            Some("sk-bench".into()),
        ));
    }
    let mut results = Vec::new();
    for mode in ["plain", "stream"] {
        for &conc in &args.concurrency {
            for (path, url, model, key) in &paths {
                eprintln!("  {mode} x{conc} {path} ...");
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(conc)
                    .build()?;
                let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": mode == "stream"});
                let make = || {
                    let r = http.post(url).json(&body);
                    match key {
                        Some(k) => r.bearer_auth(k),
                        None => r,
                    }
                };
                // Warm the connection pool and caches first.
                closed_loop(&http, make, conc, 0.3, 200, false).await?;
                let (lat, _) =
                    closed_loop(&http, make, conc, args.seconds, args.max_requests, false).await?;
                results.push(GatewayResult {
                    mode,
                    concurrency: conc,
                    path,
                    requests: lat.len(),
                    p50: pct(&lat, 0.5),
                    p99: pct(&lat, 0.99),
                });
            }
        }
    }
    print_table(&results);
    Ok(results)
}

async fn setup(helix: &str, upstream: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let creds = json!({"email": "bench@example.com", "password": "correct horse battery"});
    http.post(format!("{helix}/api/v1/auth/register"))
        .json(&creds)
        .send()
        .await?
        .error_for_status()?;
    let login: Value = http
        .post(format!("{helix}/api/v1/auth/login"))
        .json(&creds)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let key: Value = http
        .post(format!("{helix}/api/v1/api-keys"))
        .header(
            "x-csrf-token",
            login["csrf_token"].as_str().unwrap_or_default(),
        )
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let key = key["key"].as_str().unwrap_or_default().to_owned();
    reqwest::Client::new()
        .post(format!("{helix}/api/v1/providers"))
        .bearer_auth(&key)
        .json(&json!({"name": "up", "kind": "openai", "base_url": upstream, "scope": "global"}))
        .send()
        .await?
        .error_for_status()?;
    Ok(key)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_table(results: &[GatewayResult]) {
    println!(
        "{:<7} {:>5} {:<7} {:>9} {:>9} {:>9} {:>12} {:>12}",
        "mode", "conc", "path", "requests", "p50 ms", "p99 ms", "+p50 ms", "+p99 ms"
    );
    for r in results {
        let base = results
            .iter()
            .find(|b| b.mode == r.mode && b.concurrency == r.concurrency && b.path == "direct");
        let (d50, d99) = base.map_or((0.0, 0.0), |b| {
            (ms(r.p50) - ms(b.p50), ms(r.p99) - ms(b.p99))
        });
        let added = |d: f64| {
            if r.path == "direct" {
                "baseline".to_owned()
            } else {
                format!("{d:+.3}")
            }
        };
        println!(
            "{:<7} {:>5} {:<7} {:>9} {:>9.3} {:>9.3} {:>12} {:>12}",
            r.mode,
            r.concurrency,
            r.path,
            r.requests,
            ms(r.p50),
            ms(r.p99),
            added(d50),
            added(d99)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_direct_and_through_helix() {
        let args = GatewayBenchArgs {
            seconds: 0.3,
            max_requests: 20,
            concurrency: vec![2],
            other: None,
            upstream_port: 0,
        };
        let results = run(args).await.unwrap();
        assert_eq!(results.len(), 4, "plain and stream, direct and helix");
        assert!(
            results.iter().all(|r| r.requests > 0 && r.p50 <= r.p99),
            "{results:?}"
        );
    }
}
