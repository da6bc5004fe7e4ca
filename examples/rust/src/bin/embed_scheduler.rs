//! A service that embeds Helix's GPU scheduler: it owns the clock, feeds the scheduler
//! what its runners report and the requests it gets, and carries out the actions each
//! tick returns. Here the "runner" is simulated in the same loop, so the example runs
//! anywhere (no GPU, no network):
//!
//! ```sh
//! cargo run -p helix-examples --bin embed_scheduler
//! ```

use helix_sched::scheduler::{Action, RunnerReport, Scheduler, SchedulerConfig, WorkRequest};
use helix_sched::{
    GpuInfo, InstanceState, InstanceStatus, ModelOffer, Priority, RunnerId, RuntimeKind,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn offer(name: &str, gib: u64) -> ModelOffer {
    ModelOffer {
        name: name.into(),
        runtime: RuntimeKind::LlamaCpp,
        memory_bytes: gib << 30,
        context_len: 8192,
        parallel: 2,
        embeddings: false,
        max_gpus: 1,
    }
}

fn main() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut sched = Scheduler::new(SchedulerConfig {
        keep_alive: Duration::from_secs(60),
        ..SchedulerConfig::default()
    });
    // One runner with a 24 GiB GPU that can serve two models of 15 and 6 GiB.
    let runner = RunnerId::from("gpu-box-1");
    sched.runner_connected(
        t0,
        RunnerReport {
            id: runner.clone(),
            name: "gpu-box-1".into(),
            gpus: vec![GpuInfo {
                index: 0,
                name: "L4".into(),
                total_bytes: 24 << 30,
                free_bytes: 24 << 30,
            }],
            offers: vec![offer("llama-8b", 15), offer("qwen-3b", 6)],
            instances: vec![],
        },
    );

    // Requests from two teams; one is interactive.
    let mut tickets = BTreeMap::new();
    for (owner, model, priority) in [
        ("team-a", "llama-8b", Priority::Normal),
        ("team-b", "qwen-3b", Priority::Interactive),
        ("team-a", "llama-8b", Priority::Background),
        ("team-b", "llama-8b", Priority::Normal),
    ] {
        let t = sched.enqueue(t0, WorkRequest::new(owner, model).priority(priority))?;
        tickets.insert(t, (owner, model));
    }

    // The service loop: tick, carry out actions, let the simulated runner answer.
    let mut now = t0;
    let mut loading = Vec::new();
    let mut granted = Vec::new();
    for _ in 0..10 {
        for action in sched.tick(now) {
            match action {
                Action::StartInstance { runner, spec } => {
                    println!("start {} on {runner} (gpus {:?})", spec.model, spec.gpus);
                    loading.push((runner, spec));
                }
                Action::StopInstance {
                    instance, reason, ..
                } => println!("stop {instance}: {reason}"),
                Action::Grant {
                    ticket, instance, ..
                } => {
                    let (owner, model) = tickets[&ticket];
                    println!("grant ticket {ticket} ({owner}, {model}) -> {instance}");
                    granted.push(ticket);
                }
                Action::Reject { ticket, error } => {
                    anyhow::bail!("ticket {ticket} rejected: {} ({error})", error.code())
                }
                other => println!("{other:?}"),
            }
        }
        if granted.len() == tickets.len() {
            break;
        }
        // A second later every instance started is ready; granted work finishes.
        now += Duration::from_secs(1);
        for (runner, spec) in loading.drain(..) {
            sched.instance_status(
                now,
                &runner,
                InstanceStatus {
                    instance: spec.instance.clone(),
                    model: spec.model.clone(),
                    gpus: spec.gpus.clone(),
                    state: InstanceState::Ready,
                    message: None,
                },
            );
        }
        for &t in &granted {
            sched.release(now, t);
        }
    }
    println!("\n{}", sched.view(now).to_text());
    anyhow::ensure!(
        granted.len() == tickets.len(),
        "only {} of {} requests were granted",
        granted.len(),
        tickets.len()
    );
    // The interactive request was served first.
    anyhow::ensure!(
        tickets[&granted[0]].0 == "team-b",
        "the interactive request was not served first"
    );
    println!("all {} requests granted", granted.len());
    Ok(())
}
