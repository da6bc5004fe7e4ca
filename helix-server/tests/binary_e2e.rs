//! The README's promise, over real HTTP against the real `helix` binary: start it,
//! register, log in, create an API key, call `/api/v1/users/me` with it. Runs on the
//! embedded SQLite default and on PostgreSQL.

mod common;

use common::process::Server;
use serde_json::{json, Value};
use std::process::Command;

async fn register_login_key_me(base: &str) {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let user: Value = r.json().await.unwrap();
    assert_eq!(user["is_admin"], true);

    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let login: Value = r.json().await.unwrap();
    let csrf = login["csrf_token"].as_str().unwrap();

    let me: Value = http
        .get(format!("{base}/api/v1/users/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["auth"], "session");

    let r = http
        .post(format!("{base}/api/v1/api-keys"))
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "laptop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let key: Value = r.json().await.unwrap();
    let secret = key["key"].as_str().unwrap();

    // A client with no cookies, using only the key, both ways.
    let bare = reqwest::Client::new();
    for (name, value) in [
        ("authorization", format!("Bearer {secret}")),
        ("x-api-key", secret.to_owned()),
    ] {
        let r = bare
            .get(format!("{base}/api/v1/users/me"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let me: Value = r.json().await.unwrap();
        assert_eq!(me["user"]["id"], user["id"]);
        assert_eq!(me["user"]["email"], "ada@example.com");
        assert_eq!(me["auth"], "api_key");
    }
    let r = bare
        .get(format!("{base}/api/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "unauthenticated");

    let metrics = bare
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "helix_http_requests_total{method=\"GET\",route=\"/api/v1/users/me\",status=\"200\"} 3"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn embedded_default_serves_register_login_key_me() {
    let mut s = Server::start(&[]);
    s.wait_healthy().await;
    register_login_key_me(&s.base).await;
    let key = s.dir.path().join("encryption.key");
    assert!(key.exists(), "the embedded default generates its key");
    assert!(s.dir.path().join("helix.db").exists());
    assert!(s.stop().success(), "graceful shutdown exits 0");
}

#[tokio::test]
async fn postgres_backend_serves_register_login_key_me() {
    let Some(url) = helix_core::testing::postgres_url().await else {
        return;
    };
    let mut s = Server::start(&["--database-url", &url]);
    s.wait_healthy().await;
    register_login_key_me(&s.base).await;
    assert!(
        !s.dir.path().join("helix.db").exists(),
        "no SQLite file when PostgreSQL is used"
    );
    assert!(s.stop().success());
}

#[test]
fn production_mode_refuses_default_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_helix"))
        .args(["serve", "--env", "production", "--port", "0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("HELIX_ENCRYPTION_KEY")
        .env_remove("HELIX_PUBLIC_URL")
        .env("HELIX_OIDC_CLIENT_SECRET", "changeme")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "refusing to start in production mode",
        "HELIX_ENCRYPTION_KEY",
        "HELIX_PUBLIC_URL",
        "placeholder",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in: {err}");
    }
    assert!(
        !dir.path().join("encryption.key").exists(),
        "production never generates a key"
    );
}

/// Sign-in and registration attempts are counted per client address: the TCP peer, or
/// behind a trusted proxy the address it forwards.
#[tokio::test]
async fn sign_in_attempts_are_throttled_per_client_address() {
    let mut s = Server::start(&["--trusted-proxies", "127.0.0.1"]);
    s.wait_healthy().await;
    let http = reqwest::Client::new();
    let attempt = |n: usize, from: &'static str| {
        http.post(format!("{}/api/v1/auth/login", s.base))
            .header("x-forwarded-for", from)
            .json(&json!({"email": format!("nobody{n}@example.com"), "password": "not it at all"}))
            .send()
    };
    // Thirty a minute from one address (each for another email, so only the address
    // counts), then 429.
    for n in 0..30 {
        let r = attempt(n, "198.51.100.1").await.unwrap();
        assert_eq!(r.status(), 401, "attempt {n}");
    }
    let r = attempt(30, "198.51.100.1").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another client behind the same proxy is not affected.
    let r = attempt(31, "198.51.100.2").await.unwrap();
    assert_eq!(r.status(), 401);

    // Registration says when an email is taken (it must refuse it), so attempts are
    // counted per address too: ten a minute, then 429 before the email is looked at.
    let register = |email: &'static str, from: &'static str| {
        http.post(format!("{}/api/v1/auth/register", s.base))
            .header("x-forwarded-for", from)
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
    };
    let r = register("first@example.com", "198.51.100.7").await.unwrap();
    assert_eq!(r.status(), 201);
    for n in 1..10 {
        let r = register("first@example.com", "198.51.100.7").await.unwrap();
        assert_eq!(r.status(), 409, "attempt {n}");
    }
    let r = register("first@example.com", "198.51.100.7").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let r = register("second@example.com", "198.51.100.7")
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "a new email from the same address waits too"
    );
    let r = register("second@example.com", "198.51.100.8")
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(s.stop().success());
}
