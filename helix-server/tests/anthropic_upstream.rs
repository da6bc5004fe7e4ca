//! Anthropic as an upstream: OpenAI-shaped calls to Helix reach a Messages API server
//! (a local stand-in speaking Anthropic's documented wire format; the real API is not
//! reachable from here) and come back OpenAI-shaped, whole and streamed.

mod common;

use axum::extract::Json as AxJson;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{Caller, TestApp};
use serde_json::{json, Value};

const KEY: &str = "sk-ant-test-key";

async fn messages(h: HeaderMap, AxJson(req): AxJson<Value>) -> Response {
    let ok = h.get("x-api-key").is_some_and(|v| v == KEY)
        && h.get("anthropic-version")
            .is_some_and(|v| v == "2023-06-01");
    if !ok {
        return (StatusCode::UNAUTHORIZED, AxJson(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}))).into_response();
    }
    if req["max_tokens"].as_u64().is_none() || req["messages"][0]["role"] != "user" {
        return (StatusCode::BAD_REQUEST, AxJson(json!({"type": "error", "error": {"type": "invalid_request_error", "message": "bad request"}}))).into_response();
    }
    // The answer says what system prompt arrived, to prove the translation.
    let text = format!("Hi! system={}", req["system"].as_str().unwrap_or("-"));
    if req["stream"] == true {
        let events = [
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_9", "model": req["model"], "usage": {"input_tokens": 11, "output_tokens": 0}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ];
        let body: String = events
            .iter()
            .map(|(n, d)| format!("event: {n}\ndata: {d}\n\n"))
            .collect();
        return ([("content-type", "text/event-stream")], body).into_response();
    }
    AxJson(
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": req["model"],
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 11, "output_tokens": 4}}),
    )
    .into_response()
}

async fn anthropic_upstream() -> String {
    let app = axum::Router::new()
        .route("/v1/messages", post(messages))
        .route(
            "/v1/models",
            get(|| async { AxJson(json!({"data": [{"id": "claude-test", "type": "model"}]})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn openai_clients_reach_an_anthropic_upstream() {
    let base = anthropic_upstream().await;
    let t = TestApp::new().await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "claude", "kind": "anthropic", "base_url": base, "api_key": KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["kind"], "anthropic");

    let models = t.call(Method::GET, "/v1/models", &admin, None).await;
    assert_eq!(models.body["data"][0]["id"], "claude/claude-test");

    let msgs =
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]);
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &admin,
            Some(json!({"model": "claude/claude-test", "messages": msgs, "max_tokens": 20})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["object"], "chat.completion");
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "Hi! system=Be brief."
    );
    assert_eq!(r.body["choices"][0]["finish_reason"], "stop");
    assert_eq!(r.body["usage"]["total_tokens"], 15);

    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &admin,
            Some(json!({"model": "claude/claude-test", "messages": msgs, "stream": true})),
        )
        .await;
    let text = r.body.as_str().unwrap().to_owned();
    let data: Vec<&str> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(streamed, "Hi!");
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "stop"));

    // Anthropic in, Anthropic out, through Helix's OpenAI middle.
    let r = t.call(Method::POST, "/v1/messages", &admin, Some(json!({"model": "claude/claude-test", "max_tokens": 20, "system": "S", "messages": [{"role": "user", "content": "hi"}]}))).await;
    assert_eq!(r.body["content"][0]["text"], "Hi! system=S");

    // A wrong upstream key surfaces as an upstream error; embeddings are refused.
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "claude-bad", "kind": "anthropic", "base_url": base, "api_key": "wrong", "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &admin,
            Some(json!({"model": "claude-bad/claude-test", "messages": msgs})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{:?}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-api-key"));
    let r = t
        .call(
            Method::POST,
            "/v1/embeddings",
            &admin,
            Some(json!({"model": "claude/claude-test", "input": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let Caller::ApiKey(_) = admin else {
        unreachable!()
    };
}
