//! Supervision against small shell-script engines: crash loops, restarts, stop of a
//! whole process group, timeouts, pidfiles and orphan reaping. The real engine
//! (llama-server) is exercised in `tests/runner/llama.rs`.

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use super::*;
use crate::runner::orphans::PidFile;
use crate::runner::{procfs, EngineCommand};
use crate::RuntimeKind;

/// An "engine" that is a shell script; health and prepare are scripted.
#[derive(Debug)]
struct ScriptRuntime {
    script: String,
    ready: bool,
    prepare_error: Option<fn() -> SchedError>,
    prepares: AtomicU32,
}

/// A healthy script engine.
fn script(script: &str) -> ScriptRuntime {
    ScriptRuntime {
        script: script.into(),
        ready: true,
        prepare_error: None,
        prepares: AtomicU32::new(0),
    }
}

#[async_trait]
impl ModelRuntime for ScriptRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::LlamaCpp
    }

    fn command(&self, _model: &ModelConfig, port: u16, _gpus: &[u32]) -> Result<EngineCommand> {
        Ok(EngineCommand {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), self.script.clone(), "engine".into()],
            env: vec![("FAKE_PORT".into(), port.to_string())],
        })
    }

    async fn health(&self, _: &reqwest::Client, _: &Url, _: &ModelConfig) -> Health {
        if self.ready {
            Health::Ready
        } else {
            Health::Loading
        }
    }

    async fn prepare(&self, _: &reqwest::Client, _: &Url, _: &ModelConfig) -> Result<()> {
        self.prepares.fetch_add(1, Ordering::SeqCst);
        match self.prepare_error {
            Some(error) => Err(error()),
            None => Ok(()),
        }
    }

    fn upstream_model(&self, model: &ModelConfig) -> String {
        format!("upstream-{}", model.name)
    }
}

fn fast() -> SupervisorConfig {
    SupervisorConfig {
        health_timeout: Duration::from_secs(5),
        health_interval: Duration::from_millis(20),
        stop_grace: Duration::from_secs(5),
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        max_crashes: 2,
        crash_window: Duration::from_secs(60),
        pdeathsig: true,
        output_lines: 50,
    }
}

fn spec(runtime: Arc<dyn ModelRuntime>, dir: &tempfile::TempDir) -> EngineSpec {
    let model = ModelConfig::new("tiny", RuntimeKind::LlamaCpp, "/m/tiny.gguf");
    EngineSpec::new(
        InstanceId::from("ins_test"),
        model,
        vec![0],
        runtime,
        dir.path(),
    )
}

async fn wait_state(sup: &Supervisor, state: InstanceState) -> InstanceStatus {
    let mut rx = sup.watch();
    let found = tokio::time::timeout(
        Duration::from_secs(20),
        rx.wait_for(|s| s.state == state || s.state == InstanceState::Failed),
    )
    .await
    .unwrap_or_else(|_| panic!("no {state:?} in time; now {:?}", sup.status()))
    .expect("supervisor alive")
    .clone();
    assert_eq!(found.state, state, "{found:?}");
    found
}

