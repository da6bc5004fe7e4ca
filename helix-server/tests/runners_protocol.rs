//! The runner endpoint over a real socket against the real binary: who may connect,
//! and how bad protocol input is refused (HTTP 401 before the upgrade, then close
//! codes with reasons after it).

mod common;

use common::engine::{admin_key, start_helix};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(base: &str) -> String {
    format!(
        "{}/api/v1/runners/connect",
        base.replace("http://", "ws://")
    )
}

/// Connects with `token`; `Err(status, body)` when the upgrade is refused.
async fn dial(base: &str, token: Option<&str>) -> Result<(Ws, Option<String>), (u16, Value)> {
    let mut req = ws_url(base).into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, resp)) => Ok((
            ws,
            resp.headers()
                .get("x-helix-runner-id")
                .map(|v| v.to_str().unwrap().to_owned()),
        )),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((status, body))
        }
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

fn hello(runner_id: &str, protocol: u32) -> String {
    json!({"type": "hello", "protocol": protocol, "runner_id": runner_id, "name": "t", "version": "test",
           "runtimes": ["llama_cpp"],
           "gpus": [{"index": 0, "name": "cpu", "total_bytes": 1u64 << 30, "free_bytes": 1u64 << 30}],
           "models": [], "instances": []})
    .to_string()
}

/// The close code and reason the control plane ends with.
async fn closed_with(ws: &mut Ws) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("closed in time");
        match msg {
            Some(Ok(Message::Close(Some(f)))) => return (f.code.into(), f.reason.to_string()),
            Some(Ok(Message::Text(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn token(base: &str, key: &str, runner_id: &str) -> (String, String) {
    let r: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/runner-tokens"))
        .bearer_auth(key)
        .json(&json!({"runner_id": runner_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        r["token"].as_str().unwrap().to_owned(),
        r["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_valid_runner_tokens_connect_and_bad_frames_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_helix, base) = start_helix(dir.path()).await;
    let session = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let key = admin_key(&session, &base).await;
    let (tok, tok_id) = token(&base, &key, "gpu-1").await;

    // Refused before the upgrade: no token, a made-up token, a user's API key.
    for bad in [None, Some("hxr-made-up"), Some(key.as_str())] {
        let (status, body) = dial(&base, bad).await.expect_err("refused");
        assert_eq!(status, 401, "{bad:?}: {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }

    // A good token: the upgrade names the runner id the token is bound to.
    let (mut ws, named) = dial(&base, Some(&tok)).await.expect("upgraded");
    assert_eq!(named.as_deref(), Some("gpu-1"));
    ws.send(Message::text(hello("gpu-1", 1))).await.unwrap();
    let welcome = ws.next().await.unwrap().unwrap();
    let welcome: Value = serde_json::from_str(welcome.to_text().unwrap()).unwrap();
    assert_eq!(welcome["type"], "welcome");
    // Garbage after the handshake: 4000 with a reason.
    ws.send(Message::text("{not json")).await.unwrap();
    let (code, reason) = closed_with(&mut ws).await;
    assert_eq!(code, 4000, "{reason}");
    assert!(reason.contains("malformed"), "{reason}");

    // Unknown runner id (the token is bound to another): 4003.
    let (mut ws, _) = dial(&base, Some(&tok)).await.unwrap();
    ws.send(Message::text(hello("gpu-2", 1))).await.unwrap();
    let (code, reason) = closed_with(&mut ws).await;
    assert_eq!(code, 4003, "{reason}");

    // Wrong version: 4001.
    let (mut ws, _) = dial(&base, Some(&tok)).await.unwrap();
    ws.send(Message::text(hello("gpu-1", 99))).await.unwrap();
    let (code, reason) = closed_with(&mut ws).await;
    assert_eq!(code, 4001, "{reason}");

    // A binary frame instead of hello: 4000.
    let (mut ws, _) = dial(&base, Some(&tok)).await.unwrap();
    ws.send(Message::binary(vec![1u8, 0, 0, 0, 1, 42]))
        .await
        .unwrap();
    let (code, _) = closed_with(&mut ws).await;
    assert_eq!(code, 4000);

    // Revoked: the same token replayed is refused.
    let r = reqwest::Client::new()
        .delete(format!("{base}/api/v1/runner-tokens/{tok_id}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, _) = dial(&base, Some(&tok)).await.expect_err("revoked");
    assert_eq!(status, 401);
}
