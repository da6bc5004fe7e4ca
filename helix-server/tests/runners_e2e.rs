//! GPU runners end to end with REAL processes: the `helix` control plane, two
//! `helix runner` processes (declared GPUs) that each supervise real `llama-server`
//! engines with the tiny test model; `/v1` chat and embeddings through them; an engine
//! killed and restarted; a runner killed mid-stream (the answer ends with an error
//! event, the next call fails over); a runner stopped leaves no engine behind. Also
//! `helix serve` with its in-process runner.
//!
//! Required when `HELIX_TEST_REQUIRE_LLAMA=1` (CI); skipped with a message otherwise
//! when `HELIX_LLAMA_SERVER` / `HELIX_TEST_MODEL` are not set.

mod common;

use common::engine::{admin_key, engine, sse_events, start_helix, start_helix_with, Proc};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn model_flags(bin: &str, model: &str) -> Vec<String> {
    vec![
        "--model".into(),
        format!("name=tiny,runtime=llama_cpp,source={model},ctx=1024,parallel=2,binary={bin}"),
        "--model".into(),
        format!(
            "name=tiny-embed,runtime=llama_cpp,source={model},ctx=512,parallel=1,embeddings=true,binary={bin}"
        ),
    ]
}

async fn runner_token(base: &str, key: &str, runner_id: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/runner-tokens"))
        .bearer_auth(key)
        .json(&json!({"runner_id": runner_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn start_runner(base: &str, token: &str, state: &std::path::Path, flags: &[String]) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_helix"))
            .args([
                "runner", "--server", base, "--token", token, "--gpu", "cpu:2GiB",
            ])
            .arg("--state-dir")
            .arg(state)
            .args(flags)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn helix runner"),
    )
}

async fn scheduler(base: &str, key: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/scheduler"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until `pred` holds for the scheduler view.
async fn wait_view(base: &str, key: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = scheduler(base, key).await;
        if pred(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn connected(v: &Value, id: &str) -> bool {
    v["runners"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id && r["state"] == "connected")
}

/// The connected runner serving a ready instance of `model`, and that instance's id.
fn serving(v: &Value, model: &str) -> Option<(String, String)> {
    v["runners"]
        .as_array()?
        .iter()
        .filter(|r| r["state"] == "connected")
        .find_map(|r| {
            r["instances"].as_array()?.iter().find_map(|i| {
                (i["model"] == model && i["state"] == "ready").then(|| {
                    (
                        r["id"].as_str().unwrap().to_owned(),
                        i["id"].as_str().unwrap().to_owned(),
                    )
                })
            })
        })
}

/// `llama-server` processes whose parent is `pid`.
fn engines_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = &stat[stat.find('(').unwrap() + 1..close];
        let ppid: u32 = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == pid && comm.starts_with("llama-server") {
            out.push(child);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

async fn wait_gone(pids: &[u32], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "{what}: engines {pids:?} still alive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn chat(base: &str, key: &str, model: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runner_processes_serve_fail_over_and_leave_nothing_behind() {
    let Some((bin, model)) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_helix, base) = start_helix(dir.path()).await;
    let session = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let key = admin_key(&session, &base).await;
    let flags = model_flags(&bin, &model);
    let t1 = runner_token(&base, &key, "r1").await;
    let t2 = runner_token(&base, &key, "r2").await;
    let mut runners = std::collections::HashMap::new();
    runners.insert(
        "r1",
        start_runner(&base, &t1, &dir.path().join("r1"), &flags),
    );
    runners.insert(
        "r2",
        start_runner(&base, &t2, &dir.path().join("r2"), &flags),
    );
    wait_view(&base, &key, "both runners", |v| {
        connected(v, "r1") && connected(v, "r2")
    })
    .await;

    // Chat by bare name (a runner model) and through the runners endpoint.
    let answer = chat(&base, &key, "tiny").await;
    assert_eq!(
        answer["choices"][0]["message"]["content"], "Hello from tiny llama!",
        "{answer}"
    );
    assert_eq!(answer["model"], "tiny");
    let answer = chat(&base, &key, "runners/tiny").await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from tiny llama!"
    );

    let models: Value = reqwest::Client::new()
        .get(format!("{base}/v1/models"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for id in ["tiny", "tiny-embed", "runners/tiny"] {
        assert!(ids.contains(&id), "{id} listed: {models}");
    }

    let emb: Value = reqwest::Client::new()
        .post(format!("{base}/v1/embeddings"))
        .bearer_auth(&key)
        .json(&json!({"model": "tiny-embed", "input": ["hello", "world"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(emb["data"].as_array().map(Vec::len), Some(2), "{emb}");

    // Streaming, through the runner's socket.
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "tiny", "stream": true, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let events = sse_events(r, || {}).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap_or_else(|_| panic!("chunk {e}")))
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello from tiny llama!");

    // The scheduler explains itself: booked memory, decisions with reasons.
    let view = scheduler(&base, &key).await;
    let (host, instance) = serving(&view, "tiny").expect("tiny is served");
    assert!(
        view["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.to_string().contains("tiny")),
        "{view:#}"
    );

    // Kill the engine: the runner notices, restarts it, and calls work again.
    let host_pid = runners[host.as_str()].0.id();
    let before = engines_of(host_pid);
    assert!(!before.is_empty(), "runner {host} supervises engines");
    for pid in &before {
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    }
    wait_view(&base, &key, "the instance restarted", |v| {
        serving(v, "tiny").is_some_and(|(_, i)| i == instance)
            && engines_of(host_pid).iter().all(|p| !before.contains(p))
            && !engines_of(host_pid).is_empty()
    })
    .await;
    let answer = chat(&base, &key, "tiny").await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from tiny llama!"
    );

    // Kill the serving runner mid-stream: the answer ends with an error event, promptly.
    let engines = engines_of(host_pid);
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(
            &json!({"model": "tiny", "stream": true, "max_tokens": 20000, "ignore_eos": true,
                      "messages": [{"role": "user", "content": "Write forever"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    let mut victim = runners.remove(host.as_str()).unwrap();
    let events = sse_events(r, || {
        let _ = victim.0.kill();
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the stream ended promptly"
    );
    let last: Value =
        serde_json::from_str(events.last().unwrap()).unwrap_or_else(|_| panic!("{events:?}"));
    assert_eq!(last["error"]["code"], "upstream_error", "{last}");
    assert!(
        !events.iter().any(|e| e == "[DONE]"),
        "a cut answer must not look complete"
    );
    // The killed runner's engines die with it (no orphans).
    wait_gone(&engines, "after the runner was killed").await;

    // The next call fails over to the other runner.
    let answer = chat(&base, &key, "tiny").await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from tiny llama!"
    );
    let other = if host == "r1" { "r2" } else { "r1" };
    let view = scheduler(&base, &key).await;
    assert_eq!(
        serving(&view, "tiny").map(|(r, _)| r).as_deref(),
        Some(other),
        "{view:#}"
    );

    // Stopping the other runner (SIGTERM) stops its engines before it exits.
    let mut last_runner = runners.remove(other).unwrap();
    let engines = engines_of(last_runner.0.id());
    assert!(!engines.is_empty());
    Command::new("kill")
        .args(["-TERM", &last_runner.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while last_runner.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "runner did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_gone(&engines, "after the runner stopped").await;

    // With no runner left, a call fails cleanly instead of hanging.
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "tiny-embed-nope", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helix_serve_runs_an_in_process_runner() {
    let Some((bin, model)) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let flags: Vec<String> = model_flags(&bin, &model)
        .into_iter()
        .map(|f| {
            if f == "--model" {
                "--runner-model".into()
            } else {
                f
            }
        })
        .collect();
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend(["--runner-gpu", "cpu:2GiB"]);
    let (helix, base) = start_helix_with(dir.path(), &args).await;
    let session = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let key = admin_key(&session, &base).await;
    wait_view(&base, &key, "the local runner", |v| connected(v, "local")).await;
    let answer = chat(&base, &key, "tiny").await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from tiny llama!"
    );
    let engines = engines_of(helix.0.id());
    assert!(
        !engines.is_empty(),
        "helix serve supervises the engine itself"
    );
    // A graceful stop of the control plane stops its engines too.
    Command::new("kill")
        .args(["-TERM", &helix.0.id().to_string()])
        .status()
        .unwrap();
    wait_gone(&engines, "after helix serve stopped").await;
}
