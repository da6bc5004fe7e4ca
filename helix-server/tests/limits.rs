//! Rate limits and quotas on model calls: 429 with Retry-After, and recovery when the
//! clock moves on.

mod common;

use axum::http::{Method, StatusCode};
use common::fake_upstream::{upstream, UPSTREAM_KEY};
use common::{Caller, TestApp};
use serde_json::json;

fn chat() -> Option<serde_json::Value> {
    // The fake upstream answers with 3 prompt + 1 completion tokens.
    Some(json!({"model": "fake/m1", "messages": [{"role": "user", "content": "hi"}]}))
}

async fn setup() -> (TestApp, Caller) {
    let base = upstream().await;
    let t = TestApp::new().await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "fake", "kind": "openai", "base_url": base, "api_key": UPSTREAM_KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    (t, admin)
}

#[tokio::test]
async fn requests_per_minute_per_user() {
    let (t, admin) = setup().await;
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/admin/settings",
            &admin,
            Some(json!({"user_requests_per_minute": 2})),
        )
        .await;
    assert_eq!(r.body["user_requests_per_minute"], 2);
    let (alice, _) = t.user_with_key("alice@x.io").await;
    for _ in 0..2 {
        assert_eq!(
            t.call(Method::POST, "/v1/chat/completions", &alice, chat())
                .await
                .status,
            StatusCode::OK
        );
    }
    let r = t
        .call(Method::POST, "/v1/chat/completions", &alice, chat())
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        (
            r.body["error"]["code"].as_str(),
            r.body["error"]["type"].as_str()
        ),
        (Some("rate_limited"), Some("rate_limit_error"))
    );
    assert_eq!(
        r.headers["retry-after"], "30",
        "2 per minute refills one every 30 s"
    );
    // Another user has a budget of their own.
    let (bob, _) = t.user_with_key("bob@x.io").await;
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &bob, chat())
            .await
            .status,
        StatusCode::OK
    );
    t.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &alice, chat())
            .await
            .status,
        StatusCode::OK
    );
    // Native chat and /v1/messages count too.
    let r = t.call(Method::POST, "/v1/messages", &alice, Some(json!({"model": "fake/m1", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))).await;
    assert_eq!(
        (r.status, r.body["error"]["type"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limit_error"))
    );
    assert!(r.headers.contains_key("retry-after"));
    // 0 removes the limit.
    t.call(
        Method::PATCH,
        "/api/v1/admin/settings",
        &admin,
        Some(json!({"user_requests_per_minute": 0})),
    )
    .await;
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &alice, chat())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tokens_per_minute_per_key_are_charged_after_each_call() {
    let (t, _admin) = setup().await;
    let session = t.signup("carol@x.io").await;
    let r = t
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &session,
            Some(json!({"name": "tight", "tokens_per_minute": 5})),
        )
        .await;
    assert_eq!(r.body["tokens_per_minute"], 5);
    let key = Caller::ApiKey(r.body["key"].as_str().unwrap().into());
    // 5 -> 1 -> -3: the third call waits until the balance is back to 0.
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &key, chat())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &key, chat())
            .await
            .status,
        StatusCode::OK
    );
    let r = t
        .call(Method::POST, "/v1/chat/completions", &key, chat())
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers["retry-after"], "36",
        "3 tokens owed at 5 per minute"
    );
    // The same user's other credentials are not limited by this key's budget.
    let r = t
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &session,
            Some(json!({"name": "free"})),
        )
        .await;
    let free = Caller::ApiKey(r.body["key"].as_str().unwrap().into());
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &free, chat())
            .await
            .status,
        StatusCode::OK
    );
    t.clock.advance(chrono::Duration::seconds(36));
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &key, chat())
            .await
            .status,
        StatusCode::OK
    );
    let r = t
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &session,
            Some(json!({"name": "zero", "requests_per_minute": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_monthly_quota_stops_calls_until_next_month() {
    let (t, admin) = setup().await;
    t.call(
        Method::PATCH,
        "/api/v1/admin/settings",
        &admin,
        Some(json!({"user_monthly_tokens": 8})),
    )
    .await;
    let (dave, _) = t.user_with_key("dave@x.io").await;
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &dave, chat())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.call(Method::POST, "/v1/chat/completions", &dave, chat())
            .await
            .status,
        StatusCode::OK
    );
    let r = t
        .call(Method::POST, "/v1/chat/completions", &dave, chat())
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("quota_exceeded"))
    );
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    let now = t.cp.now();
    let next_month = helix_core::limits::month_start(
        helix_core::limits::month_start(now) + chrono::Duration::days(32),
    );
    assert!(
        (retry - (next_month - now).num_seconds()).abs() <= 2,
        "retry after the month turns: {retry}"
    );
    let r = t
        .call(Method::GET, "/api/v1/admin/settings", &admin, None)
        .await;
    assert_eq!(r.body["user_monthly_tokens"], 8);
}
