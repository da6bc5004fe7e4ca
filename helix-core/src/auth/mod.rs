//! Authentication: who is calling.
//!
//! A request carries at most one of: an API key (`Authorization: Bearer hx-...` or
//! `x-api-key: hx-...`), or a login-session cookie. Hosts turn their request into
//! [`Credentials`] with [`Credentials::from_headers`] and hand them to
//! [`ControlPlane::authenticate`](crate::ControlPlane::authenticate); authorization
//! then goes through [`authz`](crate::authz) only.
//!
//! GPU runners are not users: they present a runner token (`hxr-...`) to
//! [`ControlPlane::authenticate_runner`](crate::ControlPlane::authenticate_runner) and
//! get a [`RunnerIdentity`], never a [`Principal`]. Neither kind of credential is
//! accepted in place of the other.

pub mod oidc;
pub mod password;
pub mod token;

use crate::id::{ApiKeyId, RunnerTokenId};
use crate::model::User;

/// Name of the HttpOnly login-session cookie.
pub const SESSION_COOKIE: &str = "helix_session";
/// Name of the readable cookie holding the CSRF token (double-submit pattern).
pub const CSRF_COOKIE: &str = "helix_csrf";
/// Header that must echo the CSRF token on state-changing cookie requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Header carrying an API key, as an alternative to `Authorization: Bearer`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// What a request presented to prove who it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The login-session cookie's token.
    pub session_token: Option<String>,
    /// An API key from `Authorization: Bearer` or `x-api-key`.
    pub api_key: Option<String>,
    /// The CSRF header's value.
    pub csrf_token: Option<String>,
    /// Whether the request changes state (anything but GET, HEAD, OPTIONS).
    pub state_changing: bool,
}

impl Credentials {
    /// Reads credentials from HTTP request parts.
    pub fn from_headers(method: &http::Method, headers: &http::HeaderMap) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let bearer = header(http::header::AUTHORIZATION.as_str()).and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
        Credentials {
            session_token: cookie(headers, SESSION_COOKIE),
            api_key: bearer.or_else(|| header(API_KEY_HEADER)),
            csrf_token: header(CSRF_HEADER),
            state_changing: !matches!(
                *method,
                http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
            ),
        }
    }
}

/// The value of cookie `name` from the request's `Cookie` headers.
pub fn cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// A login-session cookie (its token hash identifies the session).
    Session {
        /// SHA-256 of the session token.
        token_hash: String,
    },
    /// An API key.
    ApiKey {
        /// The key's id.
        key_id: ApiKeyId,
        /// The key's own limits.
        limits: crate::limits::Limits,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The user.
    pub user: User,
    /// How they authenticated.
    pub method: AuthMethod,
}

impl Principal {
    /// True for site administrators.
    pub fn is_admin(&self) -> bool {
        self.user.is_admin
    }
}

/// An authenticated GPU runner: which token it presented and the runner id that token
/// is bound to. It carries no user and no user permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerIdentity {
    /// The token the runner authenticated with.
    pub token_id: RunnerTokenId,
    /// The runner id the token is bound to.
    pub runner_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    #[test]
    fn reads_every_credential_kind() {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            HeaderValue::from_static("a=1; helix_session=tok; b=2"),
        );
        h.insert("x-csrf-token", HeaderValue::from_static("c"));
        let c = Credentials::from_headers(&Method::POST, &h);
        assert_eq!(c.session_token.as_deref(), Some("tok"));
        assert_eq!(c.csrf_token.as_deref(), Some("c"));
        assert!(c.state_changing);
        assert!(c.api_key.is_none());

        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer hx-abc"));
        let c = Credentials::from_headers(&Method::GET, &h);
        assert_eq!(c.api_key.as_deref(), Some("hx-abc"));
        assert!(!c.state_changing);

        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("hx-def"));
        h.insert("authorization", HeaderValue::from_static("Basic Zm9v"));
        let c = Credentials::from_headers(&Method::GET, &h);
        assert_eq!(c.api_key.as_deref(), Some("hx-def"));
    }
}
