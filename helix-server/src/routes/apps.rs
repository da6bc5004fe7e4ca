//! `/api/v1/apps`.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{parse_id, ApiJson, ApiQuery, Auth};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use helix_core::id::OrgId;
use helix_core::model::App;
use helix_core::ops::apps::{CreateAppRequest, UpdateAppRequest};
use serde::Deserialize;
use utoipa::IntoParams;

/// Filters for listing apps.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListAppsQuery {
    /// Only this org's apps (default: every org of the caller).
    pub org_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/apps", tag = "apps", params(ListAppsQuery),
    responses((status = 200, body = Vec<App>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<ListAppsQuery>,
) -> ApiResult<Json<Vec<App>>> {
    let org = q.org_id.as_deref().map(parse_id::<OrgId>).transpose()?;
    Ok(Json(s.cp.list_apps(&p, org.as_ref()).await?))
}

#[utoipa::path(post, path = "/api/v1/apps", tag = "apps", request_body = CreateAppRequest,
    responses((status = 201, body = App), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateAppRequest>,
) -> ApiResult<(StatusCode, Json<App>)> {
    Ok((StatusCode::CREATED, Json(s.cp.create_app(&p, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/apps/{app_id}", tag = "apps", params(("app_id" = String, Path)),
    responses((status = 200, body = App), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<App>> {
    Ok(Json(s.cp.get_app(&p, &parse_id(&id)?).await?))
}

#[utoipa::path(patch, path = "/api/v1/apps/{app_id}", tag = "apps", params(("app_id" = String, Path)),
    request_body = UpdateAppRequest,
    responses((status = 200, body = App), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateAppRequest>,
) -> ApiResult<Json<App>> {
    Ok(Json(s.cp.update_app(&p, &parse_id(&id)?, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/apps/{app_id}", tag = "apps", params(("app_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.cp.delete_app(&p, &parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
