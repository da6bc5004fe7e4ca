//! Helix errors as Python exceptions: one class per kind, each with `code`, `status` and
//! `message` attributes. The classes live here so the mapping is the same everywhere.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    helix._native,
    HelixError,
    PyException,
    "Any Helix failure; see `code`."
);
create_exception!(
    helix._native,
    ConnectionError,
    HelixError,
    "The server could not be reached, or the connection broke."
);
create_exception!(
    helix._native,
    InvalidRequestError,
    HelixError,
    "The server (or the SDK) refused the arguments: 400/422, `invalid_argument`."
);
create_exception!(
    helix._native,
    AuthenticationError,
    HelixError,
    "No valid API key (401)."
);
create_exception!(
    helix._native,
    PermissionDeniedError,
    HelixError,
    "The key may not do this (403)."
);
create_exception!(
    helix._native,
    NotFoundError,
    HelixError,
    "No such thing, or not the caller's to see (404)."
);
create_exception!(
    helix._native,
    ConflictError,
    HelixError,
    "The thing is not in a state that allows this (409), e.g. `sandbox_not_running`."
);
create_exception!(
    helix._native,
    RateLimitError,
    HelixError,
    "Too many requests (429)."
);
create_exception!(
    helix._native,
    ServerError,
    HelixError,
    "The server failed (5xx), or an upstream engine did."
);
create_exception!(
    helix._native,
    StreamError,
    HelixError,
    "A streamed answer broke off, or a generation failed."
);

/// The exception for a client error, with its attributes set.
pub fn to_py(e: helix_client::Error) -> PyErr {
    let err = match (e.status, e.code.as_str()) {
        (_, helix_client::CONNECTION_ERROR) => ConnectionError::new_err(e.message.clone()),
        (_, helix_client::STREAM_ERROR | "generation_failed") => {
            StreamError::new_err(e.message.clone())
        }
        (_, helix_client::INVALID_ARGUMENT) | (Some(400 | 413 | 422), _) => {
            InvalidRequestError::new_err(e.message.clone())
        }
        (Some(401), _) => AuthenticationError::new_err(e.message.clone()),
        (Some(403), _) => PermissionDeniedError::new_err(e.message.clone()),
        (Some(404), _) => NotFoundError::new_err(e.message.clone()),
        (Some(409), _) => ConflictError::new_err(e.message.clone()),
        (Some(429), _) => RateLimitError::new_err(e.message.clone()),
        (Some(s), _) if s >= 500 => ServerError::new_err(e.message.clone()),
        _ => HelixError::new_err(e.message.clone()),
    };
    Python::attach(|py| {
        let v = err.value(py);
        let _ = v.setattr("code", e.code.as_str());
        let _ = v.setattr("status", e.status);
        let _ = v.setattr("message", e.message.as_str());
    });
    err
}

/// Adds the classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("HelixError", py.get_type::<HelixError>())?;
    m.add("ConnectionError", py.get_type::<ConnectionError>())?;
    m.add("InvalidRequestError", py.get_type::<InvalidRequestError>())?;
    m.add("AuthenticationError", py.get_type::<AuthenticationError>())?;
    m.add(
        "PermissionDeniedError",
        py.get_type::<PermissionDeniedError>(),
    )?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("ConflictError", py.get_type::<ConflictError>())?;
    m.add("RateLimitError", py.get_type::<RateLimitError>())?;
    m.add("ServerError", py.get_type::<ServerError>())?;
    m.add("StreamError", py.get_type::<StreamError>())?;
    Ok(())
}
