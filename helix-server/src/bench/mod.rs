//! `helix bench`: benchmarks that measure a named baseline in the same run and print
//! ratios (or differences) against it.

pub mod auth;
pub mod gateway;
pub mod runners;
pub mod sdk;

pub use auth::{run, BenchArgs, Measurement};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latencies of a closed-loop load: `concurrency` workers send `make()`'s request back
/// to back until `seconds` pass or `max_requests` are done; each latency is measured to
/// the end of the body (or to its first byte, with `first_byte`).
pub(crate) async fn closed_loop(
    http: &reqwest::Client,
    make: impl Fn() -> reqwest::RequestBuilder,
    concurrency: usize,
    seconds: f64,
    max_requests: usize,
    first_byte: bool,
) -> anyhow::Result<(Vec<Duration>, f64)> {
    use futures::StreamExt;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let budget = Arc::new(AtomicUsize::new(max_requests));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let req = make().build()?;
        let (http, budget) = (http.clone(), budget.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline
                && budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
            {
                let Some(r) = req.try_clone() else { break };
                let t = Instant::now();
                let resp = http.execute(r).await?;
                anyhow::ensure!(
                    resp.status().is_success(),
                    "unexpected status {}",
                    resp.status()
                );
                let mut body = resp.bytes_stream();
                let mut first = None;
                while let Some(chunk) = body.next().await {
                    chunk?;
                    first.get_or_insert_with(|| t.elapsed());
                }
                lat.push(if first_byte {
                    first.unwrap_or_else(|| t.elapsed())
                } else {
                    t.elapsed()
                });
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for w in workers {
        lat.extend(w.await??);
    }
    lat.sort();
    Ok((lat, start.elapsed().as_secs_f64()))
}

/// The `p`-quantile of sorted latencies.
pub(crate) fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}
