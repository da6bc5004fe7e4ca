//! Sandbox hosts: `GET /api/v1/sandbox-hosts/connect` (the WebSocket `helix sandbox-host`
//! dials in on, with a node token; spec in `docs/sandbox-host-protocol.md`) and
//! `GET /api/v1/sandbox-hosts` (site admins).

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Auth;
use crate::state::AppState;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use helix_core::{authz, CoreError};
use helix_hydra::remote::protocol::MAX_MESSAGE;
use helix_hydra::remote::{HostStatus, SandboxFleet};

fn fleet(s: &AppState) -> Result<SandboxFleet, ApiError> {
    s.fleet
        .clone()
        .ok_or_else(|| CoreError::NotConfigured("sandboxes").into())
}

#[utoipa::path(get, path = "/api/v1/sandbox-hosts/connect", tag = "sandbox-hosts",
    security(("runner_token" = [])),
    responses((status = 101, description = "WebSocket of the sandbox-host protocol (docs/sandbox-host-protocol.md)"),
              (status = 401, body = ErrorBody, description = "missing, unknown, revoked or expired node token")))]
pub async fn connect(
    State(s): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let fleet = fleet(&s)?;
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(CoreError::Unauthenticated)?;
    // Node tokens (`hxr-`, POST /api/v1/runner-tokens) identify machines: a GPU runner,
    // a sandbox host, or both.
    let node = s.cp.authenticate_runner(token.trim()).await?;
    let host_id = node.runner_id;
    Ok(upgrade
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let (rx, tx) = crate::sandbox_link::bridge(super::runners::frames(socket));
            fleet.serve_host(host_id, rx, tx).await;
        }))
}

#[utoipa::path(get, path = "/api/v1/sandbox-hosts", tag = "sandbox-hosts",
    responses((status = 200, body = Vec<HostStatus>, description = "the in-process host (`local`) and every connected host"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<HostStatus>>> {
    authz::require_site_admin(&p)?;
    Ok(Json(fleet(&s)?.hosts().await))
}
