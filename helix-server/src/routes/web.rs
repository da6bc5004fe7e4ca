//! The web UI: files of the production build (`frontend/dist`, `--web-dir`) for every
//! GET that is not an API route, `index.html` for client-side routes (SPA fallback).
//! Hashed assets are cached for a year; `index.html` is revalidated every time. Files
//! the build precompressed (`NAME.br`, `NAME.gz`, frontend/scripts/compress.mjs) are sent
//! as they are to browsers that accept them.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::{Component, Path, PathBuf};

/// The app loads only its own scripts and talks only to its own origin; images in
/// model answers cannot call out (no exfiltration through `![](https://...)`).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
base-uri 'self'; form-action 'self'; object-src 'none'";

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file a URL path names inside `root`, refusing anything that climbs out.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let rel = Path::new(url_path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel);
    full.is_file().then_some(full)
}

/// Whether an `Accept-Encoding` value allows `coding` (listed without `q=0`).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut it = part.split(';').map(str::trim);
        let name_ok = it.next().is_some_and(|n| n.eq_ignore_ascii_case(coding));
        let refused = it.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        name_ok && !refused
    })
}

/// The precompressed sibling of `path` to send, with its coding, if the build made one
/// the client accepts (brotli first: smaller).
async fn precompressed(path: &Path, accept_encoding: &str) -> Option<(Vec<u8>, &'static str)> {
    for (coding, ext) in [("br", "br"), ("gzip", "gz")] {
        if !accepts(accept_encoding, coding) {
            continue;
        }
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(ext);
        if let Ok(bytes) = tokio::fs::read(&name).await {
            return Some((bytes, coding));
        }
    }
    None
}

async fn file(path: &Path, cache: &'static str, accept_encoding: &str) -> Response {
    let (body, coding) = match precompressed(path, accept_encoding).await {
        Some((bytes, coding)) => (Ok(bytes), Some(coding)),
        None => (tokio::fs::read(path).await, None),
    };
    match body {
        Ok(bytes) => {
            let mut resp = file_response(path, cache, bytes);
            // Caches keep one copy per coding.
            resp.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            if let Some(coding) = coding {
                resp.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
            }
            resp
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn file_response(path: &Path, cache: &'static str, bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(path)),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The router's fallback: the web UI when configured, else the JSON 404.
pub async fn fallback(State(s): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/v1/") || path == "/metrics";
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    match (&s.http.web_dir, api, read) {
        // Client-side routes (/chat/ses_...) get the app.
        (Some(root), false, true) => serve(root, path, "index.html", req.headers()).await,
        _ => super::not_found().await.into_response(),
    }
}

/// The build's file at `path`, or `index` (the page of client-side routes).
pub(crate) async fn serve(
    root: &Path,
    path: &str,
    index: &str,
    headers: &axum::http::HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(f) = resolve(root, path) {
        let cache = if path.starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return file(&f, cache, accept).await;
    }
    file(&root.join(index), "no-cache", accept).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_climb_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/a.js"), "x").unwrap();
        assert!(resolve(dir.path(), "/assets/a.js").is_some());
        assert!(resolve(dir.path(), "/../etc/passwd").is_none());
        assert!(resolve(dir.path(), "/assets/../../x").is_none());
        assert!(
            resolve(dir.path(), "/assets").is_none(),
            "directories are not files"
        );
        assert_eq!(
            content_type(Path::new("x.js")),
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn accept_encoding_is_read_as_a_list_with_weights() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=1.0, BR;q=0.5", "br"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("gzip, br;q=0.000", "br"));
        assert!(!accepts("gzip", "br"));
        assert!(!accepts("", "gzip"));
        assert!(!accepts("x-gzip", "gzip"));
    }

    #[tokio::test]
    async fn precompressed_files_go_to_clients_that_accept_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/a.js"), "plain").unwrap();
        std::fs::write(dir.path().join("assets/a.js.br"), "brotli").unwrap();
        std::fs::write(dir.path().join("assets/a.js.gz"), "gzip").unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>").unwrap();
        let get = |accept: &'static str, path: &'static str| {
            let root = dir.path().to_owned();
            async move {
                let mut h = axum::http::HeaderMap::new();
                h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(accept));
                let r = serve(&root, path, "index.html", &h).await;
                let enc = r
                    .headers()
                    .get(header::CONTENT_ENCODING)
                    .map(|v| v.to_str().unwrap().to_owned());
                let ct = r.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let vary = r.headers()[header::VARY].to_str().unwrap().to_owned();
                let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
                (enc, String::from_utf8(body.to_vec()).unwrap(), ct, vary)
            }
        };
        let (enc, body, ct, vary) = get("gzip, br", "/assets/a.js").await;
        assert_eq!((enc.as_deref(), body.as_str()), (Some("br"), "brotli"));
        assert_eq!(
            ct, "text/javascript; charset=utf-8",
            "the type of the file, not of .br"
        );
        assert_eq!(vary, "accept-encoding");
        let (enc, body, ..) = get("gzip", "/assets/a.js").await;
        assert_eq!((enc.as_deref(), body.as_str()), (Some("gzip"), "gzip"));
        let (enc, body, ..) = get("identity", "/assets/a.js").await;
        assert_eq!((enc, body.as_str()), (None, "plain"));
        // No compressed copy: the file as it is.
        let (enc, body, ..) = get("br", "/chat/ses_1").await;
        assert_eq!((enc, body.as_str()), (None, "<html>"));
    }
}
