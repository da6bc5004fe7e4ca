//! A REAL engine: llama.cpp's `llama-server` with the tiny test model (every prompt
//! gets "Hello from tiny llama!"), supervised by the `InstanceManager`.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use helix_sched::runner::{InstanceManager, LlamaCppRuntime, ModelConfig};
use helix_sched::{InstanceId, InstanceSpec, InstanceState, RuntimeKind};
use reqwest::Method;
use serde_json::{json, Value};

use crate::pdeathsig::{engine_dies_with_a_killed_runner, orphan_is_reaped_by_the_next_runner};
use crate::{assert_group_gone, fast_config, llama_server, sse_text, wait_for};

fn tiny(name: &str, source: &Path) -> ModelConfig {
    let mut model = ModelConfig::new(
        name,
        RuntimeKind::LlamaCpp,
        source.to_str().expect("utf-8 path"),
    );
    model.context_len = 512;
    model.parallel = 2;
    model
}

fn manager(bin: &Path, models: Vec<ModelConfig>, state: &Path) -> InstanceManager {
    InstanceManager::new(models, state)
        .expect("manager")
        .with_runtime(Arc::new(LlamaCppRuntime::new(bin)))
        .with_config(fast_config())
}

fn start(manager: &InstanceManager, model: &str) -> InstanceId {
    let id = InstanceId::generate();
    manager
        .start(InstanceSpec {
            instance: id.clone(),
            model: model.into(),
            gpus: vec![],
        })
        .expect("start");
    id
}

fn chat(stream: bool) -> Bytes {
    json!({
        "model": "whatever-the-caller-says",
        "stream": stream,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "Hi"}],
    })
    .to_string()
    .into()
}

