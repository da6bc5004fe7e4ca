//! Two `helix serve` replicas on one PostgreSQL database: live updates, stops and
//! changes to credentials cross between them through LISTEN/NOTIFY (the in-process
//! bus could not do this).

mod common;

use common::fake_upstream::{upstream, UPSTREAM_KEY};
use common::process::Server;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(base: &str, key: &str, session: &str) -> Ws {
    let mut req = format!("{}/api/v1/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    let mut ws = tokio_tungstenite::connect_async(req).await.unwrap().0;
    ws.send(Message::Text(
        json!({"type": "subscribe", "session_id": session})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    ws
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(15), ws.next())
            .await
            .expect("no frame in 15 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// Follows a session the way a client would (a snapshot replaces the local copy,
/// deltas append) until an answer completes; returns the answer's text as built.
async fn follow_answer(ws: &mut Ws) -> String {
    let mut texts: std::collections::HashMap<String, String> = Default::default();
    loop {
        let f = recv(ws).await;
        match f["type"].as_str().unwrap() {
            "snapshot" => {
                texts = f["session"]["interactions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| {
                        (
                            i["id"].as_str().unwrap().to_owned(),
                            i["content"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
            }
            "event" => {
                let ev = &f["event"];
                match ev["type"].as_str().unwrap() {
                    "delta" => {
                        let text = texts
                            .entry(ev["interaction_id"].as_str().unwrap().to_owned())
                            .or_default();
                        assert_eq!(
                            ev["offset"].as_u64().unwrap() as usize,
                            text.chars().count(),
                            "no gap, no duplicate: {ev}"
                        );
                        text.push_str(ev["text"].as_str().unwrap());
                    }
                    "completed" => {
                        let id = ev["interaction"]["id"].as_str().unwrap();
                        if ev["interaction"]["role"] == "assistant" {
                            let built = texts.get(id).cloned().unwrap_or_default();
                            assert_eq!(built, ev["interaction"]["content"].as_str().unwrap());
                            return built;
                        }
                    }
                    _ => {}
                }
            }
            other => panic!("unexpected frame {other}: {f}"),
        }
    }
}

async fn json_post(url: &str, key: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

/// Two `helix serve` processes on the PostgreSQL database at `url`, ready.
async fn two_replicas(url: &str, extra: &[&str]) -> (Server, Server) {
    let key_hex = "7f".repeat(31) + "01";
    let mut args = vec!["--database-url", url, "--encryption-key", key_hex.as_str()];
    args.extend_from_slice(extra);
    let mut a = Server::start(&args);
    let mut b = Server::start(&args);
    a.wait_healthy().await;
    b.wait_healthy().await;
    (a, b)
}

/// A user registered and signed in on `base` (cookie client and CSRF token).
struct SignedIn {
    http: reqwest::Client,
    base: String,
    csrf: String,
}

impl SignedIn {
    async fn sign_up(base: &str, email: &str) -> SignedIn {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let creds = json!({"email": email, "password": "correct horse battery"});
        http.post(format!("{base}/api/v1/auth/register"))
            .json(&creds)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        let login: Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&creds)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let csrf = login["csrf_token"].as_str().unwrap().to_owned();
        SignedIn {
            http,
            base: base.to_owned(),
            csrf,
        }
    }

    /// A new API key: the secret and its id.
    async fn new_key(&self, name: &str) -> (String, String) {
        let k: Value = self
            .http
            .post(format!("{}/api/v1/api-keys", self.base))
            .header("x-csrf-token", &self.csrf)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            k["key"].as_str().unwrap().to_owned(),
            k["id"].as_str().unwrap().to_owned(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_updates_cross_replicas_through_postgres() {
    let Some(url) = helix_core::testing::postgres_url().await else {
        return;
    };
    let up = upstream().await;
    let (a, b) = two_replicas(&url, &[]).await;

    // Everything is created on replica A.
    let (key, _) = SignedIn::sign_up(&a.base, "ada@example.com")
        .await
        .new_key("k")
        .await;
    json_post(&format!("{}/api/v1/providers", a.base), &key,
        json!({"name": "fake", "kind": "openai", "base_url": up, "api_key": UPSTREAM_KEY, "scope": "global"})).await;
    let session = json_post(
        &format!("{}/api/v1/sessions", a.base),
        &key,
        json!({"model": "fake/slow"}),
    )
    .await;
    let id = session["id"].as_str().unwrap().to_owned();
    let expected: String = (0..10).map(|i| format!("w{i} ")).collect();

    // A subscriber on B follows a turn that runs on A.
    let mut on_b = subscribe(&b.base, &key, &id).await;
    let turn = tokio::spawn(json_post_owned(
        format!("{}/api/v1/sessions/{id}/chat?stream=false", a.base),
        key.clone(),
        json!({"message": "go"}),
    ));
    assert_eq!(follow_answer(&mut on_b).await, expected);
    turn.await.unwrap();

    // One that joins B in the middle of an answer running on A still gets it exactly
    // once (B cannot see A's live text: it notices the gap and waits for the store).
    let turn = tokio::spawn(json_post_owned(
        format!("{}/api/v1/sessions/{id}/chat?stream=false", a.base),
        key.clone(),
        json!({"message": "again"}),
    ));
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    let mut late = subscribe(&b.base, &key, &id).await;
    assert_eq!(follow_answer(&mut late).await, expected);
    turn.await.unwrap();

    // A completed event too big for a NOTIFY crosses through the payload table.
    let echo = json_post(
        &format!("{}/api/v1/sessions", a.base),
        &key,
        json!({"model": "fake/echo"}),
    )
    .await;
    let echo_id = echo["id"].as_str().unwrap().to_owned();
    let mut big = subscribe(&b.base, &key, &echo_id).await;
    assert_eq!(recv(&mut big).await["type"], "snapshot");
    let long = "x".repeat(20_000);
    let turn = tokio::spawn(json_post_owned(
        format!("{}/api/v1/sessions/{echo_id}/chat?stream=false", a.base),
        key.clone(),
        json!({"message": long}),
    ));
    let text = follow_answer(&mut big).await;
    assert!(
        text.len() > 20_000 && text.contains(&long),
        "{} bytes",
        text.len()
    );
    turn.await.unwrap();
}

async fn json_post_owned(url: String, key: String, body: Value) -> Value {
    json_post(&url, &key, body).await
}

/// Two replicas whose cached API keys would live five minutes: only the bus can make
/// a change on one replica take effect on the other within the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_and_revocations_cross_replicas() {
    let Some(url) = helix_core::testing::postgres_url().await else {
        return;
    };
    let up = upstream().await;
    let (a, b) = two_replicas(&url, &["--auth-cache-secs", "300"]).await;
    let grace = SignedIn::sign_up(&a.base, "grace@example.com").await;
    let (key, _) = grace.new_key("main").await;
    json_post(&format!("{}/api/v1/providers", a.base), &key,
        json!({"name": "fake", "kind": "openai", "base_url": up, "api_key": UPSTREAM_KEY, "scope": "global"})).await;

    // An answer that would stall for a minute runs on A; Stop is pressed on B.
    let session = json_post(
        &format!("{}/api/v1/sessions", a.base),
        &key,
        json!({"model": "fake/stall"}),
    )
    .await;
    let id = session["id"].as_str().unwrap().to_owned();
    let turn = tokio::spawn(json_post_owned(
        format!("{}/api/v1/sessions/{id}/chat?stream=false", a.base),
        key.clone(),
        json!({"message": "go"}),
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = json_post(
            &format!("{}/api/v1/sessions/{id}/stop", b.base),
            &key,
            json!({}),
        )
        .await;
        if r["stopped"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B never saw the answer running"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::timeout(std::time::Duration::from_secs(15), turn)
        .await
        .expect("the answer on A was not stopped from B")
        .unwrap();
    let got: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/sessions/{id}", b.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = got["interactions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["role"], "assistant", "{got}");
    assert_eq!(last["state"], "error", "{last}");
    assert!(
        last["error"].as_str().unwrap().starts_with("stopped"),
        "{last}"
    );

    // A key A has just checked (and cached) is revoked on B: A refuses it at once.
    let (doomed, doomed_id) = grace.new_key("doomed").await;
    let models = |base: String, key: String| async move {
        reqwest::Client::new()
            .get(format!("{base}/v1/models"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(models(a.base.clone(), doomed.clone()).await, 200);
    let r = grace
        .http
        .delete(format!("{}/api/v1/api-keys/{doomed_id}", b.base))
        .header("x-csrf-token", &grace.csrf)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while models(a.base.clone(), doomed.clone()).await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "A still takes a key revoked on B"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The other key is untouched.
    assert_eq!(models(a.base.clone(), key.clone()).await, 200);
}
