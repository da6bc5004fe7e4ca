//! Bad input of every kind gets a JSON error with a stable code, never a panic.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Caller, TestApp};
use helix_server::HttpSettings;
use serde_json::json;

fn assert_json_error(r: &common::Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "body: {:?}", r.body);
    assert_eq!(r.code(), code, "body: {:?}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    let ct = r.headers.get("content-type").unwrap().to_str().unwrap();
    assert!(ct.starts_with("application/json"), "{ct}");
}

fn post_raw(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::builder().method(Method::POST).uri(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(body.into()).unwrap()
}

#[tokio::test]
async fn malformed_wrong_typed_unknown_and_oversized_bodies() {
    let http = HttpSettings {
        max_body_bytes: 64 * 1024,
        ..HttpSettings::default()
    };
    let t = TestApp::with_settings(http, true).await;
    let login = "/api/v1/auth/login";
    let ct = Some("application/json");

    assert_json_error(
        &t.raw(post_raw(login, ct, "{\"email\":")).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    assert_json_error(
        &t.raw(post_raw(login, ct, "not json")).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    let wrong_type = json!({"email": 5, "password": "x"}).to_string();
    assert_json_error(
        &t.raw(post_raw(login, ct, wrong_type)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let unknown = json!({"email": "a@b.c", "password": "x", "admin": true}).to_string();
    let r = t.raw(post_raw(login, ct, unknown)).await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field"));
    let missing = json!({"email": "a@b.c"}).to_string();
    assert_json_error(
        &t.raw(post_raw(login, ct, missing)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_json_error(
        &t.raw(post_raw(login, None, "{}")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_json_error(
        &t.raw(post_raw(login, Some("text/plain"), "{}")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    // Over the limit with a declared length, and streamed without one.
    let big = format!(
        "{{\"email\":\"{}\",\"password\":\"x\"}}",
        "a".repeat(100 * 1024)
    );
    assert_json_error(
        &t.raw(post_raw(login, ct, big.clone())).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    let stream = Body::from_stream(futures::stream::iter(
        big.into_bytes()
            .chunks(4096)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    ));
    assert_json_error(
        &t.raw(post_raw(login, ct, stream)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[tokio::test]
async fn validation_ids_routes_and_credentials() {
    let t = TestApp::new().await;
    let anon = Caller::Anonymous;
    let reg = "/api/v1/auth/register";
    let r = t
        .call(
            Method::POST,
            reg,
            &anon,
            Some(json!({"email": "nope", "password": "correct horse"})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = t
        .call(
            Method::POST,
            reg,
            &anon,
            Some(json!({"email": "a@b.io", "password": "short"})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let (key, _) = t.user_with_key("owner@x.io").await;
    let r = t
        .call(
            Method::POST,
            reg,
            &anon,
            Some(json!({"email": "OWNER@x.io", "password": "correct horse"})),
        )
        .await;
    assert_json_error(&r, StatusCode::CONFLICT, "conflict");

    let r = t
        .call(
            Method::POST,
            "/api/v1/auth/login",
            &anon,
            Some(json!({"email": "owner@x.io", "password": "wrong password"})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let r = t
        .call(
            Method::POST,
            "/api/v1/auth/login",
            &anon,
            Some(json!({"email": "ghost@x.io", "password": "wrong password"})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED, "invalid_credentials");

    assert_json_error(
        &t.call(Method::GET, "/api/v1/apps/app_nonsense", &key, None)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    );
    assert_json_error(
        &t.call(
            Method::GET,
            "/api/v1/apps/org_01JD0000000000000000000000",
            &key,
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    );
    assert_json_error(
        &t.call(
            Method::GET,
            "/api/v1/apps/app_01JD0000000000000000000000",
            &key,
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_json_error(
        &t.call(
            Method::DELETE,
            "/api/v1/api-keys/key_01JD0000000000000000000000",
            &t.login("owner@x.io").await,
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_json_error(
        &t.call(
            Method::GET,
            "/api/v1/apps?org_id=org_01JD0000000000000000000000",
            &key,
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_json_error(
        &t.call(Method::GET, "/api/v1/apps?color=red", &key, None)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    assert_json_error(
        &t.call(Method::GET, "/api/v1/nope", &key, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_json_error(
        &t.call(Method::PUT, "/api/v1/users/me", &key, None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let r = t
        .call(
            Method::POST,
            "/api/v1/apps",
            &key,
            Some(json!({"org_id": "org_x", "name": "a", "model": "m"})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let me = t.call(Method::GET, "/api/v1/users/me", &key, None).await;
    let org = me.body["orgs"][0]["id"].as_str().unwrap();
    let r = t
        .call(
            Method::POST,
            "/api/v1/apps",
            &key,
            Some(json!({"org_id": org, "name": " ", "model": "m"})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = t
        .call(
            Method::POST,
            "/api/v1/apps",
            &key,
            Some(json!({"org_id": org, "name": "a", "model": "m", "settings": [1]})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = t
        .call(
            Method::POST,
            "/api/v1/apps",
            &key,
            Some(json!({"org_id": org, "name": "a", "model": "m", "settings": {"stream": false}})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    // Keys are managed from a session, never with a key.
    let r = t
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &key,
            Some(json!({"name": "child"})),
        )
        .await;
    assert_json_error(&r, StatusCode::FORBIDDEN, "forbidden");

    // Credentials of every wrong kind.
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &anon, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let bogus = Caller::ApiKey("hx-not-a-real-key".into());
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &bogus, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let not_ours = Caller::ApiKey("sk-openai-style".into());
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &not_ours, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let stale = Caller::Session {
        token: "forged".into(),
        csrf: "x".into(),
    };
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &stale, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn sessions_csrf_expiry_logout_and_revocation() {
    let t = TestApp::new().await;
    let session = t.signup("ada@x.io").await;
    let Caller::Session { token, csrf } = session.clone() else {
        unreachable!()
    };
    assert_eq!(
        t.call(Method::GET, "/api/v1/users/me", &session, None)
            .await
            .status,
        StatusCode::OK
    );

    // State-changing cookie requests need the CSRF token; API keys do not.
    let no_csrf = Caller::Session {
        token: token.clone(),
        csrf: String::new(),
    };
    let wrong_csrf = Caller::Session {
        token: token.clone(),
        csrf: "guess".into(),
    };
    let body = Some(json!({"name": "k"}));
    assert_json_error(
        &t.call(Method::POST, "/api/v1/api-keys", &no_csrf, body.clone())
            .await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    );
    assert_json_error(
        &t.call(Method::POST, "/api/v1/api-keys", &wrong_csrf, body.clone())
            .await,
        StatusCode::FORBIDDEN,
        "csrf_failed",
    );
    assert_eq!(
        t.call(Method::GET, "/api/v1/api-keys", &no_csrf, None)
            .await
            .status,
        StatusCode::OK,
        "reads need no csrf"
    );
    let created = t
        .call(Method::POST, "/api/v1/api-keys", &session, body.clone())
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let key = Caller::ApiKey(created.body["key"].as_str().unwrap().into());
    assert!(created.body["key"].as_str().unwrap().starts_with("hx-"));
    let listed = t.call(Method::GET, "/api/v1/api-keys", &key, None).await;
    assert!(
        listed.body.to_string().find("\"key\"").is_none(),
        "the secret is shown once only"
    );
    assert!(
        listed.body[0]["last_used_at"].is_string(),
        "use is recorded"
    );

    // Login sets HttpOnly SameSite cookies.
    let r = t
        .call(
            Method::POST,
            "/api/v1/auth/login",
            &Caller::Anonymous,
            Some(json!({"email": "ada@x.io", "password": "correct horse"})),
        )
        .await;
    let cookies: Vec<_> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(cookies.iter().any(|c| c.starts_with("helix_session=")
        && c.contains("HttpOnly")
        && c.contains("SameSite=Lax")));
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("helix_csrf=") && !c.contains("HttpOnly")));
    assert_eq!(r.body["csrf_token"].as_str().map(str::len), Some(43));

    // Revoked keys stop working at once.
    let id = created.body["id"].as_str().unwrap();
    let revoked = t
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            &session,
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(revoked.body["revoked_at"].is_string());
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &key, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );

    // Expired sessions say so.
    t.clock.advance(chrono::Duration::days(8));
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &session, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "session_expired",
    );
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &session, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );

    // Logout ends the session and clears cookies.
    let fresh = t.login("ada@x.io").await;
    let r = t
        .call(Method::POST, "/api/v1/auth/logout", &fresh, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r
        .headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("Max-Age=0")));
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &fresh, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let _ = csrf;
}

#[tokio::test]
async fn first_user_is_admin_and_registration_can_be_closed() {
    let t = TestApp::with_settings(HttpSettings::default(), false).await;
    let cfg = t
        .call(Method::GET, "/api/v1/auth/config", &Caller::Anonymous, None)
        .await;
    assert_eq!(
        cfg.body["registration_enabled"], true,
        "a fresh instance always lets the first user in"
    );
    let (admin, _) = t.user_with_key("root@x.io").await;
    let me = t.call(Method::GET, "/api/v1/users/me", &admin, None).await;
    assert_eq!(me.body["user"]["is_admin"], true);
    assert_eq!(
        me.body["orgs"][0]["role"], "owner",
        "each user gets a personal org"
    );
    let r = t
        .call(
            Method::POST,
            "/api/v1/auth/register",
            &Caller::Anonymous,
            Some(json!({"email": "b@x.io", "password": "correct horse"})),
        )
        .await;
    assert_json_error(&r, StatusCode::FORBIDDEN, "registration_disabled");
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/admin/settings",
            &admin,
            Some(json!({"registration_enabled": true})),
        )
        .await;
    assert_eq!(r.body["registration_enabled"], true);
    let r = t
        .call(
            Method::POST,
            "/api/v1/auth/register",
            &Caller::Anonymous,
            Some(json!({"email": "b@x.io", "password": "correct horse"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["is_admin"], false);
    let r = t
        .call(
            Method::PATCH,
            &format!(
                "/api/v1/admin/users/{}",
                me.body["user"]["id"].as_str().unwrap()
            ),
            &admin,
            Some(json!({"is_admin": false})),
        )
        .await;
    assert_json_error(&r, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn runner_tokens_bad_input_unknown_ids_and_credential_kinds() {
    let t = TestApp::new().await;
    let (admin, _) = t.user_with_key("root@x.io").await;
    let Caller::ApiKey(admin_key) = admin.clone() else {
        unreachable!()
    };
    let path = "/api/v1/runner-tokens";

    for bad in ["", "GPU-1", "gpu_1", "-gpu", "gpu 1"] {
        let r = t
            .call(Method::POST, path, &admin, Some(json!({"runner_id": bad})))
            .await;
        assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("runner_id"),
            "{bad:?}: {:?}",
            r.body
        );
    }
    let long = "a".repeat(64);
    let r = t
        .call(Method::POST, path, &admin, Some(json!({"runner_id": long})))
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = t
        .call(
            Method::POST,
            path,
            &admin,
            Some(json!({"runner_id": "gpu-1", "expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = t
        .call(
            Method::POST,
            path,
            &admin,
            Some(json!({"runner_id": "gpu-1", "expires_at": "next tuesday"})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = t
        .call(
            Method::POST,
            path,
            &admin,
            Some(json!({"runner_id": "gpu-1", "scopes": ["all"]})),
        )
        .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let malformed = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {admin_key}"))
        .header("content-type", "application/json")
        .body(Body::from("{\"runner_id\":"))
        .unwrap();
    assert_json_error(
        &t.raw(malformed).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );

    for (id, status, code) in [
        (
            "rtk_01JD0000000000000000000000",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("rtk_nonsense", StatusCode::BAD_REQUEST, "invalid_id"),
        (
            "key_01JD0000000000000000000000",
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
    ] {
        let r = t
            .call(Method::DELETE, &format!("{path}/{id}"), &admin, None)
            .await;
        assert_json_error(&r, status, code);
    }

    // Created: the secret once, then metadata only.
    let created = t
        .call(
            Method::POST,
            path,
            &admin,
            Some(json!({"runner_id": "gpu-1", "description": "rack 4"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let secret = created.body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("hxr-"));
    assert!(created.body["id"].as_str().unwrap().starts_with("rtk_"));
    assert_eq!(created.body["runner_id"], "gpu-1");
    assert!(created.body.get("token_hash").is_none());
    let listed = t.call(Method::GET, path, &admin, None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert!(!listed.body.to_string().contains(&secret));
    assert!(listed.body[0].get("token").is_none());

    // A runner token is no user credential, in either header or as a cookie.
    let as_user = Caller::ApiKey(secret.clone());
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &as_user, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let header = Request::builder()
        .uri("/api/v1/users/me")
        .header("x-api-key", &secret)
        .body(Body::empty())
        .unwrap();
    assert_json_error(
        &t.raw(header).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let cookie = Caller::Session {
        token: secret.clone(),
        csrf: String::new(),
    };
    assert_json_error(
        &t.call(Method::GET, "/api/v1/users/me", &cookie, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    // ...and user credentials are no runner tokens.
    assert!(t.cp.authenticate_runner(&admin_key).await.is_err());
    assert!(t.cp.authenticate_runner(&secret).await.is_ok());

    // Revoked: 204, and the runner is locked out.
    let id = created.body["id"].as_str().unwrap();
    let r = t
        .call(Method::DELETE, &format!("{path}/{id}"), &admin, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(r.body, serde_json::Value::Null);
    let listed = t.call(Method::GET, path, &admin, None).await;
    assert!(listed.body[0]["revoked_at"].is_string());
    let err = t.cp.authenticate_runner(&secret).await.unwrap_err();
    assert_eq!(err.code().as_str(), "invalid_credentials");
}

#[tokio::test]
async fn failed_sign_ins_for_one_email_are_slowed_down() {
    let t = TestApp::new().await;
    t.user_with_key("ada@x.io").await;
    let attempt = |password: &'static str| {
        let t = &t;
        async move {
            t.call(
                Method::POST,
                "/api/v1/auth/login",
                &Caller::Anonymous,
                Some(json!({"email": "ada@x.io", "password": password})),
            )
            .await
        }
    };
    // Ten wrong guesses a minute are answered as wrong; the eleventh waits.
    for _ in 0..10 {
        let r = attempt("wrong guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    }
    let r = attempt("wrong guess").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        "{:?}",
        r.body
    );
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // While slowed down, even the right password waits (no oracle for guesses).
    assert_eq!(
        attempt("correct horse").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts are not affected; right passwords do not count.
    t.user_with_key("bob@x.io").await;
    for _ in 0..12 {
        t.login("bob@x.io").await;
    }
    // After the wait, the right password works.
    t.clock.advance(chrono::Duration::seconds(wait as i64));
    let r = attempt("correct horse").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
