//! `helix bench auth`: authentication throughput over real HTTP on loopback.
//!
//! Starts a server in-process on 127.0.0.1 over a fresh store (SQLite in a temporary
//! directory, or the PostgreSQL database given), then drives each scenario with a
//! fixed number of concurrent clients for a bounded time and request count. The
//! baseline is `GET /healthz` (no authentication, no database) measured in the same
//! run; every other scenario prints its throughput as a ratio of it.

use crate::state::{AppState, HttpSettings};
use anyhow::Context;
use clap::Args;
use helix_core::{ControlPlane, SecretBox, SqlStore};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Flags of `helix bench auth`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// PostgreSQL URL of an EMPTY database to use instead of a temporary SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Most requests per scenario.
    #[arg(long, default_value_t = 200_000)]
    pub max_requests: usize,
}

/// One scenario's measurements.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Scenario name.
    pub name: &'static str,
    /// Requests completed.
    pub requests: usize,
    /// Requests per second.
    pub rps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

#[derive(Clone, Copy)]
enum Scenario {
    Baseline,
    ApiKey,
    Session,
    Login,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline GET /healthz",
            Scenario::ApiKey => "api key GET /api/v1/users/me",
            Scenario::Session => "session cookie GET /api/v1/users/me",
            Scenario::Login => "login POST /api/v1/auth/login",
        }
    }
}

struct Creds {
    key: String,
    cookie: String,
}

/// Runs the benchmark and prints a table.
pub async fn run(args: BenchArgs) -> anyhow::Result<Vec<Measurement>> {
    let dir = tempfile::tempdir()?;
    let store = match &args.database_url {
        Some(url) => SqlStore::connect(url).await?,
        None => SqlStore::open_sqlite_dir(dir.path()).await?,
    };
    let backend = helix_core::Store::backend(&store).as_str();
    let (secrets, _) = SecretBox::load_or_generate(None, dir.path())?;
    let cp = ControlPlane::builder()
        .store(Arc::new(store))
        .secrets(secrets)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = crate::router(AppState::new(cp, HttpSettings::default()));
    let server =
        tokio::spawn(async move { axum::serve(crate::serve::nodelay(listener), app).await });
    let creds = setup(&base).await.context("setting up the bench user")?;
    println!(
        "helix bench auth: backend={backend} concurrency={} seconds={} (server and load share this machine)",
        args.concurrency, args.seconds
    );
    let mut results = Vec::new();
    for sc in [
        Scenario::Baseline,
        Scenario::ApiKey,
        Scenario::Session,
        Scenario::Login,
    ] {
        eprintln!("  running {} ...", sc.name());
        results.push(measure(sc, &base, &creds, &args).await?);
    }
    print_table(&results);
    server.abort();
    Ok(results)
}

async fn setup(base: &str) -> anyhow::Result<Creds> {
    let http = reqwest::Client::new();
    let body = json!({"email": "bench@example.com", "password": "correct horse battery"});
    http.post(format!("{base}/api/v1/auth/register"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    let login = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("helix_session="))
        .and_then(|c| c.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let csrf = login.json::<serde_json::Value>().await?["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let key: serde_json::Value = http
        .post(format!("{base}/api/v1/api-keys"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(Creds {
        key: key["key"].as_str().context("no key")?.to_owned(),
        cookie,
    })
}

async fn measure(
    sc: Scenario,
    base: &str,
    creds: &Creds,
    args: &BenchArgs,
) -> anyhow::Result<Measurement> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let make = || match sc {
        Scenario::Baseline => http.get(format!("{base}/healthz")),
        Scenario::ApiKey => http
            .get(format!("{base}/api/v1/users/me"))
            .bearer_auth(&creds.key),
        Scenario::Session => http
            .get(format!("{base}/api/v1/users/me"))
            .header("cookie", &creds.cookie),
        Scenario::Login => http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": "bench@example.com", "password": "correct horse battery"})),
    };
    let (lat, elapsed) = super::closed_loop(
        &http,
        make,
        args.concurrency,
        args.seconds as f64,
        args.max_requests,
        false,
    )
    .await?;
    Ok(Measurement {
        name: sc.name(),
        requests: lat.len(),
        rps: lat.len() as f64 / elapsed,
        p50: super::pct(&lat, 0.50),
        p99: super::pct(&lat, 0.99),
    })
}

fn print_table(results: &[Measurement]) {
    let base = results.first().map_or(1.0, |m| m.rps);
    println!(
        "{:<38} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "scenario", "requests", "req/s", "p50 ms", "p99 ms", "vs base"
    );
    for m in results {
        println!(
            "{:<38} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>8.3}x",
            m.name,
            m.requests,
            m.rps,
            m.p50.as_secs_f64() * 1e3,
            m.p99.as_secs_f64() * 1e3,
            m.rps / base
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_scenario_completes_real_requests() {
        let args = BenchArgs {
            database_url: None,
            concurrency: 2,
            seconds: 2,
            max_requests: 10,
        };
        let results = run(args).await.unwrap();
        assert_eq!(results.len(), 4);
        for m in &results {
            assert!(m.requests > 0 && m.requests <= 10, "{m:?}");
            assert!(m.p50 <= m.p99, "{m:?}");
        }
    }
}