async fn streamed_answer(manager: &InstanceManager, id: &InstanceId) -> String {
    let resp = manager
        .forward(id, Method::POST, "/v1/chat/completions", chat(true))
        .await
        .expect("forward");
    assert_eq!(resp.status, 200);
    assert!(
        resp.content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/event-stream")),
        "{:?}",
        resp.content_type
    );
    sse_text(&resp.collect().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llama_serves_survives_kill_9_and_stops_clean() {
    let Some((bin, model)) = llama_server() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let manager = manager(&bin, vec![tiny("tiny", &model)], dir.path());
    let mut events = manager.subscribe();
    let id = start(&manager, "tiny");
    let seen = wait_for(&mut events, &id, InstanceState::Ready).await;
    assert_eq!(seen[0].state, InstanceState::Loading, "{seen:#?}");
    assert_eq!(manager.list().len(), 1);
    let base = manager.base_url(&id).expect("ready");
    assert_eq!(base.host_str(), Some("127.0.0.1"));

    assert_eq!(
        streamed_answer(&manager, &id).await,
        "Hello from tiny llama!"
    );
    let resp = manager
        .forward(&id, Method::POST, "/v1/chat/completions", chat(false))
        .await
        .expect("forward");
    let answer: Value = serde_json::from_slice(&resp.collect().await.expect("body")).expect("json");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from tiny llama!"
    );
    // The engine serves the model under the configured name (--alias).
    let resp = manager
        .forward(&id, Method::GET, "/v1/models", Bytes::new())
        .await
        .expect("models");
    let models: Value = serde_json::from_slice(&resp.collect().await.expect("body")).expect("json");
    assert_eq!(models["data"][0]["id"], "tiny", "{models}");

    // kill -9: detected, Restarting, then Ready again on a new process.
    let first = manager.pid(&id).expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap_or_else(|e| {
        panic!(
            "kill -9 {first}: {e}; status {:?}; output {:#?}",
            manager.status(&id),
            manager.recent_output(&id)
        )
    });
    let seen = wait_for(&mut events, &id, InstanceState::Ready).await;
    let restarting = seen
        .iter()
        .find(|s| s.state == InstanceState::Restarting)
        .unwrap_or_else(|| panic!("no Restarting in {seen:#?}"));
    let message = restarting.message.as_deref().expect("message");
    assert!(message.contains("signal: 9"), "{message}");
    let second = manager.pid(&id).expect("pid");
    assert_ne!(first, second);
    assert_group_gone(first).await;
    assert_eq!(
        streamed_answer(&manager, &id).await,
        "Hello from tiny llama!"
    );

    // stop: nothing of the group is left.
    manager.stop(&id).await.expect("stop");
    assert_group_gone(second).await;
    assert!(manager.list().is_empty());
    assert!(manager.base_url(&id).is_none());
    wait_for(&mut events, &id, InstanceState::Stopped).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llama_stop_all_and_drop_leave_no_engine() {
    let Some((bin, model)) = llama_server() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut emb = tiny("tiny-embed", &model);
    emb.embeddings = true;
    emb.parallel = 1;
    let manager = manager(&bin, vec![tiny("tiny", &model), emb], dir.path());
    let mut events = manager.subscribe();
    let chat_id = start(&manager, "tiny");
    let embed_id = start(&manager, "tiny-embed");
    wait_for(&mut events, &chat_id, InstanceState::Ready).await;
    // The events of both instances share the feed; wait on a fresh look at the other.
    while manager.status(&embed_id).expect("status").state != InstanceState::Ready {
        assert_ne!(
            manager.status(&embed_id).expect("status").state,
            InstanceState::Failed
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let resp = manager
        .forward(
            &embed_id,
            Method::POST,
            "/v1/embeddings",
            json!({"model": "x", "input": "hello"}).to_string().into(),
        )
        .await
        .expect("embeddings");
    assert_eq!(resp.status, 200);
    let json: Value = serde_json::from_slice(&resp.collect().await.expect("body")).expect("json");
    assert!(
        json["data"][0]["embedding"]
            .as_array()
            .is_some_and(|v| !v.is_empty()),
        "{json}"
    );

    let pids = [
        manager.pid(&chat_id).expect("pid"),
        manager.pid(&embed_id).expect("pid"),
    ];
    manager.stop_all().await;
    for pid in pids {
        assert_group_gone(pid).await;
    }
    assert!(manager.list().is_empty());

    // Dropping the manager (runner exit without stop_all) kills engines too.
    let id = start(&manager, "tiny");
    wait_for(&mut events, &id, InstanceState::Ready).await;
    let pid = manager.pid(&id).expect("pid");
    drop(manager);
    assert_group_gone(pid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llama_crash_loop_on_a_bad_model_fails_with_its_error() {
    let Some((bin, _)) = llama_server() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("broken.gguf");
    std::fs::write(&bad, b"this is not a gguf file at all").expect("write");
    let manager = manager(&bin, vec![tiny("broken", &bad)], &dir.path().join("state"));
    let mut events = manager.subscribe();
    let id = start(&manager, "broken");
    let seen = wait_for(&mut events, &id, InstanceState::Failed).await;
    let restarts = seen
        .iter()
        .filter(|s| s.state == InstanceState::Restarting)
        .count();
    assert_eq!(restarts, 2, "{seen:#?}");
    let message = seen
        .last()
        .and_then(|s| s.message.clone())
        .expect("message");
    assert!(message.contains("3 crashes"), "{message}");
    assert!(message.contains("failed to load model"), "{message}");
    assert!(message.contains("broken.gguf"), "{message}");
    // Failed instances stay listed (so the control plane sees why) until stopped.
    assert_eq!(manager.list()[0].state, InstanceState::Failed);
    manager.stop(&id).await.expect("stop");
}

#[tokio::test]
async fn real_llama_dies_with_a_sigkilled_runner() {
    if llama_server().is_none() {
        return;
    }
    engine_dies_with_a_killed_runner("llama").await;
}

#[tokio::test]
async fn real_llama_orphan_is_reaped_by_the_next_runner() {
    if llama_server().is_none() {
        return;
    }
    orphan_is_reaped_by_the_next_runner("llama").await;
}
