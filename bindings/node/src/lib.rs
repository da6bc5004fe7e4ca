//! The native part of `@helix/sdk`: the Node face of `helix-client`. Thin: types are
//! converted (JSON values for what the server answers), async calls become Promises, and
//! errors carry the Helix error code for `index.js` to turn into its error classes.

#![deny(clippy::all)]

mod chat;
mod client;
mod sandbox;

/// A Helix error as a JS error: the reason is `{"code", "status", "message"}` as JSON,
/// which `index.js` turns into a `HelixError` subclass with those fields.
pub(crate) fn to_js(e: helix_client::Error) -> napi::Error {
    let detail = serde_json::json!({"code": e.code, "status": e.status, "message": e.message});
    napi::Error::new(napi::Status::GenericFailure, detail.to_string())
}

/// A value as JSON for JS.
pub(crate) fn json<T: serde::Serialize>(v: T) -> napi::Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| napi::Error::from_reason(e.to_string()))
}

/// A JS argument as a Rust type, refused like the server refuses bad input.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    v: serde_json::Value,
) -> napi::Result<T> {
    serde_json::from_value(v).map_err(|e| {
        to_js(helix_client::Error::new(
            helix_client::INVALID_ARGUMENT,
            format!("{what}: {e}"),
        ))
    })
}
