//! Helpers for end-to-end tests with real processes: the real `helix` binary, a real
//! `llama-server`, free ports, readiness waits and SSE reading.

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The llama-server binary and the tiny model, or `None` (test skipped) when CI does
/// not require them.
pub fn engine() -> Option<(String, String)> {
    match (
        std::env::var("HELIX_LLAMA_SERVER"),
        std::env::var("HELIX_TEST_MODEL"),
    ) {
        (Ok(bin), Ok(model)) => Some((bin, model)),
        _ => {
            assert!(
                std::env::var("HELIX_TEST_REQUIRE_LLAMA").as_deref() != Ok("1"),
                "HELIX_TEST_REQUIRE_LLAMA=1 but HELIX_LLAMA_SERVER or HELIX_TEST_MODEL is not set"
            );
            eprintln!("llama-server not available (scripts/llama.sh): real-engine test not run");
            None
        }
    }
}

/// Waits for `url` to answer 2xx while `child` lives.
pub async fn wait_ok(url: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(url).await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "process behind {url} exited"
        );
        assert!(Instant::now() < deadline, "{url} did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `helix serve` on a free port with its data in `dir`, plus `extra` flags.
pub async fn start_helix_with(dir: &std::path::Path, extra: &[&str]) -> (Proc, String) {
    start(dir, free_port(), extra).await
}

/// As [`start_helix_with`] on a port chosen before (when something started first must
/// know Helix's URL, like an identity provider its redirect URI).
pub async fn start_helix_at(dir: &std::path::Path, port: u16, extra: &[&str]) -> (Proc, String) {
    start(dir, port, extra).await
}

/// `helix serve` on a free port with its data in `dir`.
pub async fn start_helix(dir: &std::path::Path) -> (Proc, String) {
    start(dir, free_port(), &[]).await
}

async fn start(dir: &std::path::Path, port: u16, extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_helix"))
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        // Tests that want sandboxes pass `--sandboxes on` (the flag beats the variable).
        .env("HELIX_SANDBOXES", "off")
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_ok(&format!("{base}/readyz"), &mut child).await;
    (Proc(child), base)
}

/// Registers the admin, returns an API key.
pub async fn admin_key(http: &reqwest::Client, base: &str) -> String {
    user_key_with(http, base, "admin@example.com").await
}

/// Registers a user (the first one becomes site admin) and returns an API key of theirs.
#[allow(dead_code)]
pub async fn user_key(base: &str, email: &str) -> String {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    user_key_with(&http, base, email).await
}

async fn user_key_with(http: &reqwest::Client, base: &str, email: &str) -> String {
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
    let key: Value = http
        .post(format!("{base}/api/v1/api-keys"))
        .header("x-csrf-token", login["csrf_token"].as_str().unwrap())
        .json(&json!({"name": "e2e"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    key["key"].as_str().unwrap().to_owned()
}

/// Reads an SSE body to the end; returns its `data:` payloads.
pub async fn sse_events(resp: reqwest::Response, on_first: impl FnOnce()) -> Vec<String> {
    use futures::StreamExt;
    let mut on_first = Some(on_first);
    let mut buf = String::new();
    let mut events = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(60), body.next())
        .await
        .expect("stream stalled")
    {
        let Ok(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find("\n\n") {
            let ev: String = buf.drain(..i + 2).collect();
            if let Some(data) = ev.lines().find_map(|l| l.strip_prefix("data: ")) {
                events.push(data.to_owned());
                if let Some(f) = on_first.take() {
                    f();
                }
            }
        }
    }
    events
}

/// Starts llama-server on a free port; returns its `/v1` base URL.
pub async fn start_llama(bin: &str, model: &str, extra: &[&str]) -> (Proc, String) {
    let port = free_port();
    let mut child = Command::new(bin)
        .args([
            "-m",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--alias",
            "tiny",
            "-np",
            "2",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start llama-server");
    wait_ok(&format!("http://127.0.0.1:{port}/health"), &mut child).await;
    (Proc(child), format!("http://127.0.0.1:{port}/v1"))
}

/// Adds a global OpenAI-compatible endpoint (as a site admin).
pub async fn add_endpoint(base: &str, key: &str, name: &str, url: &str) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/providers"))
        .bearer_auth(key)
        .json(&json!({"name": name, "kind": "openai", "base_url": url, "scope": "global"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}
