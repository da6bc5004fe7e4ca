//! Any OpenAI-compatible HTTP API: OpenAI, vLLM, llama.cpp's llama-server, Ollama's
//! `/v1`, Together and the like.

use super::sse::SseParser;
use super::{ChatRequest, ChatStream, EmbeddingsRequest, Provider, UpstreamModel};
use crate::error::{CoreError, Result};
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;

/// An OpenAI-compatible endpoint: a base URL (ending in `/v1` or wherever `/models`
/// lives) and an optional bearer key.
#[derive(Clone)]
pub struct OpenAiProvider {
    base_url: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The error's causes (reqwest's own message is generic: "error sending request").
fn causes(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn unreachable_err(e: reqwest::Error) -> CoreError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let why = causes(&e);
    CoreError::Upstream {
        status: None,
        message: format!("{what}: {}{why}", e.without_url()),
    }
}

/// A send that failed this soon did not reach a model that started working on it.
const STALE_WITHIN: std::time::Duration = std::time::Duration::from_millis(250);

/// Whether a send failed because a pooled keep-alive connection was closed by the
/// upstream as the request went out (the race every HTTP/1.1 client pool has with a
/// server's idle timeout), which is sent again once, on a new connection. Only a
/// failure within [`STALE_WITHIN`] of sending counts: a connection that breaks later
/// may have carried a request the upstream was working on (and may bill), and that is
/// never sent twice.
fn stale_connection(e: &reqwest::Error, after: std::time::Duration) -> bool {
    if after > STALE_WITHIN || e.is_timeout() || e.is_connect() || !e.is_request() {
        return false;
    }
    let why = causes(e).to_ascii_lowercase();
    [
        "connection closed before message completed",
        "connection reset",
        "broken pipe",
    ]
    .iter()
    .any(|s| why.contains(s))
}

/// Turns a non-2xx upstream answer into an error carrying the upstream's own message.
async fn error_from(resp: reqwest::Response) -> CoreError {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    upstream_error(status, &body)
}

/// The error for a non-2xx answer of an OpenAI-compatible upstream: its status and its
/// own message (`{"error": {"message": ...}}`, `{"error": "..."}`, or the body's start).
pub fn upstream_error(status: u16, body: &[u8]) -> CoreError {
    let body = String::from_utf8_lossy(body);
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| e.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| body.chars().take(300).collect());
    CoreError::Upstream {
        status: Some(status),
        message,
    }
}

impl OpenAiProvider {
    /// A provider for `base_url`, sharing `http` (connection pool) with others.
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<String>) -> Self {
        OpenAiProvider {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            http,
        }
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.post(format!("{}{path}", self.base_url));
        match &self.api_key {
            Some(k) => req.bearer_auth(k),
            None => req,
        }
    }

    async fn send_json(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<reqwest::Response> {
        let sent = std::time::Instant::now();
        let resp = match self.post(path).json(body).send().await {
            Err(e) if stale_connection(&e, sent.elapsed()) => {
                tracing::debug!(error = %e.without_url(), "stale upstream connection; sending again");
                self.post(path).json(body).send().await
            }
            other => other,
        }
        .map_err(unreachable_err)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(error_from(resp).await)
        }
    }
}

async fn json_body(resp: reqwest::Response) -> Result<Value> {
    let v = resp
        .json::<Value>()
        .await
        .map_err(|e| CoreError::Upstream {
            status: None,
            message: format!("upstream answered with invalid json: {}", e.without_url()),
        })?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(CoreError::Upstream {
            status: None,
            message: "upstream answered with json that is not an object".into(),
        })
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    async fn chat(&self, req: &ChatRequest) -> Result<Value> {
        let mut body = req.clone();
        body.stream = None;
        json_body(self.send_json("/chat/completions", &body).await?).await
    }

    async fn chat_stream(&self, req: &ChatRequest) -> Result<ChatStream> {
        let mut body = req.clone();
        body.stream = Some(true);
        let resp = self.send_json("/chat/completions", &body).await?;
        Ok(sse_chunks(resp.bytes_stream().map(|r| {
            r.map_err(|e| CoreError::Upstream {
                status: None,
                message: format!("stream broken: {}", e.without_url()),
            })
        })))
    }

    async fn embeddings(&self, req: &EmbeddingsRequest) -> Result<Value> {
        json_body(self.send_json("/embeddings", req).await?).await
    }

    async fn list_models(&self) -> Result<Vec<UpstreamModel>> {
        let mut req = self.http.get(format!("{}/models", self.base_url));
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(unreachable_err)?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let body = json_body(resp).await?;
        Ok(body["data"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|m| m["id"].as_str())
                    .map(|id| UpstreamModel { id: id.to_owned() })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Chat completion chunks from the bytes of an OpenAI-style SSE stream: one item per
/// `data:` chunk, ending at `data: [DONE]`. An `{"error": ...}` event, a malformed
/// chunk, a broken stream or an end without `[DONE]` becomes one `Err` item, then the
/// stream ends.
pub fn sse_chunks<S, B>(bytes: S) -> ChatStream
where
    S: futures::Stream<Item = Result<B>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
{
    // State: the byte stream, the parser, queued chunks, and whether [DONE] came.
    let stream = futures::stream::unfold(
        (
            bytes.boxed(),
            SseParser::new(),
            std::collections::VecDeque::<Value>::new(),
            false,
        ),
        |(mut bytes, mut parser, mut queue, mut done)| async move {
            loop {
                if let Some(v) = queue.pop_front() {
                    return Some((Ok(v), (bytes, parser, queue, done)));
                }
                if done {
                    return None;
                }
                let events = match bytes.next().await {
                    Some(Ok(chunk)) => parser.push(chunk.as_ref()),
                    Some(Err(e)) => {
                        done = true;
                        Err(e)
                    }
                    None => {
                        done = true;
                        match parser.finish() {
                            Some(ev) if ev.data.trim() == "[DONE]" => return None,
                            // The upstream closed without [DONE]: the answer is cut.
                            _ => Err(CoreError::Upstream {
                                status: None,
                                message: "stream ended before [DONE]".into(),
                            }),
                        }
                    }
                };
                let events = match events {
                    Ok(evs) => evs,
                    Err(e) => {
                        done = true;
                        return Some((Err(e), (bytes, parser, queue, done)));
                    }
                };
                for ev in events {
                    if ev.data.trim() == "[DONE]" {
                        done = true;
                        break;
                    }
                    match serde_json::from_str::<Value>(&ev.data) {
                        Ok(v) if v.get("error").is_some() => {
                            done = true;
                            let message = v["error"]["message"]
                                .as_str()
                                .unwrap_or("upstream error")
                                .to_owned();
                            queue.clear();
                            return Some((
                                Err(CoreError::Upstream {
                                    status: None,
                                    message,
                                }),
                                (bytes, parser, queue, done),
                            ));
                        }
                        Ok(v) if v.is_object() => queue.push_back(v),
                        // Not JSON, or JSON that is not a chunk object.
                        _ => {
                            done = true;
                            let e = CoreError::Upstream {
                                status: None,
                                message: "upstream sent a malformed chunk".into(),
                            };
                            return Some((Err(e), (bytes, parser, queue, done)));
                        }
                    }
                }
            }
        },
    );
    stream.boxed()
}

#[cfg(test)]
#[path = "openai_tests.rs"]
mod tests;
