//! `/api/v1/orgs` and members.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{parse_id, ApiJson, Auth};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use helix_core::id::{OrgId, UserId};
use helix_core::model::{Member, OrgWithRole};
use helix_core::ops::orgs::{
    AddMemberRequest, CreateOrgRequest, UpdateMemberRequest, UpdateOrgRequest,
};

#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs",
    responses((status = 200, body = Vec<OrgWithRole>), (status = 401, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<OrgWithRole>>> {
    Ok(Json(s.cp.list_orgs(&p).await?))
}

#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = CreateOrgRequest,
    responses((status = 201, body = OrgWithRole), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateOrgRequest>,
) -> ApiResult<(StatusCode, Json<OrgWithRole>)> {
    Ok((StatusCode::CREATED, Json(s.cp.create_org(&p, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org_id}", tag = "orgs", params(("org_id" = String, Path)),
    responses((status = 200, body = OrgWithRole), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<OrgWithRole>> {
    Ok(Json(s.cp.get_org(&p, &parse_id::<OrgId>(&id)?).await?))
}

#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}", tag = "orgs", params(("org_id" = String, Path)),
    request_body = UpdateOrgRequest,
    responses((status = 200, body = OrgWithRole), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateOrgRequest>,
) -> ApiResult<Json<OrgWithRole>> {
    Ok(Json(s.cp.update_org(&p, &parse_id(&id)?, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}", tag = "orgs", params(("org_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.cp.delete_org(&p, &parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/members", tag = "orgs", params(("org_id" = String, Path)),
    responses((status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(s.cp.list_members(&p, &parse_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/members", tag = "orgs", params(("org_id" = String, Path)),
    request_body = AddMemberRequest,
    responses((status = 201, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn add_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.cp.add_member(&p, &parse_id(&id)?, req).await?),
    ))
}

#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/members/{user_id}", tag = "orgs",
    params(("org_id" = String, Path), ("user_id" = String, Path)), request_body = UpdateMemberRequest,
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn update_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((org, user)): Path<(String, String)>,
    ApiJson(req): ApiJson<UpdateMemberRequest>,
) -> ApiResult<Json<Member>> {
    Ok(Json(
        s.cp.update_member(&p, &parse_id(&org)?, &parse_id::<UserId>(&user)?, req)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/members/{user_id}", tag = "orgs",
    params(("org_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.cp.remove_member(&p, &parse_id(&org)?, &parse_id(&user)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
