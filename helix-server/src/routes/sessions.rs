//! `/api/v1/sessions`: native chat with every message kept.

use super::sse::SseEvent;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{parse_id, ApiJson, ApiQuery, Auth};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use helix_core::model::ChatSession;
use helix_core::ops::chat::{
    ChatEvent, ChatTurnRequest, CreateSessionRequest, ForkSessionRequest, RenameSessionRequest,
    SessionWithInteractions,
};
use serde::Deserialize;
use tokio::sync::mpsc::Receiver;
use utoipa::IntoParams;

/// How a turn answers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TurnQuery {
    /// `false`: wait and answer with the final event as JSON (default `true`: SSE).
    pub stream: Option<bool>,
}

/// Server-sent `ChatEvent`s until the answer completes or fails, or one JSON event.
async fn turn_response(events: Receiver<ChatEvent>, stream: bool) -> Response {
    if stream {
        let sse = futures::stream::unfold(events, |mut rx| async move {
            let ev = rx.recv().await?;
            let data = serde_json::to_string(&ev).unwrap_or_default();
            Some((SseEvent::data(data), rx))
        });
        return super::sse::response(sse);
    }
    let mut events = events;
    let mut last = None;
    while let Some(ev) = events.recv().await {
        last = Some(ev);
    }
    Json(last).into_response()
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions",
    responses((status = 200, body = Vec<ChatSession>), (status = 401, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<ChatSession>>> {
    Ok(Json(s.cp.list_sessions(&p).await?))
}

#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = CreateSessionRequest,
    responses((status = 201, body = ChatSession), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateSessionRequest>,
) -> ApiResult<(StatusCode, Json<ChatSession>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.cp.create_session(&p, req).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}", tag = "sessions", params(("session_id" = String, Path)),
    responses((status = 200, body = SessionWithInteractions), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionWithInteractions>> {
    Ok(Json(s.cp.get_session(&p, &parse_id(&id)?).await?))
}

#[utoipa::path(patch, path = "/api/v1/sessions/{session_id}", tag = "sessions", params(("session_id" = String, Path)),
    request_body = RenameSessionRequest, responses((status = 200, body = ChatSession), (status = 404, body = ErrorBody)))]
pub async fn rename(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RenameSessionRequest>,
) -> ApiResult<Json<ChatSession>> {
    Ok(Json(s.cp.rename_session(&p, &parse_id(&id)?, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}", tag = "sessions", params(("session_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.cp.delete_session(&p, &parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/chat", tag = "sessions",
    params(("session_id" = String, Path), TurnQuery), request_body = ChatTurnRequest,
    responses((status = 200, body = ChatEvent, description = "server-sent ChatEvents (interaction_created, delta, completed or failed); the answer is kept even if the client leaves"),
              (status = 404, body = ErrorBody)))]
pub async fn chat(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TurnQuery>,
    ApiJson(req): ApiJson<ChatTurnRequest>,
) -> ApiResult<Response> {
    let events = s.cp.chat(&p, &parse_id(&id)?, req).await?;
    Ok(turn_response(events, q.stream.unwrap_or(true)).await)
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/regenerate", tag = "sessions",
    params(("session_id" = String, Path), TurnQuery),
    responses((status = 200, body = ChatEvent, description = "as for chat"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn regenerate(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TurnQuery>,
) -> ApiResult<Response> {
    let events = s.cp.regenerate(&p, &parse_id(&id)?).await?;
    Ok(turn_response(events, q.stream.unwrap_or(true)).await)
}

/// Whether a stop found an answer to stop.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StopAnswerResponse {
    /// `true`: the running answer ends now and keeps the text generated so far.
    /// `false`: no answer of this session was running here (it had finished).
    pub stopped: bool,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/stop", tag = "sessions",
    params(("session_id" = String, Path)),
    responses((status = 200, body = StopAnswerResponse, description = "the running answer is stopped (the engine stops generating); its text so far is kept as complete"),
              (status = 404, body = ErrorBody)))]
pub async fn stop(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<StopAnswerResponse>> {
    let stopped = s.cp.stop_answer(&p, &parse_id(&id)?).await?;
    Ok(Json(StopAnswerResponse { stopped }))
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/fork", tag = "sessions", params(("session_id" = String, Path)),
    request_body = ForkSessionRequest, responses((status = 201, body = SessionWithInteractions), (status = 404, body = ErrorBody)))]
pub async fn fork(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ForkSessionRequest>,
) -> ApiResult<(StatusCode, Json<SessionWithInteractions>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.cp.fork_session(&p, &parse_id(&id)?, req).await?),
    ))
}
