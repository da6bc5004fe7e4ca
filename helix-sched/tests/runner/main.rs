//! The runner end to end: engine runtimes against contract fakes of Ollama and vLLM
//! (in process, and run as the engine binary under the supervisor), a REAL
//! llama.cpp `llama-server`, and process hygiene when the runner itself is killed.
//!
//! The real-engine tests need `HELIX_LLAMA_SERVER` and `HELIX_TEST_MODEL`
//! (scripts/llama.sh); without them they print why and pass, unless
//! `HELIX_TEST_REQUIRE_LLAMA=1` (CI), where they fail.
//!
//! Some tests re-run this test binary as a child process in a "role" (a fake engine,
//! a runner to SIGKILL): the role's test function does nothing unless its
//! environment variable is set.

mod contract;
mod fakes;
mod llama;
mod pdeathsig;
mod supervised_fakes;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use helix_sched::runner::SupervisorConfig;
use helix_sched::{InstanceId, InstanceState, InstanceStatus};
use tokio::sync::broadcast;

/// Supervision fast enough for tests.
pub fn fast_config() -> SupervisorConfig {
    SupervisorConfig {
        health_timeout: Duration::from_secs(60),
        health_interval: Duration::from_millis(25),
        stop_grace: Duration::from_secs(10),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        max_crashes: 2,
        crash_window: Duration::from_secs(60),
        ..SupervisorConfig::default()
    }
}

/// Waits on `events` for `instance` to reach `state` (or `Failed`); returns every
/// status seen for it on the way, the last one included.
pub async fn wait_for(
    events: &mut broadcast::Receiver<InstanceStatus>,
    instance: &InstanceId,
    state: InstanceState,
) -> Vec<InstanceStatus> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("{instance} never became {state:?}; saw {seen:#?}"))
            .expect("event feed");
        if &status.instance != instance {
            continue;
        }
        let done = status.state == state || status.state == InstanceState::Failed;
        seen.push(status);
        if done {
            let last = seen.last().expect("one");
            assert_eq!(last.state, state, "{seen:#?}");
            return seen;
        }
    }
}

/// Live (not zombie) processes in process group `pgid`, from /proc.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && !matches!(fields[0], "Z" | "X") {
            members.push(pid);
        }
    }
    members
}

/// Waits until no live process of group `pgid` is left; fails after 10 s.
pub async fn assert_group_gone(pgid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let members = group_members(pgid);
        if members.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes {members:?} of group {pgid} are still alive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether process `pid` is alive (and not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// The real engine, or `None` (with a message) when it is not configured here.
pub fn llama_server() -> Option<(PathBuf, PathBuf)> {
    match (
        std::env::var("HELIX_LLAMA_SERVER"),
        std::env::var("HELIX_TEST_MODEL"),
    ) {
        (Ok(bin), Ok(model)) => Some((bin.into(), model.into())),
        _ => {
            assert!(
                std::env::var("HELIX_TEST_REQUIRE_LLAMA").as_deref() != Ok("1"),
                "HELIX_TEST_REQUIRE_LLAMA=1 but HELIX_LLAMA_SERVER or HELIX_TEST_MODEL is not set"
            );
            eprintln!(
                "llama-server not available (set HELIX_LLAMA_SERVER and HELIX_TEST_MODEL, see scripts/llama.sh): real-engine test not run"
            );
            None
        }
    }
}

/// The text of an OpenAI chat completion SSE stream: the deltas' contents joined;
/// asserts the stream ends with `data: [DONE]`.
pub fn sse_text(body: &[u8]) -> String {
    let body = String::from_utf8_lossy(body);
    let payloads: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(payloads.last(), Some(&"[DONE]"), "{body}");
    payloads[..payloads.len() - 1]
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_str(p).expect("chunk json");
            v["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}
