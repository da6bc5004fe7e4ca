//! The one error type of helix-core, with stable machine-readable codes.
//!
//! User errors (bad input, missing permission, unknown ids) are kept apart from
//! internal ones (database, crypto, I/O): [`CoreError::is_internal`] tells which, so
//! hosts can log internal errors in full and show callers only a generic message.

/// Result alias used across helix-core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// A stable, machine-readable error code. Hosts map these to HTTP statuses, Python
/// exception classes and JS errors; the string form never changes once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A field failed validation.
    InvalidInput,
    /// An id was not well formed.
    InvalidId,
    /// The resource does not exist or the caller may not know it exists.
    NotFound,
    /// The resource already exists or the change conflicts with current state.
    Conflict,
    /// No credentials were presented.
    Unauthenticated,
    /// Credentials were presented but are wrong, revoked or unknown.
    InvalidCredentials,
    /// The login session has expired.
    SessionExpired,
    /// A cookie-authenticated state-changing request lacked a valid CSRF token.
    CsrfFailed,
    /// The caller is known but lacks permission.
    Forbidden,
    /// Self-registration is turned off on this instance.
    RegistrationDisabled,
    /// An OpenID Connect login failed (bad state, nonce, token or code).
    OidcFailed,
    /// A feature was used that this instance has not configured.
    NotConfigured,
    /// The model provider failed or answered with an error.
    UpstreamError,
    /// Too many requests or tokens per minute.
    RateLimited,
    /// The monthly token quota is used up.
    QuotaExceeded,
    /// No capacity to serve the call now (queue full, queue wait over, model failing).
    Unavailable,
    /// Something went wrong inside Helix.
    Internal,
}

impl ErrorCode {
    /// The stable string form, e.g. `"not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RegistrationDisabled => "registration_disabled",
            ErrorCode::OidcFailed => "oidc_failed",
            ErrorCode::NotConfigured => "not_configured",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error helix-core returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A field failed validation.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An id did not parse.
    #[error("invalid {kind} id {id:?}")]
    InvalidId {
        /// The kind of id expected, e.g. `"user"`.
        kind: &'static str,
        /// The text that was given.
        id: String,
    },
    /// The resource does not exist (or is hidden from the caller).
    #[error("{kind} {id} not found")]
    NotFound {
        /// The kind of resource, e.g. `"app"`.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A uniqueness or state conflict.
    #[error("{0}")]
    Conflict(String),
    /// No credentials were presented.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong, unknown, revoked or expired credentials.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The login session expired.
    #[error("session expired")]
    SessionExpired,
    /// Missing or wrong CSRF token.
    #[error("missing or invalid csrf token")]
    CsrfFailed,
    /// The caller lacks permission.
    #[error("{0}")]
    Forbidden(String),
    /// Self-registration is disabled.
    #[error("registration is disabled on this instance")]
    RegistrationDisabled,
    /// OpenID Connect login failed.
    #[error("sso login failed: {0}")]
    Oidc(String),
    /// A feature is not configured.
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
    /// The model provider failed or refused; `status` is its HTTP status, if any.
    #[error("upstream error: {message}")]
    Upstream {
        /// The upstream's HTTP status.
        status: Option<u16>,
        /// What it said (or why it could not be reached).
        message: String,
    },
    /// A rate limit was hit; retry after `retry_after_secs`.
    #[error("{what}: retry in {retry_after_secs} s")]
    RateLimited {
        /// Which limit.
        what: String,
        /// Seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// The monthly token quota is used up until `retry_after_secs` from now.
    #[error("monthly token quota of {quota} used up")]
    QuotaExceeded {
        /// The quota.
        quota: u64,
        /// Seconds until the quota renews.
        retry_after_secs: u64,
    },
    /// No capacity to serve the call now; the message says why.
    #[error("{0}")]
    Unavailable(String),
    /// Database failure.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Migration failure.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Anything else internal: crypto, I/O, configuration.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::InvalidInput { .. } => ErrorCode::InvalidInput,
            CoreError::InvalidId { .. } => ErrorCode::InvalidId,
            CoreError::NotFound { .. } => ErrorCode::NotFound,
            CoreError::Conflict(_) => ErrorCode::Conflict,
            CoreError::Unauthenticated => ErrorCode::Unauthenticated,
            CoreError::InvalidCredentials => ErrorCode::InvalidCredentials,
            CoreError::SessionExpired => ErrorCode::SessionExpired,
            CoreError::CsrfFailed => ErrorCode::CsrfFailed,
            CoreError::Forbidden(_) => ErrorCode::Forbidden,
            CoreError::RegistrationDisabled => ErrorCode::RegistrationDisabled,
            CoreError::Oidc(_) => ErrorCode::OidcFailed,
            CoreError::NotConfigured(_) => ErrorCode::NotConfigured,
            CoreError::Upstream { .. } => ErrorCode::UpstreamError,
            CoreError::RateLimited { .. } => ErrorCode::RateLimited,
            CoreError::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            CoreError::Unavailable(_) => ErrorCode::Unavailable,
            CoreError::Database(_) | CoreError::Migrate(_) | CoreError::Internal(_) => {
                ErrorCode::Internal
            }
        }
    }

    /// True for failures inside Helix (not the caller's fault).
    pub fn is_internal(&self) -> bool {
        self.code() == ErrorCode::Internal
    }

    /// For limits: seconds until a retry can succeed.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            CoreError::RateLimited {
                retry_after_secs, ..
            }
            | CoreError::QuotaExceeded {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// Shorthand for [`CoreError::InvalidInput`].
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CoreError::InvalidInput {
            field,
            message: message.into(),
        }
    }

    /// Shorthand for [`CoreError::NotFound`].
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        CoreError::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// Shorthand for [`CoreError::Internal`].
    pub fn internal(message: impl std::fmt::Display) -> Self {
        CoreError::Internal(message.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_internal_is_separate() {
        assert_eq!(
            CoreError::not_found("app", "app_1").code().as_str(),
            "not_found"
        );
        assert_eq!(
            CoreError::not_found("app", "app_1").to_string(),
            "app app_1 not found"
        );
        assert!(!CoreError::Forbidden("x".into()).is_internal());
        assert!(CoreError::internal("boom").is_internal());
        assert!(CoreError::Database(sqlx::Error::PoolClosed).is_internal());
    }
}
