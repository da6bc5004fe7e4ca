//! A local OpenAI-compatible upstream that tests control, to reach paths a healthy
//! engine never takes. Models: `explode` (500), `dies-mid-stream` (connection drops
//! after two chunks), `slow` (10 chunks, 100 ms apart), `stall` (headers, then a minute
//! of nothing before each chunk), `echo` (streams the request
//! it received as its text); anything else answers "Hello". Streams send a usage-only
//! chunk when `stream_options.include_usage` is set. Every call needs `UPSTREAM_KEY`.

use axum::body::Body;
use axum::extract::Json as AxJson;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

pub const UPSTREAM_KEY: &str = "sk-upstream-secret-123";

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {UPSTREAM_KEY}"))
}

async fn chat(h: HeaderMap, AxJson(req): AxJson<Value>) -> Response {
    if !authorized(&h) {
        return (
            StatusCode::UNAUTHORIZED,
            AxJson(json!({"error": {"message": "bad key"}})),
        )
            .into_response();
    }
    if req["model"] == "explode" {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            AxJson(json!({"error": {"message": "engine on fire"}})),
        )
            .into_response();
    }
    if req["model"] == "array" {
        return AxJson(json!([1, 2, 3])).into_response();
    }
    if req["stream"] == true {
        let chunk = |text: &str| {
            format!(
                "data: {}\n\n",
                json!({"object": "chat.completion.chunk", "model": req["model"], "choices": [{"index": 0, "delta": {"content": text}}]})
            )
        };
        let mut parts: Vec<Result<String, std::io::Error>> = if req["model"] == "slow" {
            (0..10).map(|i| Ok(chunk(&format!("w{i} ")))).collect()
        } else if req["model"] == "echo" {
            vec![Ok(chunk(&req.to_string()))]
        } else {
            vec![Ok(chunk("Hel")), Ok(chunk("lo"))]
        };
        // `stall`: headers at once, then nothing for a minute (an engine still loading).
        let pace = match req["model"].as_str() {
            Some("slow") => 100,
            Some("stall") => 60_000,
            _ => 30,
        };
        if req["model"] == "dies-mid-stream" {
            parts.push(Err(std::io::Error::other("engine killed")));
        } else {
            if req["stream_options"]["include_usage"] == true {
                let usage = json!({"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
                parts.push(Ok(format!("data: {usage}\n\n")));
            }
            parts.push(Ok("data: [DONE]\n\n".into()));
        }
        return Response::builder()
            .header("content-type", "text/event-stream")
            // Paced, so headers and the first chunks are on the wire before a failure.
            .body(Body::from_stream(futures::StreamExt::then(
                futures::stream::iter(parts),
                move |p| async move {
                    tokio::time::sleep(std::time::Duration::from_millis(pace)).await;
                    p
                },
            )))
            .unwrap();
    }
    // Echo what arrived so the test sees every field was passed through.
    AxJson(json!({"id": "c1", "object": "chat.completion", "model": req["model"], "echo": req,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})).into_response()
}

/// The upstream's routes (for tests that serve it their own way, e.g. over TLS).
pub fn router() -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(|AxJson(req): AxJson<Value>| async move {
            AxJson(json!({"object": "list", "model": req["model"], "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]}))
        }))
        .route("/v1/models", get(|| async { AxJson(json!({"object": "list", "data": [{"id": "m1"}, {"id": "m2"}, {"id": "explode"}, {"id": "dies-mid-stream"}, {"id": "slow"}, {"id": "echo"}, {"id": "array"}, {"id": "stall"}]})) }))
}

pub async fn upstream() -> String {
    let app = router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}
