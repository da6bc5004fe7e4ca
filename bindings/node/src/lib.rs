//! The native part of `@helix/sdk`: the Node face of `helix-client`. Thin: types are
//! converted (JSON values for what the server answers), async calls become Promises, and
//! errors carry the Helix error code for `index.js` to turn into its error classes.

#![deny(clippy::all)]

mod chat;
mod client;
mod local;
mod sandbox;
mod scheduler;

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

/// JS has one number type: napi hands integers above 2^31 over as floats (`2**34`
/// arrives as `17179869184.0`), which an integer field would refuse. Whole floats within
/// the safe-integer range become integers again.
fn whole_numbers(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    const SAFE: f64 = 9_007_199_254_740_991.0; // Number.MAX_SAFE_INTEGER
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() <= SAFE => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(whole_numbers).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, whole_numbers(v))).collect())
        }
        other => other,
    }
}

/// A JS argument as a Rust type, refused like the server refuses bad input.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    v: serde_json::Value,
) -> napi::Result<T> {
    serde_json::from_value(whole_numbers(v)).map_err(|e| {
        to_js(helix_client::Error::new(
            helix_client::INVALID_ARGUMENT,
            format!("{what}: {e}"),
        ))
    })
}
