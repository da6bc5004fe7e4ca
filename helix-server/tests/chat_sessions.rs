//! Native chat sessions: turns stream events keyed by interaction and offset, answers
//! persist even when the client leaves, failures are stored as such.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::fake_upstream::{upstream, UPSTREAM_KEY};
use common::{Caller, TestApp};
use futures::StreamExt;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn setup() -> (TestApp, Caller, Caller) {
    let base = upstream().await;
    let t = TestApp::new().await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "fake", "kind": "openai", "base_url": base, "api_key": UPSTREAM_KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (alice, _) = t.user_with_key("alice@x.io").await;
    let (mallory, _) = t.user_with_key("mallory@x.io").await;
    (t, alice, mallory)
}

async fn session(t: &TestApp, who: &Caller, body: Value) -> String {
    let r = t
        .call(Method::POST, "/api/v1/sessions", who, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

fn events(body: &Value) -> Vec<Value> {
    body.as_str()
        .unwrap_or_default()
        .split("\n\n")
        .filter_map(|ev| ev.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Starts a turn as `who` and returns its SSE body, read by the test at its own pace.
async fn turn_body(
    t: &TestApp,
    who: &Caller,
    id: &str,
    message: &str,
) -> axum::body::BodyDataStream {
    let Caller::ApiKey(key) = who else {
        unreachable!("turns here use API keys")
    };
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/sessions/{id}/chat"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({"message": message}).to_string()))
        .unwrap();
    let resp = t.app.clone().oneshot(req).await.unwrap();
    resp.into_body().into_data_stream()
}

async fn wait_for_state(t: &TestApp, who: &Caller, id: &str, seq: usize, state: &str) -> Value {
    for _ in 0..200 {
        let r = t
            .call(Method::GET, &format!("/api/v1/sessions/{id}"), who, None)
            .await;
        if r.body["interactions"][seq]["state"] == state {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("interaction {seq} of {id} never became {state}");
}

#[tokio::test]
async fn a_turn_streams_events_and_persists_the_answer() {
    let (t, alice, mallory) = setup().await;
    let id = session(&t, &alice, json!({"model": "fake/m1", "name": "First"})).await;
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat"),
            &alice,
            Some(json!({"message": "hi"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let evs = events(&r.body);
    let kinds: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "interaction_created",
            "interaction_created",
            "delta",
            "delta",
            "completed"
        ],
        "{evs:?}"
    );
    assert_eq!(evs[0]["interaction"]["content"], "hi");
    assert_eq!(evs[1]["interaction"]["state"], "waiting");
    let answer_id = &evs[1]["interaction"]["id"];
    assert_eq!(
        (evs[2]["offset"].as_u64(), evs[2]["text"].as_str()),
        (Some(0), Some("Hel"))
    );
    assert_eq!(
        (evs[3]["offset"].as_u64(), evs[3]["text"].as_str()),
        (Some(3), Some("lo"))
    );
    assert!(evs[2..4].iter().all(|e| &e["interaction_id"] == answer_id));
    assert_eq!(evs[4]["interaction"]["content"], "Hello");
    assert_eq!(
        evs[4]["interaction"]["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 2})
    );

    let got = t
        .call(Method::GET, &format!("/api/v1/sessions/{id}"), &alice, None)
        .await
        .body;
    let log: Vec<(&str, &str, &str)> = got["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["role"].as_str().unwrap(),
                i["content"].as_str().unwrap(),
                i["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        log,
        [
            ("user", "hi", "complete"),
            ("assistant", "Hello", "complete")
        ]
    );

    // Waiting for the whole answer as one JSON event.
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat?stream=false"),
            &alice,
            Some(json!({"message": "again"})),
        )
        .await;
    assert_eq!(
        (
            r.body["type"].as_str(),
            r.body["interaction"]["content"].as_str()
        ),
        (Some("completed"), Some("Hello"))
    );

    // Regenerate replaces the last answer; fork copies up to a position.
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/regenerate?stream=false"),
            &alice,
            None,
        )
        .await;
    assert_eq!(r.body["type"], "completed");
    let got = t
        .call(Method::GET, &format!("/api/v1/sessions/{id}"), &alice, None)
        .await
        .body;
    assert_eq!(got["interactions"].as_array().unwrap().len(), 4);
    assert_eq!(got["interactions"][3]["id"], r.body["interaction"]["id"]);
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/fork"),
            &alice,
            Some(json!({"through_seq": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["interactions"].as_array().unwrap().len(), 2);
    assert_ne!(r.body["id"], json!(id));

    // Rename, list, and only the owner sees any of it.
    let r = t
        .call(
            Method::PATCH,
            &format!("/api/v1/sessions/{id}"),
            &alice,
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.body["name"], "Renamed");
    let listed = t
        .call(Method::GET, "/api/v1/sessions", &alice, None)
        .await
        .body;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    for (m, path, body) in [
        (Method::GET, format!("/api/v1/sessions/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/sessions/{id}/chat"),
            Some(json!({"message": "steal"})),
        ),
        (
            Method::POST,
            format!("/api/v1/sessions/{id}/regenerate"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/sessions/{id}/fork"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/sessions/{id}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/sessions/{id}"), None),
    ] {
        let r = t.call(m.clone(), &path, &mallory, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {path}: {:?}", r.body);
        assert!(!r.body.to_string().contains("Hello"));
    }
    assert_eq!(
        t.call(Method::GET, "/api/v1/sessions", &mallory, None)
            .await
            .body,
        json!([])
    );
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat"),
            &alice,
            Some(json!({"message": "  "})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t
        .call(
            Method::POST,
            "/api/v1/sessions",
            &alice,
            Some(json!({"name": "no model"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        t.call(
            Method::DELETE,
            &format!("/api/v1/sessions/{id}"),
            &alice,
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn the_answer_is_kept_when_the_client_leaves() {
    let (t, alice, _) = setup().await;
    let id = session(&t, &alice, json!({"model": "fake/slow"})).await;
    let mut body = turn_body(&t, &alice, &id, "tell me").await;
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("interaction_created"));
    drop(body); // the client goes away after the first event
    let got = wait_for_state(&t, &alice, &id, 1, "complete").await;
    let text = got["interactions"][1]["content"].as_str().unwrap();
    assert_eq!(
        text,
        (0..10).map(|i| format!("w{i} ")).collect::<String>(),
        "the whole answer was kept"
    );
}

#[tokio::test]
async fn a_failing_engine_leaves_a_failed_interaction() {
    let (t, alice, _) = setup().await;
    let id = session(&t, &alice, json!({"model": "fake/dies-mid-stream"})).await;
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat"),
            &alice,
            Some(json!({"message": "hi"})),
        )
        .await;
    let evs = events(&r.body);
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "failed", "{evs:?}");
    let got = wait_for_state(&t, &alice, &id, 1, "error").await;
    let answer = &got["interactions"][1];
    assert_eq!(
        answer["content"], "Hello",
        "what arrived before the failure is kept"
    );
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("upstream_error"),
        "{answer}"
    );
    // An unknown model fails the same way, not with a hung request.
    let id = session(&t, &alice, json!({"model": "nobody/none"})).await;
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat?stream=false"),
            &alice,
            Some(json!({"message": "hi"})),
        )
        .await;
    assert_eq!(r.body["type"], "failed");
    assert!(r.body["interaction"]["error"]
        .as_str()
        .unwrap()
        .starts_with("not_found"));
}

#[tokio::test]
async fn app_sessions_use_the_apps_prompt_model_and_settings() {
    let (t, alice, mallory) = setup().await;
    let me = t
        .call(Method::GET, "/api/v1/users/me", &alice, None)
        .await
        .body;
    let org = me["orgs"][0]["id"].as_str().unwrap();
    let app = t.call(Method::POST, "/api/v1/apps", &alice, Some(json!({"org_id": org, "name": "Echo",
        "model": "fake/echo", "system_prompt": "You are terse.", "settings": {"temperature": 0.3}}))).await.body;
    let id = session(&t, &alice, json!({"app_id": app["id"]})).await;
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat?stream=false"),
            &alice,
            Some(json!({"message": "hi"})),
        )
        .await;
    let sent: Value =
        serde_json::from_str(r.body["interaction"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(sent["model"], "echo");
    assert_eq!(sent["temperature"], 0.3);
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "You are terse."})
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    // Someone who may not use the app cannot start a session with it.
    let r = t
        .call(
            Method::POST,
            "/api/v1/sessions",
            &mallory,
            Some(json!({"app_id": app["id"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_turn_at_a_time_and_interrupted_answers_recover() {
    let (t, alice, _) = setup().await;
    let id = session(&t, &alice, json!({"model": "fake/slow"})).await;
    let Caller::ApiKey(key) = &alice else {
        unreachable!()
    };
    // A slow turn whose response nobody reads.
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/sessions/{id}/chat"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({"message": "one"}).to_string()))
        .unwrap();
    let first = t.app.clone().oneshot(req).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    for (m, path, body) in [
        (
            Method::POST,
            format!("/api/v1/sessions/{id}/chat"),
            Some(json!({"message": "two"})),
        ),
        (
            Method::POST,
            format!("/api/v1/sessions/{id}/regenerate"),
            None,
        ),
    ] {
        let r = t.call(m, &path, &alice, body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "conflict"),
            "{path}: {:?}",
            r.body
        );
    }
    drop(first);
    wait_for_state(&t, &alice, &id, 1, "complete").await;
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat?stream=false"),
            &alice,
            Some(json!({"message": "two"})),
        )
        .await;
    assert_eq!(r.body["type"], "completed", "the turn is free again");

    // An answer left waiting by a process that died: fresh, it blocks; stale, it is
    // marked interrupted and the session goes on.
    let stuck =
        t.cp.store()
            .append_interaction(&helix_core::store::NewInteraction {
                id: helix_core::id::InteractionId::new(),
                session_id: id.parse().unwrap(),
                role: helix_core::model::MessageRole::Assistant,
                content: "half an ans".into(),
                tool_calls: None,
                tool_call_id: None,
                state: helix_core::model::InteractionState::Waiting,
                created_at: t.cp.now(),
            })
            .await
            .unwrap();
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat"),
            &alice,
            Some(json!({"message": "three"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    t.clock.advance(chrono::Duration::minutes(3));
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat?stream=false"),
            &alice,
            Some(json!({"message": "three"})),
        )
        .await;
    assert_eq!(r.body["type"], "completed", "{:?}", r.body);
    let log = t
        .call(Method::GET, &format!("/api/v1/sessions/{id}"), &alice, None)
        .await
        .body;
    let old = log["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(stuck.id))
        .unwrap()
        .clone();
    assert_eq!(old["state"], "error");
    assert!(old["error"].as_str().unwrap().starts_with("interrupted"));
}

#[tokio::test]
async fn a_live_feed_starts_over_when_regenerate_removes_interactions() {
    let (t, alice, _) = setup().await;
    let id = session(&t, &alice, json!({"model": "fake/m1"})).await;
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat?stream=false"),
            &alice,
            Some(json!({"message": "hi"})),
        )
        .await;
    let old_answer = r.body["interaction"]["id"].clone();
    let Caller::ApiKey(key) = &alice else {
        unreachable!()
    };
    let creds = helix_core::Credentials {
        api_key: Some(key.clone()),
        ..Default::default()
    };
    let p = t.cp.authenticate(&creds).await.unwrap();
    let mut feed =
        t.cp.subscribe_session(&p, &id.parse().unwrap())
            .await
            .unwrap();
    let first = serde_json::to_value(feed.next().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "snapshot");
    assert_eq!(
        first["session"]["interactions"].as_array().unwrap().len(),
        2
    );
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/regenerate?stream=false"),
            &alice,
            None,
        )
        .await;
    assert_eq!(r.body["type"], "completed");
    let next = serde_json::to_value(feed.next().await.unwrap().unwrap()).unwrap();
    assert_eq!(
        next["type"], "snapshot",
        "regenerate sends subscribers a fresh snapshot: {next}"
    );
    let ids: Vec<&Value> = next["session"]["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert!(
        !ids.contains(&&old_answer),
        "the removed answer is gone from the snapshot"
    );
}

#[tokio::test]
async fn stop_ends_the_answer_early_and_keeps_its_text() {
    let (t, alice, mallory) = setup().await;
    let id = session(&t, &alice, json!({"model": "fake/slow"})).await;
    let mut body = turn_body(&t, &alice, &id, "tell me").await;
    let mut seen = String::new();
    while !seen.contains("\"delta\"") {
        let chunk = body.next().await.expect("events until a delta").unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }

    // Only the session's owner may stop it; to anyone else it does not exist.
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/stop"),
            &mallory,
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/stop"),
            &alice,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["stopped"], true);

    // The client's stream ends with `completed` carrying the text so far.
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let evs = events(&json!(seen));
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "completed", "{seen}");
    let full: String = (0..10).map(|i| format!("w{i} ")).collect();
    let kept = last["interaction"]["content"].as_str().unwrap().to_owned();
    assert!(
        !kept.is_empty() && kept.len() < full.len() && full.starts_with(&kept),
        "a prefix of the answer is kept: {kept:?}"
    );
    let got = wait_for_state(&t, &alice, &id, 1, "complete").await;
    assert_eq!(got["interactions"][1]["content"], kept.as_str());

    // The upstream never reported usage for the stopped call: it is metered by estimate
    // (about 4 characters a token), so stopping is not a way around quotas.
    let usage = loop {
        let r = t.call(Method::GET, "/api/v1/usage", &alice, None).await;
        if r.body.as_array().is_some_and(|rows| !rows.is_empty()) {
            break r.body[0].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(usage["calls"], 1, "{usage}");
    assert_eq!(
        usage["prompt_tokens"],
        "tell me".len().div_ceil(4),
        "{usage}"
    );
    assert_eq!(
        usage["completion_tokens"],
        kept.chars().count().div_ceil(4),
        "{usage}"
    );

    // Nothing runs any more: a second stop finds nothing, and the turn is free.
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/stop"),
            &alice,
            None,
        )
        .await;
    assert_eq!(r.body["stopped"], false);
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/chat?stream=false"),
            &alice,
            Some(json!({"message": "again"})),
        )
        .await;
    assert_eq!(r.body["type"], "completed", "{:?}", r.body);
    let r = t
        .call(Method::POST, "/api/v1/sessions/ses_nope/stop", &alice, None)
        .await;
    assert!(r.status.is_client_error(), "{:?}", r.body);
}

#[tokio::test]
async fn a_stop_before_any_text_leaves_a_failed_answer_out_of_the_context() {
    let (t, alice, _) = setup().await;
    let id = session(&t, &alice, json!({"model": "fake/stall"})).await;
    let mut body = turn_body(&t, &alice, &id, "anyone there?").await;
    let mut seen = String::new();
    while seen.matches("interaction_created").count() < 2 {
        let chunk = body
            .next()
            .await
            .expect("the answer's placeholder")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/stop"),
            &alice,
            None,
        )
        .await;
    assert_eq!(r.body["stopped"], true, "{:?}", r.body);
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let last = events(&json!(seen)).pop().unwrap();
    assert_eq!(last["type"], "failed", "{seen}");
    assert!(
        last["interaction"]["error"]
            .as_str()
            .unwrap()
            .starts_with("stopped:"),
        "{last}"
    );
    // Kept as failed (the next turn's context leaves failed answers out), and the
    // session's turn is free again.
    let got = wait_for_state(&t, &alice, &id, 1, "error").await;
    assert_eq!(got["interactions"][1]["content"], "");
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/stop"),
            &alice,
            None,
        )
        .await;
    assert_eq!(r.body["stopped"], false);
}
