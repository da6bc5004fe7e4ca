//! `GET /api/v1/usage`.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiQuery, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use helix_core::model::UsageSummaryRow;
use helix_core::ops::usage::UsageQuery;

#[utoipa::path(get, path = "/api/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, body = Vec<UsageSummaryRow>, description = "calls, tokens and mean latency per day, model and API key"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn usage(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Json<Vec<UsageSummaryRow>>> {
    Ok(Json(s.cp.usage(&p, q).await?))
}
