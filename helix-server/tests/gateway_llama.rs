//! The gateway end to end against a REAL engine: llama.cpp's `llama-server` (built by
//! scripts/llama.sh) with a tiny generated model, behind the real `helix` binary.
//! Chat (plain and streaming), embeddings and models through `/v1`; the official
//! `openai` Python and npm clients (tests/clients/run.sh); and killing the engine
//! mid-stream.
//!
//! Required when `HELIX_TEST_REQUIRE_LLAMA=1` (scripts/test.sh, CI); otherwise skipped
//! with a message when `HELIX_LLAMA_SERVER` / `HELIX_TEST_MODEL` are not set.

mod common;

use common::engine::{add_endpoint, admin_key, engine, sse_events, start_helix, start_llama};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_against_a_real_llama_server() {
    let Some((bin, model)) = engine() else { return };
    let (_chat, chat_url) = start_llama(&bin, &model, &["-c", "2048"]).await;
    let (_embed, embed_url) = start_llama(
        &bin,
        &model,
        &["-c", "512", "--embeddings", "--pooling", "mean"],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_helix, base) = start_helix(dir.path()).await;
    let session = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let key = admin_key(&session, &base).await;
    add_endpoint(&base, &key, "llama", &chat_url).await;
    add_endpoint(&base, &key, "llama-embed", &embed_url).await;
    let http = reqwest::Client::new();

    let models: Value = http
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
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"llama/tiny") && ids.contains(&"llama-embed/tiny"),
        "{models}"
    );

    let msg = json!([{"role": "user", "content": "Say hello"}]);
    let r = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "llama/tiny", "messages": msg, "max_tokens": 8, "temperature": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "llama/tiny");
    // scripts/tiny_model.py builds the model to answer every prompt with this.
    assert_eq!(
        answer["choices"][0]["message"]["content"], "Hello from tiny llama!",
        "{answer}"
    );
    let completion_tokens = answer["usage"]["completion_tokens"].as_i64().unwrap();
    assert!(
        (1..=8).contains(&completion_tokens),
        "max_tokens reached the engine: {answer}"
    );

    let r = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "llama/tiny", "messages": msg, "max_tokens": 8, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_events(r, || {}).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "llama/tiny"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from tiny llama!");

    let r = http
        .post(format!("{base}/v1/embeddings"))
        .bearer_auth(&key)
        .json(&json!({"model": "llama-embed/tiny", "input": ["hello", "world"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let emb: Value = r.json().await.unwrap();
    let vectors: Vec<usize> = emb["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["embedding"].as_array().unwrap().len())
        .collect();
    assert_eq!(vectors.len(), 2);
    assert!(vectors[0] > 0 && vectors[0] == vectors[1], "{vectors:?}");

    // The official clients, unchanged.
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/run.sh");
    let out = Command::new("bash")
        .arg(&clients)
        .env("HELIX_BASE_URL", format!("{base}/v1"))
        .env("HELIX_API_KEY", &key)
        .env("HELIX_CHAT_MODEL", "llama/tiny")
        .env("HELIX_EMBED_MODEL", "llama-embed/tiny")
        .output()
        .expect("run tests/clients/run.sh");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{log}");
    assert!(
        out.status.success(),
        "official client suites failed:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_engine_mid_stream_ends_in_an_error_event() {
    let Some((bin, model)) = engine() else { return };
    let (mut engine, url) = start_llama(&bin, &model, &["-c", "8192"]).await;
    let dir = tempfile::tempdir().unwrap();
    let (_helix, base) = start_helix(dir.path()).await;
    let session = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let key = admin_key(&session, &base).await;
    add_endpoint(&base, &key, "llama", &url).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(
            &json!({"model": "llama/tiny", "stream": true, "max_tokens": 8000, "ignore_eos": true,
            "messages": [{"role": "user", "content": "Write forever"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    let events = sse_events(r, || {
        let _ = engine.0.kill();
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
    // Helix itself is fine and says so.
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}
