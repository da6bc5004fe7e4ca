//! Anthropic Messages API <-> OpenAI chat translation, so clients built on Anthropic
//! SDKs can use Helix (`POST /v1/messages`) with whatever provider serves the model.
//!
//! Pure functions and one streaming state machine; no I/O.

use super::{ChatMessage, ChatRequest, Usage};
use crate::error::{CoreError, Result};
use serde_json::{json, Map, Value};

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::invalid("messages", message)
}

/// Text of a `system` field: a string or an array of text blocks.
fn system_text(system: &Value) -> Result<String> {
    match system {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => Ok(blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")),
        Value::Null => Ok(String::new()),
        _ => Err(CoreError::invalid(
            "system",
            "must be a string or an array of text blocks",
        )),
    }
}

/// Text of a `tool_result` content: a string or blocks.
fn tool_result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn message(role: &str, content: Option<Value>, extra: Map<String, Value>) -> ChatMessage {
    ChatMessage {
        role: role.to_owned(),
        content,
        extra,
    }
}

/// Converts one Anthropic message into one or more OpenAI messages (tool results
/// become `tool` messages).
fn convert_message(m: &Value, out: &mut Vec<ChatMessage>) -> Result<()> {
    let role = m["role"]
        .as_str()
        .ok_or_else(|| invalid("each message needs a role"))?;
    if role != "user" && role != "assistant" {
        return Err(invalid(format!("unknown role {role:?}")));
    }
    let blocks = match &m["content"] {
        Value::String(s) => {
            out.push(message(role, Some(json!(s)), Map::new()));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => return Err(invalid("content must be a string or an array of blocks")),
    };
    let mut parts = Vec::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b["type"].as_str().unwrap_or_default() {
            "text" => {
                parts.push(json!({"type": "text", "text": b["text"].as_str().unwrap_or_default()}))
            }
            "image" => {
                let src = &b["source"];
                let url = match src["type"].as_str() {
                    Some("base64") => format!(
                        "data:{};base64,{}",
                        src["media_type"].as_str().unwrap_or("image/png"),
                        src["data"].as_str().unwrap_or_default()
                    ),
                    Some("url") => src["url"].as_str().unwrap_or_default().to_owned(),
                    _ => return Err(invalid("image source must be base64 or url")),
                };
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            "tool_use" => tool_calls.push(json!({
                "id": b["id"], "type": "function",
                "function": {"name": b["name"], "arguments": b["input"].to_string()}
            })),
            "tool_result" => {
                let mut extra = Map::new();
                extra.insert("tool_call_id".into(), b["tool_use_id"].clone());
                out.push(message(
                    "tool",
                    Some(json!(tool_result_text(&b["content"]))),
                    extra,
                ));
            }
            "thinking" | "redacted_thinking" => {}
            other => return Err(invalid(format!("unsupported content block {other:?}"))),
        }
    }
    if parts.is_empty() && tool_calls.is_empty() {
        return Ok(());
    }
    // Plain text only: send a string, which every upstream accepts.
    let all_text = parts.iter().all(|p| p["type"] == "text");
    let content = if parts.is_empty() {
        None
    } else if all_text {
        Some(json!(parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")))
    } else {
        Some(Value::Array(parts))
    };
    let mut extra = Map::new();
    if !tool_calls.is_empty() {
        extra.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    out.push(message(role, content, extra));
    Ok(())
}

/// An Anthropic Messages request as an OpenAI chat request.
pub fn to_chat_request(req: &Value) -> Result<ChatRequest> {
    let model = req["model"]
        .as_str()
        .ok_or_else(|| CoreError::invalid("model", "is required"))?;
    let max_tokens = req["max_tokens"]
        .as_i64()
        .ok_or_else(|| CoreError::invalid("max_tokens", "is required"))?;
    if max_tokens < 1 {
        return Err(CoreError::invalid("max_tokens", "must be at least 1"));
    }
    let mut messages = Vec::new();
    let system = system_text(&req["system"])?;
    if !system.is_empty() {
        messages.push(message("system", Some(json!(system)), Map::new()));
    }
    let input = req["messages"]
        .as_array()
        .ok_or_else(|| invalid("must be an array"))?;
    if input.is_empty() {
        return Err(invalid("must not be empty"));
    }
    for m in input {
        convert_message(m, &mut messages)?;
    }
    let mut extra = Map::new();
    extra.insert("max_tokens".into(), json!(max_tokens));
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("stop_sequences", "stop"),
    ] {
        if !req[from].is_null() {
            extra.insert(to.into(), req[from].clone());
        }
    }
    if let Some(tools) = req["tools"].as_array() {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                "name": t["name"], "description": t["description"].as_str().unwrap_or_default(),
                "parameters": t["input_schema"]}})
            })
            .collect();
        extra.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = req["tool_choice"].as_object() {
        let mapped = match choice.get("type").and_then(Value::as_str) {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {"name": choice.get("name")}}),
            _ => {
                return Err(CoreError::invalid(
                    "tool_choice",
                    "must be auto, any, none or tool",
                ))
            }
        };
        extra.insert("tool_choice".into(), mapped);
    }
    Ok(ChatRequest {
        model: model.to_owned(),
        messages,
        stream: req["stream"].as_bool(),
        extra,
    })
}

