//! `/api/v1/api-keys`.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{parse_id, ApiJson, Auth};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use helix_core::model::ApiKey;
use helix_core::ops::api_keys::{CreateApiKeyRequest, CreatedApiKey};

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys",
    responses((status = 200, body = Vec<ApiKey>), (status = 401, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<ApiKey>>> {
    Ok(Json(s.cp.list_api_keys(&p).await?))
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey, description = "the key is in `key`, shown only now"),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.cp.create_api_key(&p, req).await?),
    ))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{key_id}", tag = "api-keys", params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKey, description = "the revoked key"), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(s.cp.revoke_api_key(&p, &parse_id(&id)?).await?))
}
