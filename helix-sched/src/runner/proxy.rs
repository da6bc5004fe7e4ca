//! Forwarding OpenAI-style requests to an engine and streaming its answer back.

use std::fmt;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use url::Url;

use crate::{Result, SchedError};

/// An engine's answer: status, content type and the body as it arrives (SSE streams
/// chunk by chunk, never buffered whole).
pub struct ProxyResponse {
    /// HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any (`text/event-stream` for streams).
    pub content_type: Option<String>,
    /// The body. An error in the stream means the engine broke off the answer.
    pub body: BoxStream<'static, Result<Bytes>>,
}

impl fmt::Debug for ProxyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl ProxyResponse {
    /// Reads the whole body (for non-streaming answers and tests).
    pub async fn collect(self) -> Result<Bytes> {
        let chunks: Vec<Bytes> = self.body.try_collect().await?;
        Ok(chunks.concat().into())
    }
}

/// Sends `method path` with `body` to the engine at `base` and returns its answer as
/// a stream.
///
/// `path` must be an OpenAI-style path under `/v1/` (a query is allowed); anything
/// else (the engine's admin endpoints, `..`, another host) fails with code
/// `proxy_path_refused` before any request is made. When `body` is a JSON object and
/// `upstream_model` is given, its `model` field is set to `upstream_model`, the
/// name the engine knows the model by (an Ollama tag, vLLM's served name).
///
/// `http` should have no overall request timeout (answers stream for as long as the
/// engine generates) and no connection reuse (`pool_max_idle_per_host(0)`):
/// llama-server closes the connection after a streamed answer although it announces
/// keep-alive, so a request sent on that connection fails.
pub async fn forward(
    http: &reqwest::Client,
    base: &Url,
    method: reqwest::Method,
    path: &str,
    body: Bytes,
    upstream_model: Option<&str>,
) -> Result<ProxyResponse> {
    check_path(path)?;
    let url = base
        .join(path)
        .map_err(|_| SchedError::ProxyPathRefused { path: path.into() })?;
    let mut request = http.request(method, url.clone());
    if !body.is_empty() {
        match rewrite_model(&body, upstream_model) {
            Some(json) => {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(json)
            }
            None => request = request.body(body),
        }
    }
    let resp = request
        .send()
        .await
        .map_err(|source| SchedError::EngineUnreachable {
            url: url.to_string(),
            source,
        })?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let url = url.to_string();
    let body = resp
        .bytes_stream()
        .map_err(move |source| SchedError::EngineUnreachable {
            url: url.clone(),
            source,
        })
        .boxed();
    Ok(ProxyResponse {
        status,
        content_type,
        body,
    })
}

/// Only `/v1/...` paths, without `..`, empty segments, backslashes, fragments or
/// control characters.
fn check_path(path: &str) -> Result<()> {
    let refused = || SchedError::ProxyPathRefused { path: path.into() };
    let route = path.split_once('?').map_or(path, |(route, _)| route);
    let clean = route.starts_with("/v1/")
        && !route.contains("//")
        && !route.split('/').any(|seg| seg == ".." || seg == ".")
        && !route.contains('\\')
        && !route.contains("%2e")
        && !route.contains("%2E")
        && !path.contains('#')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace());
    if clean {
        Ok(())
    } else {
        Err(refused())
    }
}

/// The JSON object in `body` with `model` set to `upstream`; `None` when the body is
/// not a JSON object (it is then sent as is).
fn rewrite_model(body: &Bytes, upstream: Option<&str>) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object_mut()?;
    if let Some(upstream) = upstream {
        object.insert("model".into(), Value::String(upstream.to_owned()));
    }
    serde_json::to_vec(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_v1_paths_pass() {
        for ok in [
            "/v1/chat/completions",
            "/v1/models",
            "/v1/embeddings?x=1",
            "/v1/completions",
        ] {
            check_path(ok).expect(ok);
        }
        for bad in [
            "/health",
            "/api/generate",
            "v1/chat/completions",
            "/v1",
            "/v1/../health",
            "/v1/./models",
            "/v1//x",
            "/v1/%2e%2e/health",
            "/v1/a\\b",
            "/v1/chat#x",
            "/v1/chat completions",
            "//evil.example/v1/x",
            "http://evil.example/v1/x",
        ] {
            let err = check_path(bad).expect_err(bad);
            assert_eq!(err.code(), "proxy_path_refused");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn model_is_rewritten_in_json_objects_only() {
        let body = Bytes::from_static(br#"{"model":"tiny","stream":true}"#);
        let json: Value =
            serde_json::from_slice(&rewrite_model(&body, Some("llama3.1:8b")).expect("object"))
                .expect("json");
        assert_eq!(json["model"], "llama3.1:8b");
        assert_eq!(json["stream"], true);
        let added = rewrite_model(&Bytes::from_static(b"{}"), Some("m")).expect("object");
        assert_eq!(added, br#"{"model":"m"}"#);
        let kept = rewrite_model(&body, None).expect("object");
        assert_eq!(
            serde_json::from_slice::<Value>(&kept).expect("json")["model"],
            "tiny"
        );
        assert!(rewrite_model(&Bytes::from_static(b"[1]"), Some("m")).is_none());
        assert!(rewrite_model(&Bytes::from_static(b"not json"), Some("m")).is_none());
    }
}