/// OpenAI `finish_reason` as Anthropic `stop_reason`.
pub fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls") | Some("function_call") => "tool_use",
        _ => "end_turn",
    }
}

fn message_id(openai_id: Option<&str>) -> String {
    format!(
        "msg_{}",
        openai_id.unwrap_or("helix").trim_start_matches("chatcmpl-")
    )
}

/// A whole OpenAI chat completion as an Anthropic message.
pub fn from_chat_completion(c: &Value, model: &str) -> Value {
    let msg = &c["choices"][0]["message"];
    let mut content = Vec::new();
    if let Some(text) = msg["content"].as_str().filter(|t| !t.is_empty()) {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in msg["tool_calls"].as_array().into_iter().flatten() {
        let args = call["function"]["arguments"].as_str().unwrap_or("{}");
        let input = serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!({}));
        content.push(json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": input}));
    }
    let usage: Usage = super::usage_of(c).unwrap_or_default();
    json!({
        "id": message_id(c["id"].as_str()), "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop_reason(c["choices"][0]["finish_reason"].as_str()),
        "stop_sequence": null,
        "usage": {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Text,
    Tool(u64),
}

/// Turns OpenAI chunks into Anthropic stream events (`(event name, data)` pairs).
#[derive(Debug)]
pub struct StreamTranslator {
    model: String,
    started: bool,
    next_index: u64,
    open: Option<Block>,
    finish: Option<String>,
    usage: Usage,
}

impl StreamTranslator {
    /// A translator for a stream of `model`.
    pub fn new(model: &str) -> Self {
        StreamTranslator {
            model: model.to_owned(),
            started: false,
            next_index: 0,
            open: None,
            finish: None,
            usage: Usage::default(),
        }
    }

    fn close(&mut self, out: &mut Vec<(&'static str, Value)>) {
        if self.open.take().is_some() {
            out.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": self.next_index - 1}),
            ));
        }
    }

    fn open(&mut self, block: Block, start: Value, out: &mut Vec<(&'static str, Value)>) {
        self.close(out);
        out.push(("content_block_start", json!({"type": "content_block_start", "index": self.next_index, "content_block": start})));
        self.next_index += 1;
        self.open = Some(block);
    }

    /// Events for one chunk.
    pub fn on_chunk(&mut self, chunk: &Value) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push((
                "message_start",
                json!({"type": "message_start", "message": {
                "id": message_id(chunk["id"].as_str()), "type": "message", "role": "assistant",
                "model": self.model, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0}}}),
            ));
        }
        if let Some(u) = super::usage_of(chunk) {
            self.usage = u;
        }
        let choice = &chunk["choices"][0];
        if let Some(text) = choice["delta"]["content"]
            .as_str()
            .filter(|t| !t.is_empty())
        {
            if self.open != Some(Block::Text) {
                self.open(Block::Text, json!({"type": "text", "text": ""}), &mut out);
            }
            out.push((
                "content_block_delta",
                json!({"type": "content_block_delta", "index": self.next_index - 1,
                "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        for call in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let idx = call["index"].as_u64().unwrap_or(0);
            if self.open != Some(Block::Tool(idx)) {
                let start = json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": {}});
                self.open(Block::Tool(idx), start, &mut out);
            }
            if let Some(args) = call["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                out.push((
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": self.next_index - 1,
                    "delta": {"type": "input_json_delta", "partial_json": args}}),
                ));
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            self.finish = Some(f.to_owned());
        }
        out
    }

    /// The closing events, after the last chunk.
    pub fn finish(&mut self) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        if !self.started {
            out.extend(self.on_chunk(&json!({})));
        }
        self.close(&mut out);
        out.push(("message_delta", json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
            "usage": {"input_tokens": self.usage.prompt_tokens, "output_tokens": self.usage.completion_tokens}})));
        out.push(("message_stop", json!({"type": "message_stop"})));
        out
    }
}

/// An error in Anthropic's shape.
pub fn error_body(error_type: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type, "message": message}})
}

#[cfg(test)]
#[path = "anthropic_compat_tests.rs"]
mod tests;
