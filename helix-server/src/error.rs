//! HTTP errors: every error leaves as `{"error": {"code", "message"}}` with a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use helix_core::{CoreError, ErrorCode};
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `malformed_json`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// Seconds to wait before retrying (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// The HTTP status for a core error code.
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidId | ErrorCode::OidcFailed => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound | ErrorCode::NotConfigured => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials | ErrorCode::SessionExpired => {
            StatusCode::UNAUTHORIZED
        }
        ErrorCode::CsrfFailed | ErrorCode::Forbidden | ErrorCode::RegistrationDisabled => {
            StatusCode::FORBIDDEN
        }
        ErrorCode::UpstreamError => StatusCode::BAD_GATEWAY,
        ErrorCode::RateLimited | ErrorCode::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let code = e.code();
        let message = if e.is_internal() {
            // The cause is logged in full; the caller learns only that it was ours.
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "internal error");
            "internal error".to_owned()
        } else {
            e.to_string()
        };
        ApiError {
            status: status_for(code),
            code: code.as_str(),
            message,
            retry_after: e.retry_after(),
        }
    }
}

impl From<helix_hydra::HydraError> for ApiError {
    fn from(e: helix_hydra::HydraError) -> Self {
        let code = e.code();
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, code, "sandbox host error");
            "internal error".to_owned()
        } else {
            e.to_string()
        };
        ApiError {
            status,
            code,
            message,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let headers = self.headers();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, headers, axum::Json(body)).into_response()
    }
}

impl ApiError {
    /// Headers that go with the error (`Retry-After` for limits).
    pub fn headers(&self) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        if let Some(secs) = self.retry_after {
            h.insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        h
    }
}

/// Stable codes for errors raised by the HTTP layer itself (no core error behind them).
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