async fn wait_output(sup: &Supervisor, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sup.recent_output().iter().any(|l| l == line) {
        assert!(
            Instant::now() < deadline,
            "no {line:?} in {:?}",
            sup.recent_output()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Live processes of group `pgid`.
fn group_alive(pgid: u32) -> usize {
    procfs::group_members(pgid as i32).len()
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let config = SupervisorConfig::default();
    let delays: Vec<u64> = (1..=8).map(|n| config.backoff(n).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(config.backoff(u32::MAX).as_secs(), 60);
}

#[tokio::test]
async fn ready_then_stop_kills_the_whole_group() {
    logs();
    let dir = tempfile::tempdir().expect("tempdir");
    // The engine and a grandchild, both in the engine's process group.
    let runtime = Arc::new(script(
        "sleep 1000 & echo started on $FAKE_PORT; sleep 1000",
    ));
    let sup = Supervisor::start(spec(runtime.clone(), &dir), fast()).expect("start");
    let status = wait_state(&sup, InstanceState::Ready).await;
    assert_eq!(status.gpus, [0]);
    assert_eq!(status.model, "tiny");
    assert_eq!(runtime.prepares.load(Ordering::SeqCst), 1);
    assert_eq!(sup.upstream_model(), "upstream-tiny");
    let base = sup.base_url().expect("ready has a url");
    assert!(base.as_str().starts_with("http://127.0.0.1:"), "{base}");
    let pid = sup.pid().expect("pid");
    assert!(dir.path().join("ins_test.pid").exists());
    // Wait for the grandchild to be forked.
    let deadline = Instant::now() + Duration::from_secs(5);
    while group_alive(pid) < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // sh, its background sleep and its foreground sleep.
    assert_eq!(group_alive(pid), 3);
    let port = base.port().expect("port");
    wait_output(&sup, &format!("started on {port}")).await;

    sup.stop().await;
    assert_eq!(sup.status().state, InstanceState::Stopped);
    assert_eq!(group_alive(pid), 0, "a process of the group survived stop");
    assert!(sup.pid().is_none());
    assert!(sup.base_url().is_none());
    assert!(!dir.path().join("ins_test.pid").exists());
}

#[tokio::test]
async fn an_engine_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Arc::new(script("trap '' TERM; echo trapped; sleep 1000"));
    let config = SupervisorConfig {
        stop_grace: Duration::from_millis(300),
        ..fast()
    };
    let sup = Supervisor::start(spec(runtime, &dir), config).expect("start");
    wait_state(&sup, InstanceState::Ready).await;
    let pid = sup.pid().expect("pid");
    wait_output(&sup, "trapped").await;
    let started = Instant::now();
    sup.stop().await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(group_alive(pid), 0);
}

#[tokio::test]
async fn a_crash_loop_ends_failed_with_the_engine_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Arc::new(ScriptRuntime {
        ready: false,
        ..script("echo loading weights; echo 'error: bad magic in model' >&2; exit 3")
    });
    let mut events = broadcast::channel(64);
    let mut engine = spec(runtime, &dir);
    engine.events = Some(events.0.clone());
    let sup = Supervisor::start(engine, fast()).expect("start");
    let status = wait_state(&sup, InstanceState::Failed).await;
    let message = status.message.expect("message");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("3 crashes"), "{message}");
    assert!(message.contains("error: bad magic in model"), "{message}");
    assert!(message.contains("loading weights"), "{message}");
    // Loading, then Restarting twice (the two tolerated crashes), then Failed.
    let mut states = Vec::new();
    while let Ok(s) = events.1.try_recv() {
        states.push(s.state);
    }
    assert_eq!(
        states,
        [
            InstanceState::Loading,
            InstanceState::Restarting,
            InstanceState::Restarting,
            InstanceState::Failed
        ]
    );
    assert!(!dir.path().join("ins_test.pid").exists());
    sup.stop().await;
    assert_eq!(sup.status().state, InstanceState::Stopped);
}

#[tokio::test]
async fn a_crash_after_ready_restarts_and_becomes_ready_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Arc::new(script("sleep 1000"));
    let sup = Supervisor::start(spec(runtime.clone(), &dir), fast()).expect("start");
    wait_state(&sup, InstanceState::Ready).await;
    let first = sup.pid().expect("pid");
    let mut rx = sup.watch();
    rx.mark_unchanged();
    signal_group(first, nix::sys::signal::Signal::SIGKILL);
    let restarting = tokio::time::timeout(
        Duration::from_secs(5),
        rx.wait_for(|s| s.state == InstanceState::Restarting),
    )
    .await
    .expect("restarting in time")
    .expect("alive")
    .clone();
    let message = restarting.message.expect("message");
    assert!(message.contains("signal: 9"), "{message}");
    assert!(message.contains("restarting in 20ms"), "{message}");
    wait_state(&sup, InstanceState::Ready).await;
    let second = sup.pid().expect("pid");
    assert_ne!(first, second);
    assert_eq!(runtime.prepares.load(Ordering::SeqCst), 2);
    sup.stop().await;
    assert_eq!(group_alive(second), 0);
}

#[tokio::test]
async fn never_healthy_counts_as_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Arc::new(ScriptRuntime {
        ready: false,
        ..script("sleep 1000")
    });
    let config = SupervisorConfig {
        health_timeout: Duration::from_millis(200),
        max_crashes: 0,
        ..fast()
    };
    let sup = Supervisor::start(spec(runtime, &dir), config).expect("start");
    let status = wait_state(&sup, InstanceState::Failed).await;
    let message = status.message.expect("message");
    assert!(message.contains("not ready after 200ms"), "{message}");
    assert!(message.contains("Loading"), "{message}");
}

