//! The router: every route, its OpenAPI description, and the middleware stack.

mod admin;
mod anthropic;
mod api_keys;
mod apps;
mod auth;
mod cookies;
mod desktops;
pub(crate) use desktops::adapt as desktop_socket;
mod health;
mod openai;
mod orgs;
mod providers;
mod runner_tokens;
mod runners;
mod sandbox_hosts;
mod sandboxes;
mod sessions;
mod sse;
mod usage;
pub(crate) mod web;
mod ws;

use crate::error::{code_for_status, ApiError, ErrorBody, ErrorDetail};
use crate::metrics;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Helix API", description = "Helix control plane: /api/v1 REST API."),
    components(schemas(ErrorBody, ErrorDetail)),
    tags((name = "auth"), (name = "users"), (name = "orgs"), (name = "api-keys"), (name = "apps"),
         (name = "admin"), (name = "health"), (name = "providers"), (name = "usage"), (name = "sessions"),
         (name = "runner-tokens", description = "Credentials GPU runners dial in with"),
         (name = "runners", description = "GPU runners and the scheduler"),
         (name = "desktops", description = "Desktops streamed to the browser (docs/stream-protocol.md)"),
         (name = "openai", description = "OpenAI-compatible API"))
)]
struct ApiDoc;

/// Every documented route, with its OpenAPI description.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(auth::config))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::oidc_login))
        .routes(routes!(auth::oidc_callback))
        .routes(routes!(auth::me))
        .routes(routes!(desktops::list))
        .routes(routes!(desktops::get))
        .routes(routes!(desktops::stream))
        .routes(routes!(orgs::list, orgs::create))
        .routes(routes!(orgs::get, orgs::update, orgs::delete))
        .routes(routes!(orgs::members, orgs::add_member))
        .routes(routes!(orgs::update_member, orgs::remove_member))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(apps::list, apps::create))
        .routes(routes!(apps::get, apps::update, apps::delete))
        .routes(routes!(admin::users))
        .routes(routes!(admin::update_user))
        .routes(routes!(admin::settings, admin::update_settings))
        .routes(routes!(runner_tokens::list, runner_tokens::create))
        .routes(routes!(runner_tokens::revoke))
        .routes(routes!(providers::list, providers::create))
        .routes(routes!(providers::get, providers::delete))
        .routes(routes!(providers::models, providers::add_model))
        .routes(routes!(openai::chat_completions))
        .routes(routes!(openai::embeddings))
        .routes(routes!(openai::models))
        .routes(routes!(anthropic::messages))
        .routes(routes!(usage::usage))
        .routes(routes!(sessions::list, sessions::create))
        .routes(routes!(sessions::get, sessions::rename, sessions::delete))
        .routes(routes!(sessions::chat))
        .routes(routes!(sessions::regenerate))
        .routes(routes!(sessions::stop))
        .routes(routes!(sessions::fork))
        .routes(routes!(ws::ws))
        .routes(routes!(runners::connect))
        .routes(routes!(runners::scheduler))
        .routes(routes!(sandbox_hosts::connect))
        .routes(routes!(sandbox_hosts::list))
        .routes(routes!(sandboxes::list, sandboxes::create))
        .routes(routes!(sandboxes::get, sandboxes::kill))
        .routes(routes!(sandboxes::set_timeout))
        .routes(routes!(sandboxes::exec))
        .routes(routes!(sandboxes::read_file, sandboxes::write_file))
        .routes(routes!(sandboxes::list_dir))
        .routes(routes!(sandboxes::logs))
        .route(
            "/api/v1/sandboxes/{sandbox_id}/ports/{port}/{*path}",
            axum::routing::any(sandboxes::proxy),
        )
        .route(
            "/api/v1/sandboxes/{sandbox_id}/ports/{port}/",
            axum::routing::any(sandboxes::proxy),
        )
}

/// The OpenAPI document of the API, generated from the route annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    unique_operation_ids(api_router().split_for_parts().1)
}

/// Operation ids are the handlers' names (`list`, `create`, ...), which repeat across
/// modules; clients generated from the document need them unique: `{tag}_{name}`.
fn unique_operation_ids(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut seen = std::collections::HashSet::new();
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let tag = op
                .tags
                .as_ref()
                .and_then(|t| t.first())
                .map(|t| t.replace('-', "_"))
                .unwrap_or_default();
            let name = op.operation_id.clone().unwrap_or_default();
            let mut id = if tag.is_empty() || name.starts_with(&format!("{tag}_")) {
                name
            } else {
                format!("{tag}_{name}")
            };
            while !seen.insert(id.clone()) {
                id.push('_');
            }
            op.operation_id = Some(id);
        }
    }
    doc
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_router().split_for_parts();
    let doc = unique_operation_ids(doc);
    let doc_json = serde_json::to_string_pretty(&doc).unwrap_or_default();
    let api = api
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc_json) }),
        )
        .route("/metrics", get(metrics::serve_metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(web::fallback)
        .method_not_allowed_fallback(method_not_allowed);
    with_middleware(api, &state.http).with_state(state)
}

/// The middleware every route runs under, outermost last: request ids, tracing, the
/// JSON error shape, timeout, body limits, panic catching.
fn with_middleware<S: Clone + Send + Sync + 'static>(
    r: Router<S>,
    http: &crate::HttpSettings,
) -> Router<S> {
    r.layer(DefaultBodyLimit::max(http.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(RequestBodyLimitLayer::new(http.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, http.request_timeout))
        // Outside every layer that can answer on its own, so all errors get the JSON shape.
        .layer(middleware::from_fn(json_errors))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
    .into_response()
}

/// Gives every error that some layer produced without a JSON body (timeouts, body
/// limits, ...) the standard error shape, so clients always get a stable code.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let body = Json(ErrorBody {
        error: ErrorDetail {
            code: code_for_status(status).into(),
            message,
        },
    });
    let bytes = serde_json::to_vec(&body.0).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn send(
        app: Router,
        path: &str,
    ) -> (StatusCode, serde_json::Value, axum::http::HeaderMap) {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), headers)
    }

    #[tokio::test]
    async fn panics_and_timeouts_become_json_errors() {
        let http = crate::HttpSettings {
            request_timeout: std::time::Duration::from_millis(50),
            ..Default::default()
        };
        let app = with_middleware(
            Router::new()
                .route(
                    "/panic",
                    get(|| async {
                        panic!("handler bug");
                        #[allow(unreachable_code)]
                        "never"
                    }),
                )
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                        "late"
                    }),
                ),
            &http,
        );
        let (status, body, headers) = send(app.clone(), "/panic").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert!(
            !body.to_string().contains("handler bug"),
            "panic text must not reach the client"
        );
        assert!(headers.contains_key("x-request-id"));
        let (status, body, _) = send(app, "/slow").await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body["error"]["code"], "timeout");
    }
}
