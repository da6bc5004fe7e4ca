//! The web UI: files of the production build (`frontend/dist`, `--web-dir`) for every
//! GET that is not an API route, `index.html` for client-side routes (SPA fallback).
//! Hashed assets are cached for a year; `index.html` is revalidated every time.

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

async fn file(path: &Path, cache: &'static str) -> Response {
    match tokio::fs::read(path).await {
        Ok(bytes) => (
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
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The router's fallback: the web UI when configured, else the JSON 404.
pub async fn fallback(State(s): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/v1/") || path == "/metrics";
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    match (&s.http.web_dir, api, read) {
        // Client-side routes (/chat/ses_...) get the app.
        (Some(root), false, true) => serve(root, path, "index.html").await,
        _ => super::not_found().await.into_response(),
    }
}

/// The build's file at `path`, or `index` (the page of client-side routes).
pub(crate) async fn serve(root: &Path, path: &str, index: &str) -> Response {
    if let Some(f) = resolve(root, path) {
        let cache = if path.starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return file(&f, cache).await;
    }
    file(&root.join(index), "no-cache").await
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
}
