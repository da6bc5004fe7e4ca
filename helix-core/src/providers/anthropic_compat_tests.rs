use super::*;

#[test]
fn request_translation_covers_system_blocks_tools_and_sampling() {
    let req = json!({
        "model": "llama/tiny", "max_tokens": 64, "system": [{"type": "text", "text": "Be brief."}],
        "temperature": 0.5, "stop_sequences": ["END"], "stream": true,
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]},
                {"type": "text", "text": "Thanks"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}}]}
        ]
    });
    let c = to_chat_request(&req).unwrap();
    assert_eq!(c.model, "llama/tiny");
    assert_eq!(c.stream, Some(true));
    let roles: Vec<&str> = c.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
    assert_eq!(c.messages[0].content, Some(json!("Be brief.")));
    let call = &c.messages[2].extra["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(c.messages[3].extra["tool_call_id"], "toolu_1");
    assert_eq!(c.messages[3].content, Some(json!("18C")));
    let parts = c.messages[4].content.as_ref().unwrap().as_array().unwrap();
    assert_eq!(parts[1]["image_url"]["url"], "data:image/jpeg;base64,AAAA");
    assert_eq!(c.extra["max_tokens"], 64);
    assert_eq!(c.extra["stop"], json!(["END"]));
    assert_eq!(c.extra["temperature"], 0.5);
    assert_eq!(
        c.extra["tools"][0]["function"]["parameters"],
        json!({"type": "object"})
    );
    assert_eq!(c.extra["tool_choice"]["function"]["name"], "get_weather");
}

#[test]
fn bad_requests_are_refused() {
    for bad in [
        json!({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "m", "max_tokens": 5, "messages": []}),
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]}),
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "video"}]}]}),
        json!({"model": "m", "max_tokens": 5, "tool_choice": {"type": "maybe"}, "messages": [{"role": "user", "content": "x"}]}),
    ] {
        assert_eq!(
            to_chat_request(&bad).unwrap_err().code().as_str(),
            "invalid_input",
            "{bad}"
        );
    }
}

#[test]
fn completion_translation_maps_text_tools_stop_and_usage() {
    let c = json!({"id": "chatcmpl-abc", "choices": [{"finish_reason": "tool_calls", "message": {"content": "Sure",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4}});
    let m = from_chat_completion(&c, "llama/tiny");
    assert_eq!(m["id"], "msg_abc");
    assert_eq!(m["type"], "message");
    assert_eq!(m["model"], "llama/tiny");
    assert_eq!(m["content"][0], json!({"type": "text", "text": "Sure"}));
    assert_eq!(m["content"][1]["input"], json!({"a": 1}));
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["usage"], json!({"input_tokens": 9, "output_tokens": 4}));
    assert_eq!(stop_reason(Some("length")), "max_tokens");
    assert_eq!(stop_reason(Some("stop")), "end_turn");
}

#[test]
fn stream_translation_emits_anthropic_event_order() {
    let mut t = StreamTranslator::new("m");
    let mut events = Vec::new();
    for chunk in [
        json!({"id": "chatcmpl-1", "choices": [{"delta": {"role": "assistant"}}]}),
        json!({"choices": [{"delta": {"content": "Hel"}}]}),
        json!({"choices": [{"delta": {"content": "lo"}}]}),
        json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": ""}}]}}]}),
        json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}}]}),
        json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]}),
        json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 7}}),
    ] {
        events.extend(t.on_chunk(&chunk));
    }
    events.extend(t.finish());
    let names: Vec<&str> = events.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[1].1["index"], 0);
    assert_eq!(events[3].1["delta"]["text"], "lo");
    assert_eq!(events[5].1["content_block"]["name"], "f");
    assert_eq!(events[5].1["index"], 1);
    assert_eq!(events[7].1["delta"]["partial_json"], "1}");
    assert_eq!(events[9].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[9].1["usage"]["output_tokens"], 7);
}

#[test]
fn an_empty_stream_still_opens_and_closes_the_message() {
    let mut t = StreamTranslator::new("m");
    let names: Vec<&str> = t.finish().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
}
