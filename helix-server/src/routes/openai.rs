//! The OpenAI-compatible API under `/v1`: the official `openai` clients work against it
//! unchanged. Errors use OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

use super::sse::SseEvent;
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use helix_core::providers::{ChatRequest, ChatStream, EmbeddingsRequest};
use serde_json::{json, Value};

/// An error in OpenAI's shape.
#[derive(Debug)]
pub struct V1Error(pub ApiError);

impl<E: Into<ApiError>> From<E> for V1Error {
    fn from(e: E) -> Self {
        V1Error(e.into())
    }
}

fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

fn error_json(e: &ApiError) -> Value {
    json!({"error": {"message": e.message, "type": error_type(e.status), "param": null, "code": e.code}})
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        (self.0.status, self.0.headers(), Json(error_json(&self.0))).into_response()
    }
}

type V1Result<T> = Result<T, V1Error>;

#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatRequest,
    responses((status = 200, description = "a chat.completion object, or with stream=true server-sent chat.completion.chunk events ending in `data: [DONE]`; an error mid-stream arrives as `data: {\"error\": {...}}`")))]
pub async fn chat_completions(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
    body: Result<ApiJson<ChatRequest>, ApiError>,
) -> V1Result<Response> {
    let Auth(p) = auth?;
    let ApiJson(req) = body?;
    if req.is_stream() {
        let stream = s.cp.chat_completion_stream(&p, req).await?;
        Ok(super::sse::response(sse_events(stream)))
    } else {
        Ok(Json(s.cp.chat_completion(&p, req).await?).into_response())
    }
}

/// Chunks as `data:` events, then `data: [DONE]`; an upstream failure becomes one
/// error event and a clean end of the stream instead of a broken connection.
fn sse_events(stream: ChatStream) -> impl futures::Stream<Item = SseEvent> {
    futures::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.next().await {
            Some(Ok(chunk)) => Some((SseEvent::data(chunk.to_string()), Some(stream))),
            Some(Err(e)) => {
                let e = ApiError::from(e);
                tracing::warn!(code = e.code, message = %e.message, "stream failed mid-answer");
                Some((SseEvent::data(error_json(&e).to_string()), None))
            }
            None => Some((SseEvent::data("[DONE]"), None)),
        }
    })
}

#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", request_body = EmbeddingsRequest,
    responses((status = 200, description = "a list of embedding objects")))]
pub async fn embeddings(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
    body: Result<ApiJson<EmbeddingsRequest>, ApiError>,
) -> V1Result<Json<Value>> {
    let Auth(p) = auth?;
    let ApiJson(req) = body?;
    Ok(Json(s.cp.embeddings(&p, req).await?))
}

#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses((status = 200, description = "the models the caller may use, as an OpenAI list")))]
pub async fn models(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
) -> V1Result<Json<Value>> {
    let Auth(p) = auth?;
    Ok(Json(s.cp.list_models(&p).await?))
}
