//! `/api/v1/providers`: provider endpoints and their registered models.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{parse_id, ApiJson, Auth};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use helix_core::model::{Model, ProviderEndpoint};
use helix_core::ops::providers::{CreateModelRequest, CreateProviderEndpointRequest};

#[utoipa::path(get, path = "/api/v1/providers", tag = "providers",
    responses((status = 200, body = Vec<ProviderEndpoint>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<ProviderEndpoint>>> {
    Ok(Json(s.cp.list_provider_endpoints(&p).await?))
}

#[utoipa::path(post, path = "/api/v1/providers", tag = "providers", request_body = CreateProviderEndpointRequest,
    responses((status = 201, body = ProviderEndpoint), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateProviderEndpointRequest>,
) -> ApiResult<(StatusCode, Json<ProviderEndpoint>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.cp.create_provider_endpoint(&p, req).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/providers/{endpoint_id}", tag = "providers", params(("endpoint_id" = String, Path)),
    responses((status = 200, body = ProviderEndpoint), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ProviderEndpoint>> {
    Ok(Json(s.cp.get_provider_endpoint(&p, &parse_id(&id)?).await?))
}

#[utoipa::path(delete, path = "/api/v1/providers/{endpoint_id}", tag = "providers", params(("endpoint_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.cp.delete_provider_endpoint(&p, &parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/providers/{endpoint_id}/models", tag = "providers", params(("endpoint_id" = String, Path)),
    responses((status = 200, body = Vec<Model>), (status = 404, body = ErrorBody)))]
pub async fn models(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Model>>> {
    Ok(Json(s.cp.list_endpoint_models(&p, &parse_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/v1/providers/{endpoint_id}/models", tag = "providers", params(("endpoint_id" = String, Path)),
    request_body = CreateModelRequest,
    responses((status = 201, body = Model), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_model(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateModelRequest>,
) -> ApiResult<(StatusCode, Json<Model>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.cp.create_model(&p, &parse_id(&id)?, req).await?),
    ))
}
