//! `POST /v1/messages`: the Anthropic Messages API, so agents built on Anthropic SDKs
//! can use Helix as their base URL (key in `x-api-key`). Errors use Anthropic's shape:
//! `{"type": "error", "error": {"type", "message"}}`.

use super::sse::SseEvent;
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use helix_core::ops::gateway::MessagesOutcome;
use helix_core::providers::anthropic_compat::error_body;
use serde_json::Value;

/// An error in Anthropic's shape.
#[derive(Debug)]
pub struct AnthropicError(pub ApiError);

impl<E: Into<ApiError>> From<E> for AnthropicError {
    fn from(e: E) -> Self {
        AnthropicError(e.into())
    }
}

impl IntoResponse for AnthropicError {
    fn into_response(self) -> Response {
        let kind = match self.0.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            _ => "api_error",
        };
        (
            self.0.status,
            self.0.headers(),
            Json(error_body(kind, &self.0.message)),
        )
            .into_response()
    }
}

#[utoipa::path(post, path = "/v1/messages", tag = "openai", request_body = Object,
    responses((status = 200, description = "an Anthropic message, or with stream=true Anthropic stream events (message_start ... message_stop)")))]
pub async fn messages(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
    body: Result<ApiJson<Value>, ApiError>,
) -> Result<Response, AnthropicError> {
    let Auth(p) = auth?;
    let ApiJson(body) = body?;
    match s.cp.messages(&p, &body).await? {
        MessagesOutcome::Message(m) => Ok(Json(m).into_response()),
        MessagesOutcome::Stream(events) => {
            Ok(super::sse::response(events.map(|(name, data)| SseEvent {
                name: Some(name),
                data: data.to_string(),
            })))
        }
    }
}
