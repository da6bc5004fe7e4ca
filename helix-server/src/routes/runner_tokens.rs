//! `/api/v1/runner-tokens`: credentials for GPU runners (site admins).

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{parse_id, ApiJson, Auth};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use helix_core::model::RunnerToken;
use helix_core::ops::runner_tokens::{CreateRunnerTokenRequest, CreatedRunnerToken};

#[utoipa::path(get, path = "/api/v1/runner-tokens", tag = "runner-tokens",
    responses((status = 200, body = Vec<RunnerToken>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<RunnerToken>>> {
    Ok(Json(s.cp.list_runner_tokens(&p).await?))
}

#[utoipa::path(post, path = "/api/v1/runner-tokens", tag = "runner-tokens", request_body = CreateRunnerTokenRequest,
    responses((status = 201, body = CreatedRunnerToken, description = "the secret is in `token`, shown only now"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateRunnerTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedRunnerToken>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.cp.create_runner_token(&p, req).await?),
    ))
}

#[utoipa::path(delete, path = "/api/v1/runner-tokens/{token_id}", tag = "runner-tokens", params(("token_id" = String, Path)),
    responses((status = 204, description = "revoked (revoking again changes nothing)"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.cp.revoke_runner_token(&p, &parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
