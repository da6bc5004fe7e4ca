//! Errors: every failure carries a stable `code`, the server's own when it answered.

/// A failed call.
///
/// `code` is stable and machine-readable: the server's error code when it answered with
/// one (`session_not_found`, `invalid_request`, `sandbox_not_running`, ...), otherwise one
/// of this crate's: [`CONNECTION_ERROR`], [`INVALID_RESPONSE`], [`STREAM_ERROR`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// HTTP status of the answer, when there was one.
    pub status: Option<u16>,
    /// Stable error code.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// The server could not be reached, or the connection broke.
pub const CONNECTION_ERROR: &str = "connection_error";
/// The server answered with something this client does not understand.
pub const INVALID_RESPONSE: &str = "invalid_response";
/// A stream ended before its last event.
pub const STREAM_ERROR: &str = "stream_error";
/// An argument was refused before any request was made.
pub const INVALID_ARGUMENT: &str = "invalid_argument";

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with no HTTP status.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            status: None,
            code: code.into(),
            message: message.into(),
        }
    }

    /// Whether the server said the thing asked about does not exist (or is not the
    /// caller's to see: Helix answers both the same way).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    pub(crate) fn transport(e: reqwest::Error) -> Self {
        let code = if e.is_decode() {
            INVALID_RESPONSE
        } else {
            CONNECTION_ERROR
        };
        // reqwest's own message is generic ("error sending request"); the causes say why.
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Error::new(code, message)
    }

    /// The error of a non-2xx answer: the server's `{"error": {"code", "message"}}`, or a
    /// code made from the status when the body is not that.
    pub(crate) async fn from_response(resp: reqwest::Response) -> Self {
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        Self::from_body(status.as_u16(), &body)
    }

    pub(crate) fn from_body(status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            error: Detail,
        }
        #[derive(serde::Deserialize)]
        struct Detail {
            code: String,
            message: String,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(b) => Error {
                status: Some(status),
                code: b.error.code,
                message: b.error.message,
            },
            Err(_) => Error {
                status: Some(status),
                code: format!("http_{status}"),
                message: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_keep_their_code() {
        let e = Error::from_body(
            404,
            br#"{"error":{"code":"session_not_found","message":"no such session"}}"#,
        );
        assert_eq!(e.code, "session_not_found");
        assert_eq!(e.status, Some(404));
        assert!(e.is_not_found());
        assert_eq!(e.to_string(), "session_not_found: no such session");
    }

    #[test]
    fn other_bodies_get_a_status_code() {
        let e = Error::from_body(502, b"<html>bad gateway</html>");
        assert_eq!(e.code, "http_502");
        assert_eq!(e.message, "<html>bad gateway</html>");
        assert!(!e.is_not_found());
    }
}
