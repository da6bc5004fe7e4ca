//! Runners: `GET /api/v1/runners/connect` (the WebSocket runners dial in on; spec in
//! `docs/runner-protocol.md`) and `GET /api/v1/scheduler` (what the scheduler sees and
//! decided, for site admins).

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Auth;
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use futures::{SinkExt, StreamExt};
use helix_core::{authz, CoreError};
use helix_sched::protocol::{Frame, MAX_DATA_PAYLOAD, MAX_TEXT_FRAME};
use helix_sched::runner::connect::RUNNER_ID_HEADER;
use helix_sched::runner::BoxTransport;
use helix_sched::RunnerId;

fn hub(s: &AppState) -> Result<&helix_sched::hub::RunnerHub, ApiError> {
    s.runners
        .as_ref()
        .ok_or_else(|| CoreError::NotConfigured("the runner hub").into())
}

#[utoipa::path(get, path = "/api/v1/runners/connect", tag = "runners",
    security(("runner_token" = [])),
    responses((status = 101, description = "WebSocket of the runner protocol (docs/runner-protocol.md)"),
              (status = 401, body = ErrorBody, description = "missing, unknown, revoked or expired runner token")))]
pub async fn connect(
    State(s): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let hub = hub(&s)?.clone();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(CoreError::Unauthenticated)?;
    let runner = s.cp.authenticate_runner(token.trim()).await?;
    let runner_id = RunnerId(runner.runner_id);
    let header =
        axum::http::HeaderValue::from_str(runner_id.as_str()).map_err(CoreError::internal)?;
    let mut resp = upgrade
        .max_message_size(MAX_TEXT_FRAME.max(MAX_DATA_PAYLOAD + 5))
        .on_upgrade(
            move |socket| async move { hub.serve_connection(runner_id, frames(socket)).await },
        );
    resp.headers_mut().insert(RUNNER_ID_HEADER, header);
    Ok(resp)
}

/// The axum socket as protocol frames.
pub(crate) fn frames(socket: WebSocket) -> BoxTransport {
    let t = socket
        .filter_map(|m| async move {
            match m {
                Ok(Message::Text(t)) => Some(Frame::Text(t.to_string())),
                Ok(Message::Binary(b)) => Some(Frame::Binary(b.to_vec())),
                Ok(Message::Close(c)) => Some(match c {
                    Some(c) => Frame::Close(c.code, c.reason.to_string()),
                    None => Frame::Close(1005, String::new()),
                }),
                Ok(_) => None,
                Err(e) => Some(Frame::Close(1006, e.to_string())),
            }
        })
        .sink_map_err(|e| e.to_string())
        .with(|f: Frame| async move {
            Ok::<_, String>(match f {
                Frame::Text(t) => Message::Text(t.into()),
                Frame::Binary(b) => Message::Binary(b.into()),
                Frame::Close(code, reason) => Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })),
            })
        });
    Box::pin(t)
}

#[utoipa::path(get, path = "/api/v1/scheduler", tag = "runners",
    responses((status = 200, description = "runners, GPUs (booked vs reported memory), instances, the queue and recent decisions with reasons"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn scheduler(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<serde_json::Value>> {
    authz::require_site_admin(&p)?;
    let view = hub(&s)?.view();
    Ok(Json(
        serde_json::to_value(view).map_err(CoreError::internal)?,
    ))
}
