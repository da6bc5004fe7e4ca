//! `/api/v1/sandboxes`: isolated sandboxes (a dockerd per sandbox) for agents and CI jobs.
//!
//! The shape follows E2B-style SDKs: create, `exec` (`commands.run`) streamed as NDJSON,
//! files, a port exposed through the control plane (`get_host(port)`), logs, timeout and
//! kill. Every call is checked by [`helix_hydra::SandboxService`]: a sandbox is its
//! creator's (and site admins'); to anyone else it does not exist.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use helix_hydra::{
    ExecEvent, ExecSpec, FileEntry, SandboxId, SandboxInfo, SandboxService, SandboxSpec,
};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

fn service(s: &AppState) -> ApiResult<Arc<SandboxService>> {
    s.sandboxes.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            "sandboxes are not configured on this server (helix serve --sandboxes on)",
        )
    })
}

fn sandbox_id(raw: &str) -> ApiResult<SandboxId> {
    SandboxId::parse(raw).map_err(ApiError::from)
}

#[utoipa::path(post, path = "/api/v1/sandboxes", tag = "sandboxes", request_body = SandboxSpec,
    responses((status = 201, body = SandboxInfo, description = "running; a command can be run at once"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "image_not_found"),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody, description = "at_capacity")))]
pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(spec): ApiJson<SandboxSpec>,
) -> ApiResult<(StatusCode, Json<SandboxInfo>)> {
    let info = service(&s)?.create(&p, spec).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

#[utoipa::path(get, path = "/api/v1/sandboxes", tag = "sandboxes",
    responses((status = 200, body = Vec<SandboxInfo>, description = "the caller's sandboxes (all of them for site admins)"),
              (status = 401, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<SandboxInfo>>> {
    Ok(Json(service(&s)?.list(&p).await?))
}

#[utoipa::path(get, path = "/api/v1/sandboxes/{sandbox_id}", tag = "sandboxes", params(("sandbox_id" = String, Path)),
    responses((status = 200, body = SandboxInfo), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SandboxInfo>> {
    Ok(Json(service(&s)?.get(&p, &sandbox_id(&id)?).await?))
}

#[utoipa::path(delete, path = "/api/v1/sandboxes/{sandbox_id}", tag = "sandboxes", params(("sandbox_id" = String, Path)),
    responses((status = 204, description = "killed; everything it had is removed"), (status = 404, body = ErrorBody)))]
pub async fn kill(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service(&s)?.kill(&p, &sandbox_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new lifetime, counted from now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTimeout {
    /// Seconds from now until the sandbox is killed.
    pub timeout: f64,
}

#[utoipa::path(post, path = "/api/v1/sandboxes/{sandbox_id}/timeout", tag = "sandboxes",
    params(("sandbox_id" = String, Path)), request_body = SetTimeout,
    responses((status = 200, body = SandboxInfo), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_timeout(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SetTimeout>,
) -> ApiResult<Json<SandboxInfo>> {
    if !(req.timeout.is_finite() && req.timeout > 0.0 && req.timeout < 1e9) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "timeout must be a positive number of seconds",
        ));
    }
    let t = std::time::Duration::from_secs_f64(req.timeout);
    Ok(Json(
        service(&s)?.set_timeout(&p, &sandbox_id(&id)?, t).await?,
    ))
}

fn ndjson_line<T: serde::Serialize>(v: &T) -> Bytes {
    let mut line = serde_json::to_vec(v).expect("events serialise");
    line.push(b'\n');
    Bytes::from(line)
}

#[utoipa::path(post, path = "/api/v1/sandboxes/{sandbox_id}/exec", tag = "sandboxes",
    params(("sandbox_id" = String, Path)), request_body = ExecSpec,
    responses((status = 200, content_type = "application/x-ndjson", body = ExecEvent,
               description = "one ExecEvent per line as output comes; `exit` is last. A failure after the \
                              stream started is a line {\"type\":\"error\",\"code\",\"message\"}"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "sandbox_not_running"),
              (status = 422, body = ErrorBody)))]
