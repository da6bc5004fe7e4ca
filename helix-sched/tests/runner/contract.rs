//! The Ollama and vLLM runtimes' health, prepare and proxying against in-process
//! contract fakes.

use std::time::Duration;

use bytes::Bytes;
use helix_sched::runner::{forward, Health, ModelConfig, ModelRuntime, OllamaRuntime, VllmRuntime};
use helix_sched::RuntimeKind;
use reqwest::Method;
use serde_json::{json, Value};
use url::Url;

use crate::fakes::{self, free_port, serve_in_process, Log};
use crate::sse_text;

fn base(port: u16) -> Url {
    Url::parse(&format!("http://127.0.0.1:{port}/")).expect("url")
}

fn chat(stream: bool) -> Bytes {
    json!({
        "model": "what-the-caller-said",
        "stream": stream,
        "messages": [{"role": "user", "content": "Hi"}],
    })
    .to_string()
    .into()
}

fn ollama_model(tag: &str) -> ModelConfig {
    let mut m = ModelConfig::new("llama3", RuntimeKind::Ollama, tag);
    m.memory_bytes = Some(6 << 30);
    m
}

#[tokio::test]
async fn ollama_health_prepare_and_streaming_chat() {
    let log = Log::default();
    let port = free_port();
    let http = reqwest::Client::new();
    let runtime = OllamaRuntime::default();
    let model = ollama_model("llama3.1:8b");
    // Nothing listens yet: still loading as far as the supervisor is concerned.
    assert_eq!(
        runtime.health(&http, &base(port), &model).await,
        Health::Loading
    );
    serve_in_process(
        fakes::ollama(&["llama3.1:8b"], Duration::from_millis(50), log.clone()),
        port,
        Duration::ZERO,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while runtime.health(&http, &base(port), &model).await != Health::Ready {
        assert!(std::time::Instant::now() < deadline, "fake ollama not up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    runtime
        .prepare(&http, &base(port), &model)
        .await
        .expect("prepare");
    let calls = log.lock().expect("log").clone();
    assert_eq!(
        calls,
        [
            ("/api/show".to_owned(), json!({"model": "llama3.1:8b"})),
            (
                "/api/generate".to_owned(),
                json!({"model": "llama3.1:8b", "keep_alive": -1, "stream": false})
            ),
        ]
    );

    let upstream = runtime.upstream_model(&model);
    let resp = forward(
        &http,
        &base(port),
        Method::POST,
        "/v1/chat/completions",
        chat(true),
        Some(&upstream),
    )
    .await
    .expect("forward");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type.as_deref(), Some("text/event-stream"));
    let body = resp.collect().await.expect("body");
    assert_eq!(sse_text(&body), "Hello from fake ollama!");
    // The engine was asked for its own name for the model.
    let last = log.lock().expect("log").last().cloned().expect("chat");
    assert_eq!(last.1["model"], "llama3.1:8b");
}

#[tokio::test]
async fn ollama_embedding_models_load_through_embed() {
    let log = Log::default();
    let port = free_port();
    serve_in_process(
        fakes::ollama(&["nomic-embed-text"], Duration::ZERO, log.clone()),
        port,
        Duration::ZERO,
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut model = ollama_model("nomic-embed-text");
    model.embeddings = true;
    OllamaRuntime::default()
        .prepare(&reqwest::Client::new(), &base(port), &model)
        .await
        .expect("prepare");
    let paths: Vec<String> = log
        .lock()
        .expect("log")
        .iter()
        .map(|c| c.0.clone())
        .collect();
    assert_eq!(paths, ["/api/show", "/api/embed"]);
}

#[tokio::test]
async fn ollama_missing_model_is_a_clear_error() {
    let port = free_port();
    serve_in_process(
        fakes::ollama(&["llama3.1:8b"], Duration::ZERO, Log::default()),
        port,
        Duration::ZERO,
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = OllamaRuntime::default()
        .prepare(
            &reqwest::Client::new(),
            &base(port),
            &ollama_model("mistral:7b"),
        )
        .await
        .expect_err("missing");
    assert_eq!(err.code(), "engine_model_missing");
    assert!(err.is_user_error());
    let msg = err.to_string();
    assert!(msg.contains("model mistral:7b not found"), "{msg}");
    assert!(msg.contains("model 'mistral:7b' not found"), "{msg}");
    assert!(msg.contains("ollama pull mistral:7b"), "{msg}");
}

#[tokio::test]
async fn vllm_refuses_connections_while_loading_then_serves() {
    let log = Log::default();
    let port = free_port();
    let http = reqwest::Client::new();
    let runtime = VllmRuntime::default();
    let mut model = ModelConfig::new("qwen", RuntimeKind::Vllm, "Qwen/Qwen2.5-0.5B-Instruct");
    model.memory_bytes = Some(4 << 30);
    serve_in_process(
        fakes::vllm("qwen", log.clone()),
        port,
        Duration::from_millis(300),
    );
    let mut seen = vec![runtime.health(&http, &base(port), &model).await];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while seen.last() != Some(&Health::Ready) {
        assert!(std::time::Instant::now() < deadline, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen.push(runtime.health(&http, &base(port), &model).await);
    }
    assert_eq!(seen[0], Health::Loading, "{seen:?}");

    runtime
        .prepare(&http, &base(port), &model)
        .await
        .expect("prepare");

    // Streaming: the chunks arrive as the engine sends them.
    let resp = forward(
        &http,
        &base(port),
        Method::POST,
        "/v1/chat/completions",
        chat(true),
        Some(&runtime.upstream_model(&model)),
    )
    .await
    .expect("forward");
    assert_eq!(resp.status, 200);
    use futures::StreamExt;
    let mut body = resp.body;
    let mut chunks = Vec::new();
    while let Some(chunk) = body.next().await {
        chunks.push(chunk.expect("chunk"));
    }
    assert!(chunks.len() >= 3, "{} chunks", chunks.len());
    assert_eq!(sse_text(&chunks.concat()), "Hello from fake vllm!");

    // Plain.
    let resp = forward(
        &http,
        &base(port),
        Method::POST,
        "/v1/chat/completions",
        chat(false),
        Some("qwen"),
    )
    .await
    .expect("forward");
    assert_eq!(resp.content_type.as_deref(), Some("application/json"));
    let json: Value = serde_json::from_slice(&resp.collect().await.expect("body")).expect("json");
    assert_eq!(
        json["choices"][0]["message"]["content"],
        "Hello from fake vllm!"
    );

    // Without rewriting, the caller's name reaches the engine, which refuses it.
    let resp = forward(
        &http,
        &base(port),
        Method::POST,
        "/v1/chat/completions",
        chat(false),
        None,
    )
    .await
    .expect("forward");
    assert_eq!(resp.status, 404);

    // GET passes through; admin paths never do.
    let resp = forward(
        &http,
        &base(port),
        Method::GET,
        "/v1/models",
        Bytes::new(),
        None,
    )
    .await
    .expect("models");
    assert_eq!(resp.status, 200);
    let err = forward(
        &http,
        &base(port),
        Method::GET,
        "/health",
        Bytes::new(),
        None,
    )
    .await
    .expect_err("refused");
    assert_eq!(err.code(), "proxy_path_refused");
}

#[tokio::test]
async fn vllm_serving_another_name_fails_prepare() {
    let port = free_port();
    serve_in_process(fakes::vllm("other", Log::default()), port, Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut model = ModelConfig::new("qwen", RuntimeKind::Vllm, "x");
    model.memory_bytes = Some(1 << 30);
    let err = VllmRuntime::default()
        .prepare(&reqwest::Client::new(), &base(port), &model)
        .await
        .expect_err("wrong name");
    assert_eq!(err.code(), "engine_model_missing");
    assert!(err.to_string().contains("[\"other\"]"), "{err}");
}

#[tokio::test]
async fn forward_to_a_dead_engine_is_unreachable() {
    let err = forward(
        &reqwest::Client::new(),
        &base(free_port()),
        Method::POST,
        "/v1/chat/completions",
        chat(false),
        Some("m"),
    )
    .await
    .expect_err("nobody listens");
    assert_eq!(err.code(), "engine_unreachable");
    assert!(!err.is_user_error());
}
