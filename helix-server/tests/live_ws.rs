//! Live updates over the WebSocket, on a real TCP server: two subscribers see the same
//! ordered deltas; one that drops mid-answer and resubscribes gets the full text
//! exactly once; someone without access is refused.

mod common;

use axum::http::{Method, StatusCode};
use common::fake_upstream::{upstream, UPSTREAM_KEY};
use common::{Caller, TestApp};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(base: &str, key: &str) -> Ws {
    let mut req = format!("ws://{base}/api/v1/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket upgrade")
        .0
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("no frame in 10 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// Starts a turn over HTTP without reading its answer here.
fn start_turn(base: &str, key: &str, id: &str, message: &str) -> tokio::task::JoinHandle<Value> {
    let req = reqwest::Client::new()
        .post(format!(
            "http://{base}/api/v1/sessions/{id}/chat?stream=false"
        ))
        .bearer_auth(key)
        .json(&json!({"message": message}));
    tokio::spawn(async move { req.send().await.unwrap().json().await.unwrap() })
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Applies frames to a local copy of the answer text; returns it when complete.
/// Deltas are appended blindly, so a duplicate or a gap shows up in the text.
async fn follow(
    ws: &mut Ws,
    mut text: String,
    deltas: &mut Vec<(u64, String)>,
    stop_after: Option<usize>,
) -> Option<String> {
    loop {
        let f = recv(ws).await;
        assert_eq!(f["type"], "event", "{f}");
        let ev = &f["event"];
        match ev["type"].as_str().unwrap() {
            "delta" => {
                assert_eq!(
                    ev["offset"].as_u64().unwrap() as usize,
                    text.chars().count(),
                    "offsets are contiguous: {ev}"
                );
                text.push_str(ev["text"].as_str().unwrap());
                deltas.push((
                    ev["offset"].as_u64().unwrap(),
                    ev["text"].as_str().unwrap().to_owned(),
                ));
                if stop_after.is_some_and(|n| deltas.len() >= n) {
                    return None;
                }
            }
            "completed" => {
                assert_eq!(ev["interaction"]["content"].as_str().unwrap(), text);
                return Some(text);
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_subscribers_reconnect_and_access() {
    let up = upstream().await;
    let t = TestApp::new().await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "fake", "kind": "openai", "base_url": up, "api_key": UPSTREAM_KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (alice, _) = t.user_with_key("alice@x.io").await;
    let (mallory, _) = t.user_with_key("mallory@x.io").await;
    let (Caller::ApiKey(alice_key), Caller::ApiKey(mallory_key)) = (&alice, &mallory) else {
        unreachable!()
    };
    let id = t
        .call(
            Method::POST,
            "/api/v1/sessions",
            &alice,
            Some(json!({"model": "fake/slow"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = listener.local_addr().unwrap().to_string();
    let app = t.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Someone without access is refused; bad frames get an error and the socket lives.
    let mut m = connect(&base, mallory_key).await;
    send(&mut m, json!({"type": "subscribe", "session_id": id})).await;
    let f = recv(&mut m).await;
    assert_eq!(
        (f["type"].as_str(), f["error"]["code"].as_str()),
        (Some("error"), Some("not_found"))
    );
    m.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(recv(&mut m).await["error"]["code"], "bad_frame");
    send(
        &mut m,
        json!({"type": "subscribe", "session_id": "ses_nope"}),
    )
    .await;
    assert_eq!(recv(&mut m).await["error"]["code"], "invalid_id");
    send(&mut m, json!({"type": "ping"})).await;
    assert_eq!(recv(&mut m).await["type"], "pong");

    // Two subscribers on one session.
    let mut a = connect(&base, alice_key).await;
    let mut b = connect(&base, alice_key).await;
    for ws in [&mut a, &mut b] {
        send(ws, json!({"type": "subscribe", "session_id": id})).await;
        let snap = recv(ws).await;
        assert_eq!(snap["type"], "snapshot");
        assert_eq!(snap["session"]["interactions"], json!([]));
    }
    // Start a turn; its own response is not read (the answer is kept regardless).
    let chat = start_turn(&base, alice_key, &id, "go");
    for ws in [&mut a, &mut b] {
        for _ in 0..2 {
            assert_eq!(recv(ws).await["event"]["type"], "interaction_created");
        }
    }
    let expected: String = (0..10).map(|i| format!("w{i} ")).collect();
    let mut b_deltas = Vec::new();
    assert!(follow(&mut b, String::new(), &mut b_deltas, Some(3))
        .await
        .is_none());
    drop(b); // B drops mid-answer

    let mut a_deltas = Vec::new();
    let a_text = follow(&mut a, String::new(), &mut a_deltas, None)
        .await
        .unwrap();
    assert_eq!(a_text, expected);
    assert_eq!(
        &a_deltas[..3],
        &b_deltas[..],
        "both saw the same ordered deltas"
    );
    let _ = chat.await;

    // A second turn; B reconnects in the middle of it.
    let chat = start_turn(&base, alice_key, &id, "again");
    // Reconnect once the answer is under way (A has seen three of its deltas).
    let mut a_second = Vec::new();
    assert!(follow(&mut a, String::new(), &mut a_second, Some(3))
        .await
        .is_none());
    let mut b = connect(&base, alice_key).await;
    send(&mut b, json!({"type": "subscribe", "session_id": id})).await;
    let snap = recv(&mut b).await;
    assert_eq!(snap["type"], "snapshot");
    let log = snap["session"]["interactions"].as_array().unwrap();
    assert_eq!(log.len(), 4, "both turns' interactions are in the snapshot");
    assert_eq!(log[1]["content"].as_str().unwrap(), expected);
    let partial = log[3]["content"].as_str().unwrap().to_owned();
    assert_eq!(log[3]["state"], "waiting");
    assert!(
        !partial.is_empty() && partial.len() < expected.len(),
        "reconnected mid-answer: {partial:?}"
    );
    let mut rest = Vec::new();
    let full = follow(&mut b, partial, &mut rest, None).await.unwrap();
    assert_eq!(
        full, expected,
        "snapshot + events = the answer, exactly once"
    );
    let done = chat.await.unwrap();
    assert_eq!(done["interaction"]["content"].as_str().unwrap(), expected);
}

#[tokio::test]
async fn cookie_websockets_from_other_origins_and_anonymous_are_refused() {
    let t = TestApp::new().await;
    let session = t.signup("ada@x.io").await;
    let Caller::Session { token, .. } = session else {
        unreachable!()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = listener.local_addr().unwrap().to_string();
    let app = t.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut req = format!("ws://{base}/api/v1/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", format!("helix_session={token}").parse().unwrap());
    req.headers_mut()
        .insert("origin", "https://evil.test".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let mut req = format!("ws://{base}/api/v1/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", format!("helix_session={token}").parse().unwrap());
    req.headers_mut()
        .insert("origin", "http://localhost:8080".parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_ok(),
        "the instance's own origin is fine"
    );
    let req = format!("ws://{base}/api/v1/ws")
        .into_client_request()
        .unwrap();
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}

#[tokio::test]
async fn a_socket_whose_key_is_revoked_is_closed() {
    let http = helix_server::HttpSettings {
        live_reauth_every: std::time::Duration::from_millis(200),
        ..helix_server::HttpSettings::default()
    };
    let t = TestApp::with_options(http, true, true).await;
    let (alice, _) = t.user_with_key("alice@x.io").await;
    let Caller::ApiKey(key) = &alice else {
        unreachable!()
    };
    let id = t
        .call(
            Method::POST,
            "/api/v1/sessions",
            &alice,
            Some(json!({"model": "fake/m1"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = listener.local_addr().unwrap().to_string();
    let app = t.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut ws = connect(&base, key).await;
    send(&mut ws, json!({"type": "subscribe", "session_id": id})).await;
    assert_eq!(recv(&mut ws).await["type"], "snapshot");
    // Still signed in after several checks: the socket stays.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(recv(&mut ws).await["type"], "pong");

    // Keys are managed from a signed-in browser session.
    let browser = t.login("alice@x.io").await;
    let keys = t
        .call(Method::GET, "/api/v1/api-keys", &browser, None)
        .await;
    let key_id = keys.body[0]["id"].as_str().unwrap().to_owned();
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{key_id}"),
            &browser,
            None,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let f = recv(&mut ws).await;
    assert_eq!(
        (f["type"].as_str(), f["error"]["code"].as_str()),
        (Some("error"), Some("invalid_credentials")),
        "{f}"
    );
    let close = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .expect("closed within 5 s");
    match close {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4401),
        other => panic!("expected a close frame, got {other:?}"),
    }
}
