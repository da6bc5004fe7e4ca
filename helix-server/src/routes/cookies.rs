//! Set-Cookie headers for login sessions and SSO state.

use crate::state::HttpSettings;
use axum::http::HeaderValue;
use helix_core::auth::{CSRF_COOKIE, SESSION_COOKIE};

/// Cookie carrying the OIDC `state` between login and callback.
pub const OIDC_STATE_COOKIE: &str = "helix_oidc_state";
const OIDC_COOKIE_PATH: &str = "/api/v1/auth/oidc";

fn cookie(
    http: &HttpSettings,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    http_only: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; Max-Age={max_age}; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if http.secure_cookies() {
        c.push_str("; Secure");
    }
    // Tokens are base64url and names are fixed, so this is always a valid header.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session cookie (HttpOnly) and the CSRF cookie (readable by the web UI).
pub fn login(http: &HttpSettings, session: &str, csrf: &str, max_age: i64) -> [HeaderValue; 2] {
    [
        cookie(http, SESSION_COOKIE, session, "/", max_age, true),
        cookie(http, CSRF_COOKIE, csrf, "/", max_age, false),
    ]
}

/// Clears both login cookies.
pub fn logout(http: &HttpSettings) -> [HeaderValue; 2] {
    [
        cookie(http, SESSION_COOKIE, "", "/", 0, true),
        cookie(http, CSRF_COOKIE, "", "/", 0, false),
    ]
}

/// Binds an SSO login's state to this browser for ten minutes.
pub fn oidc_state(http: &HttpSettings, state: &str) -> HeaderValue {
    cookie(http, OIDC_STATE_COOKIE, state, OIDC_COOKIE_PATH, 600, true)
}

/// Why the last SSO attempt failed, for the sign-in page to show once. Scripts may read
/// it (the page clears it). It holds Helix's own message, never text from the request
/// (a provider's error is named only when it is one of the standard codes), so a
/// crafted link cannot put words on the sign-in page.
pub const SSO_ERROR_COOKIE: &str = "helix_sso_error";

/// The SSO failure cookie: the message, percent-encoded, for a minute.
pub fn sso_error(http: &HttpSettings, message: &str) -> HeaderValue {
    let value: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    cookie(http, SSO_ERROR_COOKIE, &value, "/", 60, false)
}

/// Clears the SSO state cookie.
pub fn clear_oidc_state(http: &HttpSettings) -> HeaderValue {
    cookie(http, OIDC_STATE_COOKIE, "", OIDC_COOKIE_PATH, 0, true)
}
