//! The /v1 gateway against a local OpenAI-compatible upstream that the test controls,
//! to reach paths a healthy engine never takes: upstream errors, a connection dying
//! mid-stream, an unreachable upstream. (The real engine runs in `gateway_llama.rs`.)

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::fake_upstream::{upstream, UPSTREAM_KEY};
use common::{Caller, TestApp};
use serde_json::{json, Value};

async fn sse(t: &TestApp, caller: &Caller, body: Value) -> (StatusCode, Vec<String>) {
    let r = t
        .call(Method::POST, "/v1/chat/completions", caller, Some(body))
        .await;
    let text = r
        .body
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| r.body.to_string());
    let events = text
        .split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(str::to_owned)
        })
        .collect();
    (r.status, events)
}

#[tokio::test]
async fn chat_streams_errors_resolution_and_scopes() {
    let base = upstream().await;
    let t = TestApp::new().await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let (alice, _) = t.user_with_key("alice@x.io").await;
    let (mallory, _) = t.user_with_key("mallory@x.io").await;

    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "fake", "kind": "openai", "base_url": base, "api_key": UPSTREAM_KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["has_api_key"], true);
    assert!(
        !r.body.to_string().contains(UPSTREAM_KEY),
        "the key is never returned"
    );
    let ep_id = r.body["id"].as_str().unwrap().to_owned();
    let (_, sealed) =
        t.cp.store()
            .get_provider_endpoint(&ep_id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
    let sealed = sealed.unwrap();
    assert!(
        !sealed
            .windows(UPSTREAM_KEY.len())
            .any(|w| w == UPSTREAM_KEY.as_bytes()),
        "stored encrypted"
    );

    // Plain chat: the decrypted key reaches the upstream, every field passes through,
    // and the answer carries the model name the caller used.
    let body = json!({"model": "fake/m1", "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2, "stop": ["\n"], "response_format": {"type": "json_object"},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]});
    let r = t
        .call(Method::POST, "/v1/chat/completions", &alice, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["model"], "fake/m1");
    let echo = &r.body["echo"];
    assert_eq!(echo["model"], "m1");
    assert_eq!(echo["temperature"], 0.2);
    assert_eq!(echo["stop"], json!(["\n"]));
    assert_eq!(echo["response_format"]["type"], "json_object");
    assert_eq!(echo["tools"][0]["function"]["name"], "f");
    assert!(echo.get("stream").is_none());

    // Streaming: chunks then [DONE].
    let (status, events) = sse(&t, &alice, json!({"model": "fake/m1", "stream": true, "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello");
    assert!(chunks.iter().all(|c| c["model"] == "fake/m1"));
    assert_eq!(
        text, "Hello",
        "the usage chunk Helix asked for is not passed on"
    );
    // A client that asks for usage gets the usage chunk.
    let (_, events) = sse(&t, &alice, json!({"model": "fake/m1", "stream": true,
        "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]})).await;
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 2, "{events:?}");

    // The engine dies mid-stream: the deltas so far, then one error event, no [DONE].
    let (status, events) = sse(&t, &alice, json!({"model": "fake/dies-mid-stream", "stream": true, "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events.len(), 3, "{events:?}");
    let last: Value = serde_json::from_str(&events[2]).unwrap();
    assert_eq!(last["error"]["code"], "upstream_error");
    assert_eq!(last["error"]["type"], "api_error");

    // Upstream errors and bad requests in OpenAI's shape.
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &alice,
            Some(json!({"model": "fake/explode", "messages": [{"role": "user", "content": "x"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.body["error"]["code"], "upstream_error");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("engine on fire"));
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &alice,
            Some(json!({"model": "nope/m1", "messages": [{"role": "user", "content": "x"}]})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["type"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found_error"))
    );
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &alice,
            Some(json!({"model": "fake/m1", "messages": []})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"))
    );
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &Caller::Anonymous,
            Some(json!({"model": "fake/m1", "messages": []})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["type"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("authentication_error"))
    );

    // An upstream answering with JSON that is not an object is an upstream error.
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &alice,
            Some(json!({"model": "fake/array", "messages": [{"role": "user", "content": "x"}]})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("upstream_error")),
        "{:?}",
        r.body
    );
    // A model the endpoint does not serve is refused, not silently swapped.
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &alice,
            Some(
                json!({"model": "fake/not-served", "messages": [{"role": "user", "content": "x"}]}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{:?}",
        r.body
    );
    // A bare name needs a registered default.
    let r = t
        .call(
            Method::POST,
            "/v1/embeddings",
            &alice,
            Some(json!({"model": "m2", "input": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/providers/{ep_id}/models"),
            &alice,
            Some(json!({"name": "m2", "is_default": true})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "only a site admin manages global endpoints"
    );
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/providers/{ep_id}/models"),
            &admin,
            Some(json!({"name": "m2", "is_default": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = t
        .call(
            Method::POST,
            "/v1/embeddings",
            &alice,
            Some(json!({"model": "m2", "input": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["data"][0]["embedding"], json!([0.1, 0.2]));
    assert_eq!(r.body["model"], "m2");

    // /v1/models lists what the caller may use, live from the upstream plus defaults.
    let r = t.call(Method::GET, "/v1/models", &alice, None).await;
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "fake/m1",
            "fake/m2",
            "fake/explode",
            "fake/dies-mid-stream",
            "fake/slow",
            "fake/echo",
            "fake/array",
            "fake/stall",
            "m2"
        ]
    );

    // Alice's own endpoint shadows the global one of the same name; Mallory cannot
    // see or use it.
    let me = t.call(Method::GET, "/api/v1/users/me", &alice, None).await;
    let alice_id = me.body["user"]["id"].as_str().unwrap();
    let r = t.call(Method::POST, "/api/v1/providers", &alice,
        Some(json!({"name": "fake", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "scope": "user", "user_id": alice_id}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let private_id = r.body["id"].as_str().unwrap().to_owned();
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &alice,
            Some(json!({"model": "fake/m1", "messages": [{"role": "user", "content": "x"}]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_GATEWAY,
        "alice's own (unreachable) endpoint wins: {:?}",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connect"),
        "{:?}",
        r.body
    );
    assert!(
        !r.body.to_string().contains("127.0.0.1:9"),
        "upstream addresses do not leak"
    );
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &mallory,
            Some(json!({"model": "fake/m1", "messages": [{"role": "user", "content": "x"}]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "mallory still gets the global endpoint"
    );
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/providers/{private_id}"),
            &mallory,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/providers/{private_id}"),
            &mallory,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let listed = t
        .call(Method::GET, "/api/v1/providers", &mallory, None)
        .await;
    assert!(!listed.body.to_string().contains(&private_id));
    let r = t.call(Method::POST, "/api/v1/providers", &mallory,
        Some(json!({"name": "x", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "scope": "user", "user_id": alice_id}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Every call that reached a provider was metered: alice made 3 plain chats that
    // reached "fake" (one ok, one upstream error, one non-object answer), 3 streams
    // (2 ok with usage, one cut), 1 embeddings call, and 1 call to her unreachable
    // endpoint.
    let usage = wait_for_usage(&t, &alice, 8).await;
    let total = |field: &str| {
        usage
            .iter()
            .map(|r| r[field].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(total("errors"), 4, "{usage:?}");
    assert_eq!(total("prompt_tokens"), 3 + 5 + 5, "{usage:?}");
    assert_eq!(total("completion_tokens"), 1 + 2 + 2, "{usage:?}");
    assert!(usage.iter().all(|r| r["api_key_id"].is_string()));
    let r = t
        .call(Method::GET, "/api/v1/usage?all=true", &alice, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Usage is written in batches in the background: wait for mallory's call too.
    wait_for_usage(&t, &mallory, 1).await;
    let r = t
        .call(Method::GET, "/api/v1/usage?all=true&days=1", &admin, None)
        .await;
    let everyone: i64 = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["calls"].as_i64().unwrap())
        .sum();
    assert_eq!(everyone, 9, "alice's 8 and mallory's 1: {:?}", r.body);
    let r = t
        .call(Method::GET, "/api/v1/usage?days=0", &alice, None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Usage is written off the request path: poll until `calls` records are visible.
async fn wait_for_usage(t: &TestApp, caller: &Caller, calls: i64) -> Vec<Value> {
    for _ in 0..100 {
        let r = t.call(Method::GET, "/api/v1/usage", caller, None).await;
        let rows = r.body.as_array().cloned().unwrap_or_default();
        if rows
            .iter()
            .map(|r| r["calls"].as_i64().unwrap_or(0))
            .sum::<i64>()
            >= calls
        {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = t.call(Method::GET, "/api/v1/usage", caller, None).await;
    panic!("usage never reached {calls} calls: {:?}", r.body);
}

#[tokio::test]
async fn org_endpoints_serve_members_only() {
    let base = upstream().await;
    let t = TestApp::new().await;
    let (_admin, _) = t.user_with_key("root@x.io").await;
    let (owner, _) = t.user_with_key("owner@x.io").await;
    let (outsider, _) = t.user_with_key("outsider@x.io").await;
    let org = t
        .call(
            Method::POST,
            "/api/v1/orgs",
            &owner,
            Some(json!({"name": "Team"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t.call(Method::POST, "/api/v1/providers", &outsider,
        Some(json!({"name": "team", "kind": "openai", "base_url": base, "scope": "org", "org_id": org}))).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "outsiders cannot even see the org"
    );
    let r = t.call(Method::POST, "/api/v1/providers", &owner,
        Some(json!({"name": "team", "kind": "openai", "base_url": base, "api_key": UPSTREAM_KEY, "scope": "org", "org_id": org}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let msg = json!({"model": "team/m1", "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(
        t.call(
            Method::POST,
            "/v1/chat/completions",
            &owner,
            Some(msg.clone())
        )
        .await
        .status,
        StatusCode::OK
    );
    let r = t
        .call(Method::POST, "/v1/chat/completions", &outsider, Some(msg))
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another org's endpoint is invisible: {:?}",
        r.body
    );
    let models = t.call(Method::GET, "/v1/models", &outsider, None).await;
    assert_eq!(models.body["data"], json!([]));
    // Bad endpoint definitions.
    for bad in [
        json!({"name": "Bad Name", "kind": "openai", "base_url": base, "scope": "org", "org_id": org}),
        json!({"name": "ok", "kind": "openai", "base_url": "ftp://x", "scope": "org", "org_id": org}),
        json!({"name": "ok", "kind": "openai", "base_url": "http://u:p@h/v1", "scope": "org", "org_id": org}),
        json!({"name": "ok", "kind": "runners", "base_url": base, "scope": "org", "org_id": org}),
    ] {
        let r = t
            .call(Method::POST, "/api/v1/providers", &owner, Some(bad.clone()))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
    }
    let r = t
        .call(
            Method::POST,
            "/api/v1/providers",
            &owner,
            Some(json!({"name": "x", "kind": "openai", "base_url": base, "scope": "galaxy"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Deleting the org deletes its endpoints (and their sealed keys).
    let listed = t
        .call(Method::GET, "/api/v1/providers", &owner, None)
        .await
        .body;
    let team_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "team")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        t.call(Method::DELETE, &format!("/api/v1/orgs/{org}"), &owner, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(t
        .cp
        .store()
        .get_provider_endpoint(&team_id.parse().unwrap())
        .await
        .unwrap()
        .is_none());
}

/// Anthropic-style events `(event, data)` of an SSE body.
fn named_events(body: &Value) -> Vec<(String, Value)> {
    let text = body.as_str().map(str::to_owned).unwrap_or_default();
    text.split("\n\n")
        .filter_map(|ev| {
            let name = ev.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = ev.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name.to_owned(), serde_json::from_str(data).unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn anthropic_messages_over_an_openai_upstream() {
    let base = upstream().await;
    let t = TestApp::new().await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "fake", "kind": "openai", "base_url": base, "api_key": UPSTREAM_KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let Caller::ApiKey(key) = admin else {
        unreachable!()
    };
    let send = |body: Value| {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/v1/messages")
            .header("x-api-key", key.as_str())
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };

    let r = t
        .raw(send(
            json!({"model": "fake/m1", "max_tokens": 16, "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}]}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["type"], "message");
    assert_eq!(
        r.body["content"][0],
        json!({"type": "text", "text": "Hello"})
    );
    assert_eq!(r.body["stop_reason"], "end_turn");
    assert_eq!(
        r.body["usage"],
        json!({"input_tokens": 3, "output_tokens": 1})
    );
    // What reached the upstream is the translated OpenAI request.
    let echoed = &r.body;
    assert_eq!(echoed["model"], "fake/m1");

    let r = t
        .raw(send(
            json!({"model": "fake/m1", "max_tokens": 16, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let events = named_events(&r.body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ],
        "{events:?}"
    );
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    assert_eq!(
        events[5].1["usage"]["output_tokens"], 2,
        "usage reaches message_delta"
    );

    let r = t
        .raw(send(
            json!({"model": "fake/dies-mid-stream", "max_tokens": 16, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}),
        ))
        .await;
    let events = named_events(&r.body);
    assert_eq!(events.last().unwrap().0, "error", "{events:?}");
    assert_eq!(events.last().unwrap().1["error"]["type"], "api_error");

    let r = t.raw(send(json!({"model": "nope/x", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["type"], "error");
    assert_eq!(r.body["error"]["type"], "not_found_error");
    let r = t
        .raw(send(
            json!({"model": "fake/m1", "messages": [{"role": "user", "content": "hi"}]}),
        ))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["type"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid_request_error")
        )
    );
    let unauth = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/messages")
        .header("x-api-key", "hx-wrong")
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let r = t.raw(unauth).await;
    assert_eq!(
        (r.status, r.body["error"]["type"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("authentication_error"))
    );
}

#[tokio::test]
async fn joining_an_org_never_redirects_calls() {
    let base = upstream().await;
    let t = TestApp::new().await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "fake", "kind": "openai", "base_url": base, "api_key": UPSTREAM_KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (alice, _) = t.user_with_key("alice@x.io").await;
    let (mallory, _) = t.user_with_key("mallory@x.io").await;
    let msg = json!({"model": "fake/m1", "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(
        t.call(
            Method::POST,
            "/v1/chat/completions",
            &alice,
            Some(msg.clone())
        )
        .await
        .status,
        StatusCode::OK
    );

    // Mallory makes an org, puts alice and the admin in it, and adds an endpoint with
    // the global endpoint's name, pointing at a server of hers.
    let org = t
        .call(
            Method::POST,
            "/api/v1/orgs",
            &mallory,
            Some(json!({"name": "Trap"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for email in ["alice@x.io", "root@x.io"] {
        let r = t
            .call(
                Method::POST,
                &format!("/api/v1/orgs/{org}/members"),
                &mallory,
                Some(json!({"email": email, "role": "member"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = t.call(Method::POST, "/api/v1/providers", &mallory,
        Some(json!({"name": "fake", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "scope": "org", "org_id": org}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // Alice's calls are refused as ambiguous, never sent to mallory's server.
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &alice,
            Some(msg.clone()),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "{:?}",
        r.body
    );
    // An admin who is not in an org resolves like anyone else: an org's endpoint never
    // shadows the global one for them.
    let other = t
        .call(
            Method::POST,
            "/api/v1/orgs",
            &mallory,
            Some(json!({"name": "Trap 2"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t.call(Method::POST, "/api/v1/providers", &mallory,
        Some(json!({"name": "fake2", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "scope": "org", "org_id": other}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = t
        .call(
            Method::POST,
            "/v1/chat/completions",
            &admin,
            Some(json!({"model": "fake2/m1", "messages": [{"role": "user", "content": "x"}]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "an org the admin is not in is not used for their calls: {:?}",
        r.body
    );
    let listed = t.call(Method::GET, "/api/v1/providers", &admin, None).await;
    assert!(
        listed.body.to_string().contains("fake2"),
        "but the admin still sees it to manage it"
    );
}

#[tokio::test]
async fn users_cannot_point_endpoints_at_private_addresses_by_default() {
    let t = TestApp::with_options(helix_server::HttpSettings::default(), true, false).await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let (alice, alice_id) = t.user_with_key("alice@x.io").await;
    let org = t
        .call(Method::GET, "/api/v1/users/me", &alice, None)
        .await
        .body["orgs"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for url in [
        "http://127.0.0.1:8080/v1",
        "http://localhost:11434/v1",
        "http://169.254.169.254/latest",
        "http://10.0.0.5/v1",
        "http://[::1]/v1",
    ] {
        for scope in [
            json!({"scope": "user", "user_id": alice_id}),
            json!({"scope": "org", "org_id": org}),
        ] {
            let mut body = json!({"name": "x", "kind": "openai", "base_url": url});
            body.as_object_mut()
                .unwrap()
                .extend(scope.as_object().unwrap().clone());
            let r = t
                .call(Method::POST, "/api/v1/providers", &alice, Some(body))
                .await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input")),
                "{url}: {:?}",
                r.body
            );
        }
    }
    // A site admin's global endpoint may (a local engine on the same machine).
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "local", "kind": "openai", "base_url": "http://127.0.0.1:8081/v1", "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn a_user_endpoint_whose_name_turns_private_is_refused_at_connect_time() {
    let t = TestApp::with_options(helix_server::HttpSettings::default(), true, false).await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let (alice, alice_id) = t.user_with_key("alice@x.io").await;
    // A name that passed the check when the endpoint was added and now resolves to a
    // loopback address (DNS rebinding): stored directly, as if it had resolved publicly.
    let base = upstream().await.replace("127.0.0.1", "localhost");
    let endpoint = helix_core::model::ProviderEndpoint {
        id: helix_core::id::ProviderEndpointId::new(),
        name: "rebound".into(),
        kind: helix_core::model::ProviderKind::Openai,
        base_url: base.clone(),
        scope: helix_core::model::Scope::User {
            user_id: alice_id.parse().unwrap(),
        },
        has_api_key: false,
        created_at: chrono::Utc::now(),
    };
    t.cp.store()
        .create_provider_endpoint(&endpoint, None)
        .await
        .unwrap();
    let chat = json!({"model": "rebound/m1", "messages": [{"role": "user", "content": "hi"}]});
    let r = t
        .call(Method::POST, "/v1/chat/completions", &alice, Some(chat))
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{:?}", r.body);
    assert!(
        r.body.to_string().contains("private"),
        "says why: {:?}",
        r.body
    );
    // The same address as a site admin's global endpoint works.
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "local", "kind": "openai", "base_url": base, "api_key": UPSTREAM_KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let chat = json!({"model": "local/m1", "messages": [{"role": "user", "content": "hi"}]});
    let r = t
        .call(Method::POST, "/v1/chat/completions", &alice, Some(chat))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
