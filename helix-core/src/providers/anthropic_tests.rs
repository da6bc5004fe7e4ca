use super::*;
use crate::providers::{ChatMessage, ChatRequest};

fn msg(role: &str, content: Value, extra: Value) -> ChatMessage {
    ChatMessage {
        role: role.into(),
        content: Some(content),
        extra: extra.as_object().cloned().unwrap_or_default(),
    }
}

#[test]
fn requests_translate_system_tools_results_and_limits() {
    let req = ChatRequest {
        model: "claude-x".into(),
        stream: None,
        messages: vec![
            msg("system", json!("Be brief."), json!({})),
            msg("user", json!([{"type": "text", "text": "Weather?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]), json!({})),
            msg("assistant", json!(""), json!({"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}}]})),
            msg("tool", json!("18C"), json!({"tool_call_id": "call_1"})),
            msg("tool", json!("sunny"), json!({"tool_call_id": "call_2"})),
        ],
        extra: json!({"max_tokens": 50, "temperature": 0.1, "stop": "END", "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]}).as_object().cloned().unwrap(),
    };
    let m = to_messages_request(&req, true).unwrap();
    assert_eq!(m["system"], "Be brief.");
    assert_eq!(m["max_tokens"], 50);
    assert_eq!(m["stop_sequences"], json!(["END"]));
    assert_eq!(m["tool_choice"], json!({"type": "any"}));
    assert_eq!(m["tools"][0]["input_schema"], json!({"type": "object"}));
    assert_eq!(m["stream"], true);
    let msgs = m["messages"].as_array().unwrap();
    assert_eq!(
        msgs.len(),
        3,
        "two tool results merge into one user turn: {msgs:?}"
    );
    assert_eq!(
        msgs[0]["content"][1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "AAAA"})
    );
    assert_eq!(
        msgs[1]["content"][0],
        json!({"type": "tool_use", "id": "call_1", "name": "w", "input": {"city": "Paris"}})
    );
    assert_eq!(msgs[2]["content"].as_array().unwrap().len(), 2);
    assert_eq!(msgs[2]["content"][1]["tool_use_id"], "call_2");
    let plain = ChatRequest {
        extra: Default::default(),
        ..req
    };
    assert_eq!(
        to_messages_request(&plain, false).unwrap()["max_tokens"],
        DEFAULT_MAX_TOKENS
    );
}

#[test]
fn answers_translate_back() {
    let m = json!({"id": "msg_1", "model": "claude-x", "stop_reason": "tool_use",
        "content": [{"type": "text", "text": "Checking"}, {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"a": 1}}],
        "usage": {"input_tokens": 7, "output_tokens": 3}});
    let c = to_chat_completion(&m);
    assert_eq!(c["choices"][0]["message"]["content"], "Checking");
    assert_eq!(
        c["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );
    assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        c["usage"],
        json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10})
    );
}

#[test]
fn stream_events_become_chunks() {
    let mut t = ChunkTranslator::default();
    let mut chunks = Vec::new();
    for (name, data) in [
        (
            "message_start",
            json!({"message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 5}}}),
        ),
        (
            "content_block_start",
            json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ),
        (
            "content_block_start",
            json!({"index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "w"}}),
        ),
        (
            "content_block_delta",
            json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\""}}),
        ),
        ("ping", json!({})),
        (
            "message_delta",
            json!({"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}}),
        ),
    ] {
        chunks.extend(t.on_event(name, &data).unwrap());
    }
    assert_eq!(chunks.len(), 5);
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
    assert_eq!(
        chunks[2]["choices"][0]["delta"]["tool_calls"][0]["id"],
        "toolu_1"
    );
    assert_eq!(
        chunks[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"a\""
    );
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[4]["usage"]["total_tokens"], 9);
    assert!(t
        .on_event("error", &json!({"error": {"message": "overloaded"}}))
        .is_err());
}
