//! [`HelixError`]: a `helix_client::Error` as foreign code sees it.

use helix_client::{CONNECTION_ERROR, INVALID_ARGUMENT, STREAM_ERROR};

/// A failed call. Every variant carries the same three fields:
///
/// - `code`: stable and machine-readable: the server's own error code when it answered
///   with one (`not_found`, `sandbox_not_found`, `invalid_request`, ...), else one of the
///   client's (`connection_error`, `invalid_response`, `stream_error`, `invalid_argument`,
///   `generation_failed`);
/// - `status`: the HTTP status, 0 when there was no answer;
/// - `message`: what went wrong, for people.
///
/// The variant is the kind, chosen as the Python and Node SDKs choose their exception
/// classes (docs/sdk.md). Kotlin sees `HelixException.NotFound`, Swift
/// `HelixError.NotFound`, Python `HelixError.NotFound`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum HelixError {
    /// The server could not be reached, or the connection broke (`connection_error`).
    #[error("{code}: {message}")]
    Connection {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// A streamed answer broke off (`stream_error`), or a generation failed
    /// (`generation_failed`).
    #[error("{code}: {message}")]
    Stream {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// The arguments were refused: by the client before any request
    /// (`invalid_argument`), or by the server (400, 413, 422).
    #[error("{code}: {message}")]
    InvalidRequest {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// No valid API key (401).
    #[error("{code}: {message}")]
    Authentication {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// The key may not do this (403).
    #[error("{code}: {message}")]
    PermissionDenied {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// No such thing, or not the caller's to see (404).
    #[error("{code}: {message}")]
    NotFound {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// The thing is not in a state that allows this (409), e.g. `sandbox_not_running`.
    #[error("{code}: {message}")]
    Conflict {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// Too many requests (429).
    #[error("{code}: {message}")]
    RateLimit {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// The server failed (5xx), or an upstream engine did.
    #[error("{code}: {message}")]
    Server {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// Anything else; see `code`.
    #[error("{code}: {message}")]
    Other {
        /// Stable error code.
        code: String,
        /// HTTP status; 0 when none.
        status: u16,
        /// What went wrong.
        message: String,
    },
}

impl From<helix_client::Error> for HelixError {
    fn from(e: helix_client::Error) -> Self {
        let (http, code, message) = (e.status, e.code, e.message);
        let status = http.unwrap_or(0);
        macro_rules! kind {
            ($variant:ident) => {
                HelixError::$variant {
                    code,
                    status,
                    message,
                }
            };
        }
        match (http, code.as_str()) {
            (_, CONNECTION_ERROR) => kind!(Connection),
            (_, STREAM_ERROR | "generation_failed") => kind!(Stream),
            (_, INVALID_ARGUMENT) | (Some(400 | 413 | 422), _) => kind!(InvalidRequest),
            (Some(401), _) => kind!(Authentication),
            (Some(403), _) => kind!(PermissionDenied),
            (Some(404), _) => kind!(NotFound),
            (Some(409), _) => kind!(Conflict),
            (Some(429), _) => kind!(RateLimit),
            (Some(500..), _) => kind!(Server),
            _ => kind!(Other),
        }
    }
}

/// An argument refused before any request (`invalid_argument`).
pub(crate) fn invalid(what: &str, e: impl std::fmt::Display) -> HelixError {
    helix_client::Error::new(INVALID_ARGUMENT, format!("{what}: {e}")).into()
}

/// This crate's result.
pub(crate) type Result<T, E = HelixError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: Option<u16>, code: &str) -> HelixError {
        HelixError::from(helix_client::Error {
            status,
            code: code.into(),
            message: "m".into(),
        })
    }

    #[test]
    fn kinds_follow_code_then_status() {
        let cases = [
            (None, CONNECTION_ERROR, "Connection"),
            (None, "generation_failed", "Stream"),
            (Some(200), STREAM_ERROR, "Stream"),
            (None, INVALID_ARGUMENT, "InvalidRequest"),
            (Some(422), "invalid_request", "InvalidRequest"),
            (Some(401), "unauthorized", "Authentication"),
            (Some(403), "forbidden", "PermissionDenied"),
            (Some(404), "sandbox_not_found", "NotFound"),
            (Some(409), "sandbox_not_running", "Conflict"),
            (Some(429), "rate_limited", "RateLimit"),
            (Some(502), "upstream_error", "Server"),
            (None, "invalid_response", "Other"),
        ];
        for (status, code, want) in cases {
            let e = kind(status, code);
            let got = format!("{e:?}");
            assert!(got.starts_with(want), "{status:?} {code}: {got}");
        }
    }

    #[test]
    fn fields_are_kept() {
        assert_eq!(
            kind(Some(404), "not_found"),
            HelixError::NotFound {
                code: "not_found".into(),
                status: 404,
                message: "m".into()
            }
        );
        assert_eq!(
            kind(None, CONNECTION_ERROR).to_string(),
            "connection_error: m"
        );
        let HelixError::Connection { status, .. } = kind(None, CONNECTION_ERROR) else {
            panic!("not a connection error")
        };
        assert_eq!(status, 0);
    }
}