#[tokio::test]
async fn a_missing_model_fails_at_once_without_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Arc::new(ScriptRuntime {
        prepare_error: Some(|| SchedError::EngineModelMissing {
            model: "llama3.1:8b".into(),
            url: "http://127.0.0.1:1/".into(),
            reason: "model not found".into(),
        }),
        ..script("sleep 1000")
    });
    let sup = Supervisor::start(spec(runtime.clone(), &dir), fast()).expect("start");
    let status = wait_state(&sup, InstanceState::Failed).await;
    let message = status.message.expect("message");
    assert!(message.contains("model llama3.1:8b not found"), "{message}");
    assert_eq!(runtime.prepares.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_missing_binary_fails_at_once() {
    #[derive(Debug)]
    struct Missing;
    #[async_trait]
    impl ModelRuntime for Missing {
        fn kind(&self) -> RuntimeKind {
            RuntimeKind::Vllm
        }
        fn command(&self, _: &ModelConfig, _: u16, _: &[u32]) -> Result<EngineCommand> {
            Ok(EngineCommand {
                program: "helix-no-such-engine".into(),
                args: vec![],
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
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(spec(Arc::new(Missing), &dir), fast()).expect("start");
    let status = wait_state(&sup, InstanceState::Failed).await;
    let message = status.message.expect("message");
    assert!(
        message.contains("cannot start engine helix-no-such-engine: not found"),
        "{message}"
    );
}

#[tokio::test]
async fn dropping_the_supervisor_kills_the_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(
        spec(Arc::new(script("sleep 1000 & sleep 1000")), &dir),
        fast(),
    )
    .expect("start");
    wait_state(&sup, InstanceState::Ready).await;
    let pid = sup.pid().expect("pid");
    drop(sup);
    let deadline = Instant::now() + Duration::from_secs(5);
    while group_alive(pid) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(group_alive(pid), 0);
}

/// `sleep` in its own process group, as a previous runner would have left it.
fn orphan(arg: &str) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let child = std::process::Command::new("sleep")
        .arg(arg)
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    // `spawn` may return while the exec is still setting up the command line.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while procfs::cmdline(child.id()).is_none_or(|argv| argv.is_empty()) {
        assert!(std::time::Instant::now() < deadline, "sleep never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

fn record(child: &std::process::Child, argv: &[&str]) -> PidFile {
    PidFile {
        instance: InstanceId::from("ins_orphan"),
        pid: child.id(),
        start_time: procfs::stat(child.id()).map(|s| s.start_time),
        boot_id: procfs::boot_id(),
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn alive(child: &mut std::process::Child) -> bool {
    child.try_wait().expect("try_wait").is_none()
}

/// Log lines in the test's output (shown when it fails).
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("helix_sched=debug")
        .try_init();
}

#[test]
fn reap_orphans_kills_only_verified_groups() {
    logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut left = orphan("1001");
    record(&left, &["/usr/bin/sleep", "1001"])
        .write(dir.path())
        .expect("pidfile");
    let reaped = reap_orphans(dir.path()).expect("reap");
    assert_eq!(
        reaped,
        [ReapedEngine {
            instance: InstanceId::from("ins_orphan"),
            pgid: left.id(),
            processes: 1,
        }]
    );
    left.wait().expect("reaped");
    assert!(!dir.path().join("ins_orphan.pid").exists());
    assert!(reap_orphans(dir.path()).expect("reap").is_empty());

    // A pid now running another command line is never killed.
    let mut other = orphan("1002");
    record(&other, &["/usr/bin/sleep", "9999"])
        .write(dir.path())
        .expect("pidfile");
    assert!(reap_orphans(dir.path()).expect("reap").is_empty());
    assert!(alive(&mut other));
    assert!(!dir.path().join("ins_orphan.pid").exists());

    // Nor one that started at another time than recorded (a reused pid).
    let mut reused = record(&other, &["/usr/bin/sleep", "1002"]);
    reused.start_time = reused.start_time.map(|t| t.saturating_sub(1));
    reused.write(dir.path()).expect("pidfile");
    assert!(reap_orphans(dir.path()).expect("reap").is_empty());
    assert!(alive(&mut other));

    // Nor anything recorded in another boot.
    let mut old_boot = record(&other, &["/usr/bin/sleep", "1002"]);
    old_boot.boot_id = Some("another-boot".into());
    old_boot.write(dir.path()).expect("pidfile");
    assert!(reap_orphans(dir.path()).expect("reap").is_empty());
    assert!(alive(&mut other));

    other.kill().expect("kill");
    other.wait().expect("wait");
    // No state dir yet: nothing to do.
    assert!(reap_orphans(&dir.path().join("missing"))
        .expect("reap")
        .is_empty());
}
