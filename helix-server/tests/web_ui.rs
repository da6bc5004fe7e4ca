//! The web UI's files: served for non-API paths with the right caching, the app for
//! client-side routes, and JSON errors kept for the API.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use helix_server::HttpSettings;

fn get(path: &str) -> Request<Body> {
    Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_build_is_served_with_an_spa_fallback() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><div id=root></div>",
    )
    .unwrap();
    std::fs::write(dir.path().join("assets/app-1234.js"), "console.log(1)").unwrap();
    std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
    let http = HttpSettings {
        web_dir: Some(dir.path().to_owned()),
        ..HttpSettings::default()
    };
    let t = TestApp::with_settings(http, true).await;

    let r = t.raw(get("/")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers["cache-control"], "no-cache");
    assert!(r.body.as_str().unwrap().contains("id=root"));
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("img-src 'self' data:") && csp.contains("connect-src 'self'"),
        "{csp}"
    );

    let r = t.raw(get("/assets/app-1234.js")).await;
    assert_eq!(r.headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(
        r.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );

    let r = t.raw(get("/favicon.svg")).await;
    assert_eq!(r.headers["content-type"], "image/svg+xml");

    for client_route in ["/chat", "/chat/ses_01ABC", "/login"] {
        let r = t.raw(get(client_route)).await;
        assert_eq!(r.status, StatusCode::OK, "{client_route}");
        assert!(
            r.body.as_str().unwrap().contains("id=root"),
            "{client_route}"
        );
    }
    let r = t.raw(get("/../../etc/passwd")).await;
    assert!(!r.body.to_string().contains("root:"), "no climbing out");

    // The API keeps its JSON errors; writes never get the app.
    for api in ["/api/v1/nope", "/v1/nope"] {
        let r = t.raw(get(api)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{api}");
        assert_eq!(r.body["error"]["code"], "not_found", "{api}");
    }
    let post = Request::builder()
        .method(Method::POST)
        .uri("/chat")
        .body(Body::empty())
        .unwrap();
    assert_eq!(t.raw(post).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_a_build_only_the_api_answers() {
    let t = TestApp::with_settings(HttpSettings::default(), true).await;
    let r = t.raw(get("/")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "not_found");
}
