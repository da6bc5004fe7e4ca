//! Anthropic's Messages API as a provider: OpenAI-shaped requests are translated to
//! Messages requests and the answers (whole or streamed) back to OpenAI shapes.

use super::sse::SseParser;
use super::{ChatRequest, ChatStream, EmbeddingsRequest, Provider, UpstreamModel};
use crate::error::{CoreError, Result};
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{json, Map, Value};

/// The API version Helix speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; used when the caller gives none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// An Anthropic endpoint (`https://api.anthropic.com/v1` or compatible).
#[derive(Clone)]
pub struct AnthropicProvider {
    base_url: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn upstream(message: impl Into<String>) -> CoreError {
    CoreError::Upstream {
        status: None,
        message: message.into(),
    }
}

/// Text of OpenAI message content (a string or text parts).
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// OpenAI content as Anthropic blocks.
fn blocks_of(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) if !s.is_empty() => vec![json!({"type": "text", "text": s})],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p["type"].as_str() {
                Some("text") => Some(json!({"type": "text", "text": p["text"]})),
                Some("image_url") => {
                    let url = p["image_url"]["url"].as_str().unwrap_or_default();
                    match url.strip_prefix("data:").and_then(|rest| rest.split_once(";base64,")) {
                        Some((media, data)) => Some(json!({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})),
                        None => Some(json!({"type": "image", "source": {"type": "url", "url": url}})),
                    }
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// An OpenAI chat request as an Anthropic Messages request.
pub fn to_messages_request(req: &ChatRequest, stream: bool) -> Result<Value> {
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in &req.messages {
        let content = m.content.clone().unwrap_or(Value::Null);
        let (role, blocks) = match m.role.as_str() {
            "system" | "developer" => {
                system.push(text_of(&content));
                continue;
            }
            "user" => ("user", blocks_of(&content)),
            "assistant" => {
                let mut blocks = blocks_of(&content);
                for call in m
                    .extra
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let args = call["function"]["arguments"].as_str().unwrap_or("{}");
                    let input = serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!({}));
                    blocks.push(json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": input}));
                }
                ("assistant", blocks)
            }
            "tool" => (
                "user",
                vec![
                    json!({"type": "tool_result", "tool_use_id": m.extra.get("tool_call_id").cloned().unwrap_or(Value::Null), "content": text_of(&content)}),
                ],
            ),
            other => {
                return Err(CoreError::invalid(
                    "messages",
                    format!("unknown role {other:?}"),
                ))
            }
        };
        if blocks.is_empty() {
            continue;
        }
        // Anthropic wants alternating roles: merge consecutive messages of one role
        // (e.g. several tool results).
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(arr) = last["content"].as_array_mut() {
                    arr.extend(blocks);
                }
            }
            _ => messages.push(json!({"role": role, "content": blocks})),
        }
    }
    let x = &req.extra;
    let max_tokens = x
        .get("max_completion_tokens")
        .or_else(|| x.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let mut out = Map::new();
    out.insert("model".into(), json!(req.model));
    out.insert("max_tokens".into(), json!(max_tokens));
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n")));
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = x.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    match x.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) => {
            out.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if let Some(tools) = x.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| json!({"name": t["function"]["name"], "description": t["function"]["description"].as_str().unwrap_or_default(),
                "input_schema": t["function"].get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"}))}))
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = x.get("tool_choice") {
        let mapped = match choice {
            Value::String(s) if s == "auto" => json!({"type": "auto"}),
            Value::String(s) if s == "required" => json!({"type": "any"}),
            Value::String(s) if s == "none" => json!({"type": "none"}),
            Value::Object(o) => {
                json!({"type": "tool", "name": o.get("function").and_then(|f| f.get("name"))})
            }
            _ => {
                return Err(CoreError::invalid(
                    "tool_choice",
                    "must be auto, required, none or a function",
                ))
            }
        };
        out.insert("tool_choice".into(), mapped);
    }
    if stream {
        out.insert("stream".into(), json!(true));
    }
    Ok(Value::Object(out))
}

/// Anthropic `stop_reason` as OpenAI `finish_reason`.
pub fn finish_reason(stop: Option<&str>) -> &'static str {
    match stop {
        Some("max_tokens") => "length",
        Some("tool_use") => "tool_calls",
        _ => "stop",
    }
}

/// A whole Anthropic message as an OpenAI chat completion.
pub fn to_chat_completion(m: &Value) -> Value {
    let blocks = m["content"].as_array().cloned().unwrap_or_default();
    let text: String = blocks
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect();
    let calls: Vec<Value> = blocks
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| json!({"id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": b["input"].to_string()}}))
        .collect();
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let (i, o) = (
        m["usage"]["input_tokens"].as_i64().unwrap_or(0),
        m["usage"]["output_tokens"].as_i64().unwrap_or(0),
    );
    json!({"id": m["id"], "object": "chat.completion", "created": chrono::Utc::now().timestamp(), "model": m["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(m["stop_reason"].as_str())}],
        "usage": {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}})
}

/// Turns Anthropic stream events into OpenAI chunks.
#[derive(Debug, Default)]
pub struct ChunkTranslator {
    id: String,
    model: String,
    input_tokens: i64,
    /// Anthropic content block index -> OpenAI tool call index.
    tools: std::collections::HashMap<u64, usize>,
}

impl ChunkTranslator {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": chrono::Utc::now().timestamp(), "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    /// The chunks for one event; `Err` for an `error` event.
    pub fn on_event(&mut self, name: &str, data: &Value) -> Result<Vec<Value>> {
        Ok(match name {
            "message_start" => {
                self.id = data["message"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.model = data["message"]["model"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.input_tokens = data["message"]["usage"]["input_tokens"]
                    .as_i64()
                    .unwrap_or(0);
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            "content_block_start" if data["content_block"]["type"] == "tool_use" => {
                let idx = self.tools.len();
                self.tools.insert(data["index"].as_u64().unwrap_or(0), idx);
                let b = &data["content_block"];
                vec![self.chunk(json!({"tool_calls": [{"index": idx, "id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": ""}}]}), None)]
            }
            "content_block_delta" => match data["delta"]["type"].as_str() {
                Some("text_delta") => {
                    vec![self.chunk(json!({"content": data["delta"]["text"]}), None)]
                }
                Some("input_json_delta") => {
                    let idx = self
                        .tools
                        .get(&data["index"].as_u64().unwrap_or(0))
                        .copied()
                        .unwrap_or(0);
                    vec![self.chunk(json!({"tool_calls": [{"index": idx, "function": {"arguments": data["delta"]["partial_json"]}}]}), None)]
                }
                _ => vec![],
            },
            "message_delta" => {
                let out = data["usage"]["output_tokens"].as_i64().unwrap_or(0);
                let mut c = self.chunk(
                    json!({}),
                    Some(finish_reason(data["delta"]["stop_reason"].as_str())),
                );
                c["usage"] = json!({"prompt_tokens": self.input_tokens, "completion_tokens": out, "total_tokens": self.input_tokens + out});
                vec![c]
            }
            "error" => {
                return Err(upstream(
                    data["error"]["message"]
                        .as_str()
                        .unwrap_or("upstream error"),
                ))
            }
            _ => vec![],
        })
    }
}

impl AnthropicProvider {
    /// A provider for `base_url` (e.g. `https://api.anthropic.com/v1`).
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<String>) -> Self {
        AnthropicProvider {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            http,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("anthropic-version", ANTHROPIC_VERSION);
        if let Some(k) = &self.api_key {
            r = r.header("x-api-key", k);
        }
        r
    }

    async fn send(&self, body: &Value) -> Result<reqwest::Response> {
        let resp = self
            .request(reqwest::Method::POST, "/messages")
            .json(body)
            .send()
            .await
            .map_err(|e| upstream(format!("request failed: {}", e.without_url())))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(300).collect());
        Err(CoreError::Upstream {
            status: Some(status),
            message,
        })
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    async fn chat(&self, req: &ChatRequest) -> Result<Value> {
        let resp = self.send(&to_messages_request(req, false)?).await?;
        let m: Value = resp
            .json()
            .await
            .map_err(|e| upstream(format!("invalid json: {}", e.without_url())))?;
        Ok(to_chat_completion(&m))
    }

    async fn chat_stream(&self, req: &ChatRequest) -> Result<ChatStream> {
        let resp = self.send(&to_messages_request(req, true)?).await?;
        let stream = futures::stream::unfold(
            (
                resp.bytes_stream(),
                SseParser::new(),
                ChunkTranslator::default(),
                std::collections::VecDeque::new(),
                false,
            ),
            |(mut bytes, mut parser, mut tr, mut queue, mut done)| async move {
                loop {
                    if let Some(item) = queue.pop_front() {
                        return Some((item, (bytes, parser, tr, queue, done)));
                    }
                    if done {
                        return None;
                    }
                    let events = match bytes.next().await {
                        Some(Ok(chunk)) => parser.push(&chunk),
                        Some(Err(e)) => {
                            Err(upstream(format!("stream broken: {}", e.without_url())))
                        }
                        None => Err(upstream("stream ended before message_stop")),
                    };
                    match events {
                        Err(e) => {
                            done = true;
                            queue.push_back(Err(e));
                        }
                        Ok(events) => {
                            for ev in events {
                                let name = ev.event.clone().unwrap_or_default();
                                if name == "message_stop" {
                                    done = true;
                                    break;
                                }
                                let data: Value = match serde_json::from_str(&ev.data) {
                                    Ok(v) => v,
                                    Err(_) => {
                                        done = true;
                                        queue.push_back(Err(upstream(
                                            "upstream sent a malformed event",
                                        )));
                                        break;
                                    }
                                };
                                match tr.on_event(&name, &data) {
                                    Ok(chunks) => queue.extend(chunks.into_iter().map(Ok)),
                                    Err(e) => {
                                        done = true;
                                        queue.push_back(Err(e));
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
            },
        );
        Ok(stream.boxed())
    }

    async fn embeddings(&self, _req: &EmbeddingsRequest) -> Result<Value> {
        Err(CoreError::invalid(
            "model",
            "anthropic endpoints do not serve embeddings",
        ))
    }

    async fn list_models(&self) -> Result<Vec<UpstreamModel>> {
        let resp = self
            .request(reqwest::Method::GET, "/models")
            .send()
            .await
            .map_err(|e| upstream(format!("request failed: {}", e.without_url())))?;
        if !resp.status().is_success() {
            return Err(CoreError::Upstream {
                status: Some(resp.status().as_u16()),
                message: "cannot list models".into(),
            });
        }
        let body: Value = resp
            .json()
            .await
            .map_err(|e| upstream(format!("invalid json: {}", e.without_url())))?;
        Ok(body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str())
            .map(|id| UpstreamModel { id: id.to_owned() })
            .collect())
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
