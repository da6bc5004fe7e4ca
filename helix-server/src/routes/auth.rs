//! `/api/v1/auth/*` and `/api/v1/users/me`.

use super::cookies;
use crate::client_addr::ClientAddr;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use helix_core::auth::AuthMethod;
use helix_core::model::{OrgWithRole, User};
use helix_core::ops::accounts::{LoginOutcome, LoginRequest, RegisterRequest};
use helix_core::ops::sso::OidcCallback;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What a client needs to know before signing in.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthConfig {
    /// Whether self-registration is open.
    pub registration_enabled: bool,
    /// Whether "Sign in with SSO" is available.
    pub oidc_enabled: bool,
}

/// A successful login. The session itself travels in an HttpOnly cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The user.
    pub user: User,
    /// Echo this in `x-csrf-token` on state-changing requests.
    pub csrf_token: String,
    /// When the session expires.
    pub expires_at: DateTime<Utc>,
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user.
    pub user: User,
    /// Their orgs and roles.
    pub orgs: Vec<OrgWithRole>,
    /// `session` or `api_key`.
    pub auth: String,
}

#[utoipa::path(get, path = "/api/v1/auth/config", tag = "auth",
    responses((status = 200, body = AuthConfig)))]
pub async fn config(State(s): State<AppState>) -> ApiResult<Json<AuthConfig>> {
    Ok(Json(AuthConfig {
        registration_enabled: s.cp.registration_open().await?,
        oidc_enabled: s.cp.oidc_enabled(),
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register(
    State(s): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.cp.register_from(req, client).await?),
    ))
}

fn login_response(s: &AppState, out: LoginOutcome) -> Response {
    let max_age = s.cp.session_ttl().num_seconds();
    let mut headers = HeaderMap::new();
    for c in cookies::login(&s.http, &out.session_token, &out.csrf_token, max_age) {
        headers.append(header::SET_COOKIE, c);
    }
    let body = LoginResponse {
        user: out.user,
        csrf_token: out.csrf_token,
        expires_at: out.expires_at,
    };
    (headers, Json(body)).into_response()
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody, description = "too many sign-in attempts from this address, or failed ones for this email; `Retry-After` says when to try again")))]
pub async fn login(
    State(s): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let out = s.cp.login_from(req, client).await?;
    Ok(login_response(&s, out))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    s.cp.logout(&p).await?;
    let mut headers = HeaderMap::new();
    for c in cookies::logout(&s.http) {
        headers.append(header::SET_COOKIE, c);
    }
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Me>> {
    let orgs = s.cp.list_orgs(&p).await?;
    let auth = match p.method {
        AuthMethod::ApiKey { .. } => "api_key",
        _ => "session",
    };
    Ok(Json(Me {
        user: p.user,
        orgs,
        auth: auth.into(),
    }))
}

/// Where to go after an SSO login.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OidcLoginQuery {
    /// A local path to return to (default `/`).
    pub return_to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/auth/oidc/login", tag = "auth", params(OidcLoginQuery),
    responses((status = 303, description = "redirect to the identity provider"), (status = 404, body = ErrorBody)))]
pub async fn oidc_login(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<OidcLoginQuery>,
) -> ApiResult<Response> {
    let redirect = s.cp.oidc_begin(q.return_to.as_deref()).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        cookies::oidc_state(&s.http, &redirect.state),
    );
    headers.insert(
        header::LOCATION,
        redirect
            .url
            .parse()
            .map_err(|_| helix_core::CoreError::internal("bad authorization url"))?,
    );
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}

/// What the identity provider sends back.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OidcCallbackQuery {
    /// Authorization code.
    pub code: Option<String>,
    /// The state from the login.
    pub state: Option<String>,
    /// Set when the provider refused.
    pub error: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/auth/oidc/callback", tag = "auth", params(OidcCallbackQuery),
    responses((status = 303, description = "signed in; redirect into the app"), (status = 400, body = ErrorBody)))]
pub async fn oidc_callback(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<OidcCallbackQuery>,
) -> ApiResult<Response> {
    let cb = OidcCallback {
        code: q.code,
        state: q.state,
        error: q.error,
        cookie_state: helix_core::auth::cookie(&headers, cookies::OIDC_STATE_COOKIE),
    };
    let wants_page = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let (out, return_to) = match s.cp.oidc_complete(cb).await {
        Ok(done) => done,
        // A person in a browser goes back to the sign-in page, which says what failed;
        // API clients get the JSON error.
        Err(e) if wants_page && !e.is_internal() => {
            tracing::info!(error = %e, "sso login failed");
            let mut h = HeaderMap::new();
            h.append(header::SET_COOKIE, cookies::clear_oidc_state(&s.http));
            h.append(
                header::SET_COOKIE,
                cookies::sso_error(&s.http, &e.to_string()),
            );
            h.insert(header::LOCATION, HeaderValue::from_static("/login"));
            return Ok((StatusCode::SEE_OTHER, h).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let mut resp = login_response(&s, out);
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let h = resp.headers_mut();
    h.append(header::SET_COOKIE, cookies::clear_oidc_state(&s.http));
    h.insert(
        header::LOCATION,
        return_to
            .parse()
            .map_err(|_| helix_core::CoreError::internal("bad return path"))?,
    );
    Ok(resp)
}
