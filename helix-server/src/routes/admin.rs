//! `/api/v1/admin/*`: instance administration (site admins).

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{parse_id, ApiJson, Auth};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use helix_core::model::User;
use helix_core::ops::accounts::{InstanceSettings, UpdateSettingsRequest};
use serde::Deserialize;
use utoipa::ToSchema;

/// Changes a user's site-admin flag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// Site administrator.
    pub is_admin: bool,
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)))]
pub async fn users(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(s.cp.list_users(&p).await?))
}

#[utoipa::path(patch, path = "/api/v1/admin/users/{user_id}", tag = "admin", params(("user_id" = String, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        s.cp.set_user_admin(&p, &parse_id(&id)?, req.is_admin)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/settings", tag = "admin",
    responses((status = 200, body = InstanceSettings), (status = 403, body = ErrorBody)))]
pub async fn settings(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<InstanceSettings>> {
    Ok(Json(s.cp.settings(&p).await?))
}

#[utoipa::path(patch, path = "/api/v1/admin/settings", tag = "admin", request_body = UpdateSettingsRequest,
    responses((status = 200, body = InstanceSettings), (status = 403, body = ErrorBody)))]
pub async fn update_settings(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<UpdateSettingsRequest>,
) -> ApiResult<Json<InstanceSettings>> {
    Ok(Json(s.cp.update_settings(&p, req).await?))
}