pub async fn exec(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<ExecSpec>,
) -> ApiResult<Response> {
    let id = sandbox_id(&id)?;
    let span = tracing::info_span!("sandbox_exec", sandbox = %id);
    let stream = service(&s)?.exec(&p, &id, spec).await?;
    let body = stream.map(move |ev| {
        let _g = span.enter();
        Ok::<_, std::convert::Infallible>(match ev {
            Ok(ev) => ndjson_line(&ev),
            Err(e) => {
                let e = ApiError::from(e);
                ndjson_line(
                    &serde_json::json!({"type": "error", "code": e.code, "message": e.message}),
                )
            }
        })
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// A path inside the sandbox.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PathQuery {
    /// Absolute path; `..` is refused.
    pub path: String,
}

#[utoipa::path(get, path = "/api/v1/sandboxes/{sandbox_id}/files", tag = "sandboxes",
    params(("sandbox_id" = String, Path), PathQuery),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = ErrorBody, description = "sandbox_not_found or file_not_found"),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn read_file(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Response> {
    let data = service(&s)?
        .read_file(&p, &sandbox_id(&id)?, &q.path)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response())
}

#[utoipa::path(put, path = "/api/v1/sandboxes/{sandbox_id}/files", tag = "sandboxes",
    params(("sandbox_id" = String, Path), PathQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204, description = "written (parents created, an existing file replaced)"),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn write_file(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    service(&s)?
        .write_file(&p, &sandbox_id(&id)?, &q.path, body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/sandboxes/{sandbox_id}/dir", tag = "sandboxes",
    params(("sandbox_id" = String, Path), PathQuery),
    responses((status = 200, body = Vec<FileEntry>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_dir(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Json<Vec<FileEntry>>> {
    Ok(Json(
        service(&s)?
            .list_dir(&p, &sandbox_id(&id)?, &q.path)
            .await?,
    ))
}

/// Log options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Keep the response open and stream new output.
    #[serde(default)]
    pub follow: bool,
}

#[utoipa::path(get, path = "/api/v1/sandboxes/{sandbox_id}/logs", tag = "sandboxes",
    params(("sandbox_id" = String, Path), LogsQuery),
    responses((status = 200, content_type = "text/plain", body = String,
               description = "the workspace's stdout and stderr, interleaved"),
              (status = 404, body = ErrorBody)))]
pub async fn logs(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> ApiResult<Response> {
    let stream = service(&s)?.logs(&p, &sandbox_id(&id)?, q.follow).await?;
    let body = stream.filter_map(|ev| async move {
        match ev {
            Ok(ExecEvent::Stdout { data } | ExecEvent::Stderr { data }) => {
                Some(Ok::<_, std::io::Error>(data))
            }
            Ok(ExecEvent::Exit { .. }) => None,
            Err(e) => Some(Err(std::io::Error::other(e.to_string()))),
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response())
}

fn forwardable(name: &HeaderName) -> bool {
    helix_hydra::relay::request_header_passes(name.as_str())
}

/// `ANY /api/v1/sandboxes/{id}/ports/{port}/{*path}`: an HTTP request relayed to a port
/// the sandbox listens on (its workspace or a container's published port), with the
/// caller's Helix credentials stripped; the answer carries `Content-Security-Policy:
/// sandbox` (an opaque origin) and no `Set-Cookie`. Not in the OpenAPI document.
pub async fn proxy(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(params): Path<Vec<(String, String)>>,
    req: Request,
) -> ApiResult<Response> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let id = sandbox_id(&get("sandbox_id").unwrap_or_default())?;
    let port: u16 = get("port")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "port must be 1-65535",
            )
        })?;
    // The rest of the path as the caller sent it (still percent-encoded), not the
    // decoded `{*path}`: an encoded `?`, `#`, `/` or space must reach the sandbox as is.
    let raw = req.uri().path().to_owned();
    let marker = format!("/ports/{port}/");
    let rest = match raw.find(&marker) {
        Some(i) => raw[i + marker.len()..].to_owned(),
        None => get("path").unwrap_or_default(),
    };
    let service = service(&s)?;
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let target = match service.port_target(&p, &id, port).await {
        Ok(t) => t,
        // A sandbox on a remote host: one buffered exchange through its link.
        Err(e) if e.code() == "unsupported" => {
            return relay_buffered(&service, &p, &id, port, format!("/{rest}{query}"), req).await;
        }
        Err(e) => return Err(e.into()),
    };
    let url = format!("http://{target}/{rest}{query}");
    let (parts, body) = req.into_parts();
    let client = sandbox_client();
    let mut out = client.request(parts.method.clone(), &url);
    for (name, value) in parts.headers.iter() {
        if forwardable(name) {
            out = out.header(name, value);
        }
    }
    let body = reqwest::Body::wrap_stream(body.into_data_stream());
    let resp = out.body(body).send().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("sandbox port {port} did not answer: {}", e.without_url()),
        )
    })?;
    let headers = answer_headers(resp.headers().iter().map(|(k, v)| (k.clone(), v.clone())));
    let status = resp.status();
    Ok((status, headers, Body::from_stream(resp.bytes_stream())).into_response())
}

/// The headers of a sandbox's answer as the viewer gets them.
fn answer_headers(from: impl Iterator<Item = (HeaderName, axum::http::HeaderValue)>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in from {
        // A sandbox sets nothing that acts on the Helix origin itself.
        if helix_hydra::relay::answer_header_passes(name.as_str()) {
            headers.append(name, value);
        }
    }
    // What a sandbox serves runs in an opaque origin: its scripts cannot read Helix's
    // cookies or call the API as the viewer.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(helix_hydra::relay::ANSWER_CSP),
    );
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        axum::http::HeaderValue::from_static("nosniff"),
    );
    headers
}

async fn relay_buffered(
    service: &SandboxService,
    p: &helix_core::auth::Principal,
    id: &SandboxId,
    port: u16,
    path: String,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, helix_hydra::relay::MAX_BODY)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "a request to a sandbox on a remote host is at most 16 MiB",
            )
        })?;
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| forwardable(k))
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let exchange = helix_hydra::relay::HttpExchange {
        method: parts.method.as_str().to_owned(),
        path,
        headers,
        body: body.to_vec(),
    };
    let answer = service.http(p, id, port, exchange).await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let pairs = answer.headers.into_iter().filter_map(|(k, v)| {
        Some((
            HeaderName::from_bytes(k.as_bytes()).ok()?,
            axum::http::HeaderValue::from_str(&v).ok()?,
        ))
    });
    Ok((status, answer_headers(pairs), answer.body).into_response())
}

fn sandbox_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    // Straight to the sandbox: never through the egress proxy.
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("http client")
    })
}
