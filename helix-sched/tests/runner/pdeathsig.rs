//! Process hygiene when the runner itself is SIGKILLed: with `setpriv --pdeathsig`
//! the kernel kills its engines; without it they stay, and the next runner's
//! `reap_orphans` kills them from the pidfiles.
//!
//! The runner is this test binary run again in the `runner_main` role.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use helix_sched::runner::{
    reap_orphans, EngineCommand, Health, InstanceManager, LlamaCppRuntime, ModelConfig,
    ModelRuntime, SupervisorConfig,
};
use helix_sched::{InstanceId, InstanceSpec, InstanceState, RuntimeKind};
use url::Url;

use crate::{alive, assert_group_gone, fast_config, wait_for};

/// An engine that only sleeps: enough to test process handling without llama-server.
#[derive(Debug)]
struct SleepRuntime;

#[async_trait]
impl ModelRuntime for SleepRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::LlamaCpp
    }

    fn command(&self, _: &ModelConfig, _: u16, _: &[u32]) -> helix_sched::Result<EngineCommand> {
        Ok(EngineCommand {
            program: "sleep".into(),
            args: vec!["1000".into()],
            env: vec![],
        })
    }

    async fn health(&self, _: &reqwest::Client, _: &Url, _: &ModelConfig) -> Health {
        Health::Ready
    }

    fn upstream_model(&self, model: &ModelConfig) -> String {
        model.name.clone()
    }
}

/// Role: a runner with one instance; prints `ENGINE <pid>` once it is ready, then
/// waits to be killed. Configured by `HELIX_TEST_RUNNER_*`; otherwise nothing.
#[test]
fn runner_main() {
    let Ok(state_dir) = std::env::var("HELIX_TEST_RUNNER_STATE") else {
        return;
    };
    let pdeathsig = std::env::var("HELIX_TEST_RUNNER_PDEATHSIG").as_deref() == Ok("1");
    let engine = std::env::var("HELIX_TEST_RUNNER_ENGINE").expect("engine");
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter("helix_sched=warn")
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let (model, runtime): (ModelConfig, Arc<dyn ModelRuntime>) = match engine.as_str() {
            "sleep" => (
                ModelConfig::new("sleeper", RuntimeKind::LlamaCpp, "/dev/null"),
                Arc::new(SleepRuntime),
            ),
            "llama" => {
                let (bin, model) = crate::llama_server().expect("llama-server");
                let mut config = ModelConfig::new(
                    "tiny",
                    RuntimeKind::LlamaCpp,
                    model.to_str().expect("utf-8 path"),
                );
                config.context_len = 512;
                (config, Arc::new(LlamaCppRuntime::new(bin)))
            }
            other => panic!("unknown engine {other}"),
        };
        let name = model.name.clone();
        let manager = InstanceManager::new(vec![model], state_dir)
            .expect("manager")
            .with_runtime(runtime)
            .with_config(SupervisorConfig {
                pdeathsig,
                ..fast_config()
            });
        let mut events = manager.subscribe();
        let id = InstanceId::generate();
        manager
            .start(InstanceSpec {
                instance: id.clone(),
                model: name,
                gpus: vec![],
            })
            .expect("start");
        wait_for(&mut events, &id, InstanceState::Ready).await;
        let pid = manager.pid(&id).expect("pid");
        // `setpriv` arms the parent-death signal, then executes the engine: once the
        // engine's command line shows, the signal is armed. (During an exec the command
        // line reads empty for a moment.)
        let deadline = Instant::now() + Duration::from_secs(10);
        let engine_runs = || {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let argv0 = c.split(|b| *b == 0).next().unwrap_or_default();
                !argv0.is_empty() && !argv0.ends_with(b"setpriv")
            })
        };
        while !engine_runs() {
            assert!(Instant::now() < deadline, "setpriv never ran the engine");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!("ENGINE {pid}");
        std::future::pending::<()>().await;
    });
}

/// Starts a runner in the `runner_main` role; returns it and its engine's pid.
fn start_runner(state_dir: &Path, engine: &str, pdeathsig: bool) -> (Child, u32) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "pdeathsig::runner_main",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env("HELIX_TEST_RUNNER_STATE", state_dir)
        .env("HELIX_TEST_RUNNER_ENGINE", engine)
        .env(
            "HELIX_TEST_RUNNER_PDEATHSIG",
            if pdeathsig { "1" } else { "0" },
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start runner");
    let stdout = child.stdout.take().expect("stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("runner output");
        if let Some(pid) = line.strip_prefix("ENGINE ") {
            return (child, pid.trim().parse().expect("pid"));
        }
    }
    let status = child.wait().expect("runner status");
    panic!("runner exited ({status}) before its engine was ready");
}

fn setpriv_has_pdeathsig() -> bool {
    Command::new("setpriv")
        .args(["--pdeathsig", "KILL", "--", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

async fn wait_dead(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "engine {pid} survived its runner: {}",
            std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A runner SIGKILLed with its engine behind `setpriv --pdeathsig`: the engine dies too.
pub async fn engine_dies_with_a_killed_runner(engine: &str) {
    if !setpriv_has_pdeathsig() {
        assert!(
            std::env::var("CI").is_err(),
            "setpriv --pdeathsig is missing on a CI machine"
        );
        eprintln!("setpriv --pdeathsig not available here: test not run");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut runner, engine_pid) = start_runner(dir.path(), engine, true);
    assert!(alive(engine_pid));
    runner.kill().expect("SIGKILL runner");
    runner.wait().expect("reap runner");
    wait_dead(engine_pid).await;
    assert_group_gone(engine_pid).await;
    // The pidfile is left behind; reaping finds nothing alive to kill.
    assert!(reap_orphans(dir.path()).expect("reap").is_empty());
}

/// A runner SIGKILLed without pdeathsig leaves its engine running; the next runner's
/// `reap_orphans` kills it.
pub async fn orphan_is_reaped_by_the_next_runner(engine: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut runner, engine_pid) = start_runner(dir.path(), engine, false);
    runner.kill().expect("SIGKILL runner");
    runner.wait().expect("reap runner");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(alive(engine_pid), "engine died without pdeathsig");

    let reaped = reap_orphans(dir.path()).expect("reap");
    assert_eq!(reaped.len(), 1, "{reaped:?}");
    assert_eq!(reaped[0].pgid, engine_pid);
    wait_dead(engine_pid).await;
    assert_group_gone(engine_pid).await;
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("state dir").count(),
        0,
        "pidfile left"
    );
}

#[tokio::test]
async fn sigkilled_runner_takes_its_engine_along() {
    engine_dies_with_a_killed_runner("sleep").await;
}

#[tokio::test]
async fn sigkilled_runner_leaves_an_orphan_that_is_reaped() {
    orphan_is_reaped_by_the_next_runner("sleep").await;
}
