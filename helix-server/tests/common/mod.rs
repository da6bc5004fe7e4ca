//! Test harness: the whole app in-process over a real SQLite store, with a clock the
//! test can move.
#![allow(dead_code)]

pub mod browser;
pub mod engine;
pub mod fake_upstream;
pub mod oidc;
pub mod process;
pub mod sandbox_env;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use helix_core::clock::ManualClock;
use helix_core::ops::accounts::{LoginRequest, RegisterRequest};
use helix_core::{ControlPlane, SecretBox, SqlStore};
use helix_server::{AppState, HttpSettings};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

/// How a test request authenticates.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Session { token: String, csrf: String },
    ApiKey(String),
}

pub struct TestApp {
    pub app: Router,
    pub cp: ControlPlane,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: axum::http::HeaderMap,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_settings(HttpSettings::default(), true).await
    }

    pub async fn with_settings(http: HttpSettings, registration: bool) -> Self {
        Self::with_options(http, registration, true).await
    }

    /// `allow_private`: whether non-admins' endpoints may use loopback addresses (the
    /// test upstreams live there; the production default is no).
    pub async fn with_options(http: HttpSettings, registration: bool, allow_private: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open_sqlite_dir(dir.path()).await.unwrap();
        let (secrets, _) = SecretBox::load_or_generate(None, dir.path()).unwrap();
        let clock = ManualClock::new();
        let cp = ControlPlane::builder()
            .store(Arc::new(store))
            .secrets(secrets)
            .clock(Arc::new(clock.clone()))
            .registration_enabled(registration)
            .allow_private_upstreams(allow_private)
            .build()
            .unwrap();
        let hub = helix_sched::hub::RunnerHub::new(Default::default());
        let app = helix_server::router(AppState::new(cp.clone(), http).with_runners(hub));
        TestApp {
            app,
            cp,
            clock,
            _dir: dir,
        }
    }

    pub async fn raw(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        caller: &Caller,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        match caller {
            Caller::Anonymous => {}
            Caller::Session { token, csrf } => {
                req = req
                    .header("cookie", format!("helix_session={token}"))
                    .header("x-csrf-token", csrf);
            }
            Caller::ApiKey(k) => req = req.header("authorization", format!("Bearer {k}")),
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.raw(req.body(body).unwrap()).await
    }

    /// Registers through the API and returns a cookie session.
    pub async fn signup(&self, email: &str) -> Caller {
        let r = self
            .call(
                Method::POST,
                "/api/v1/auth/register",
                &Caller::Anonymous,
                Some(json!({"email": email, "password": "correct horse"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        self.login(email).await
    }

    pub async fn login(&self, email: &str) -> Caller {
        let out = self
            .cp
            .login(LoginRequest {
                email: email.into(),
                password: "correct horse".into(),
            })
            .await
            .unwrap();
        Caller::Session {
            token: out.session_token,
            csrf: out.csrf_token,
        }
    }

    /// Registers in-process (faster) and returns an API key caller and the user id.
    pub async fn user_with_key(&self, email: &str) -> (Caller, String) {
        let user = self
            .cp
            .register(RegisterRequest {
                email: email.into(),
                password: "correct horse".into(),
                name: None,
            })
            .await
            .unwrap();
        let session = self.login(email).await;
        let r = self
            .call(
                Method::POST,
                "/api/v1/api-keys",
                &session,
                Some(json!({"name": "test"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        (
            Caller::ApiKey(r.body["key"].as_str().unwrap().into()),
            user.id.to_string(),
        )
    }
}
