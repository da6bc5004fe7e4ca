//! SSO end to end against a REAL OpenID provider (npm `oidc-provider`, run by node from
//! `tests/oidc-provider/`), with Helix serving real HTTP on 127.0.0.1.
//!
//! Required when `HELIX_TEST_REQUIRE_OIDC=1` (scripts/test.sh, CI); otherwise skipped
//! with a message when node or the provider's node_modules are missing.

mod common;

use common::oidc::{provider_dir, start_provider, Provider, CLIENT_ID, CLIENT_SECRET};
use helix_core::auth::oidc::{GroupRole, OidcConfig};
use helix_core::id::OrgId;
use helix_core::model::{Org, Role};
use helix_core::store::{AccountStore, AdminRule, NewUser, OrgStore};
use helix_core::{ControlPlane, SecretBox, SqlStore};
use helix_server::{AppState, HttpSettings};
use reqwest::redirect::Policy;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

struct Helix {
    base: String,
    cp: ControlPlane,
    mapped_org: OrgId,
    _dir: tempfile::TempDir,
}

/// Binds a port first so the public URL (and the redirect URI) are known, then serves.
async fn start_helix(listener: tokio::net::TcpListener, issuer: &str) -> Helix {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqlStore::open_sqlite_dir(dir.path()).await.unwrap());
    let (secrets, _) = SecretBox::load_or_generate(None, dir.path()).unwrap();
    // An org that the `staff` group maps into.
    let founder = store
        .create_user(&NewUser {
            id: helix_core::id::UserId::new(),
            email: "founder@example.com".into(),
            name: "Founder".into(),
            password_hash: None,
            admin: AdminRule::IfFirst,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let org = Org {
        id: OrgId::new(),
        name: "Staff".into(),
        created_at: chrono::Utc::now(),
    };
    store.create_org(&org, &founder.id).await.unwrap();
    let mut cfg = OidcConfig::new(
        issuer,
        CLIENT_ID,
        format!("{base}/api/v1/auth/oidc/callback"),
    );
    cfg.client_secret = Some(CLIENT_SECRET.into());
    cfg.scopes = vec!["email".into(), "profile".into(), "groups".into()];
    cfg.allowed_email_domains = vec!["example.com".into()];
    cfg.admin_groups = vec!["helix-admins".into()];
    cfg.group_roles = vec![GroupRole {
        group: "staff".into(),
        org_id: org.id.clone(),
        role: Role::Member,
    }];
    let cp = ControlPlane::builder()
        .store(store)
        .secrets(secrets)
        .oidc(cfg)
        .build()
        .unwrap();
    let http = HttpSettings {
        public_url: base.clone(),
        ..HttpSettings::default()
    };
    let app = helix_server::router(AppState::new(cp.clone(), http));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Helix {
        base,
        cp,
        mapped_org: org.id,
        _dir: dir,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect from {}: {}", r.url(), r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn with_param(url: &str, key: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(key, value);
    u.to_string()
}

/// Starts a Helix SSO login in `b` as `user` and follows the provider until it sends
/// the browser back to Helix; returns the callback URL (not yet visited) and the
/// authorization URL that was used.
async fn to_callback(
    b: &reqwest::Client,
    h: &Helix,
    user: &str,
    tweak: impl Fn(String) -> String,
) -> (String, String) {
    let r = b
        .get(format!("{}/api/v1/auth/oidc/login?return_to=/chat", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let auth_url = tweak(with_param(&location(&r), "login_hint", user));
    let mut next = auth_url.clone();
    for _ in 0..10 {
        if next.starts_with(&format!("{}/api/v1/auth/oidc/callback", h.base)) {
            return (next, auth_url);
        }
        let r = b.get(&next).send().await.unwrap();
        assert!(
            r.status().is_redirection(),
            "provider stopped at {next}: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        let loc = location(&r);
        next = if loc.starts_with('/') {
            format!(
                "{}{loc}",
                url::Url::parse(&next)
                    .unwrap()
                    .origin()
                    .ascii_serialization()
            )
        } else {
            loc
        };
    }
    panic!("too many redirects");
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or_default();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn sso_login_links_accounts_maps_groups_and_refuses_forgeries() {
    let Some(dir) = provider_dir() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://{}/api/v1/auth/oidc/callback",
        listener.local_addr().unwrap()
    );
    let provider = start_provider(&dir, &callback, 60);
    let h = start_helix(listener, &provider.issuer).await;

    // A good login: alice lands signed in, admin by group, member of the mapped org.
    let alice = browser();
    let (cb, _) = to_callback(&alice, &h, "alice", |u| u).await;
    let r = alice.get(&cb).send().await.unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    assert_eq!(location(&r), "/chat");
    let me: Value = alice
        .get(format!("{}/api/v1/users/me", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "alice@example.com");
    assert_eq!(
        me["user"]["is_admin"], true,
        "helix-admins group maps to site admin: {me}"
    );
    let orgs = me["orgs"].as_array().unwrap();
    assert!(
        orgs.iter()
            .any(|o| o["id"] == h.mapped_org.as_str() && o["role"] == "member"),
        "{me}"
    );

    // Replaying the same callback (code and state) is refused.
    let (status, code) = error_code(alice.get(&cb).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "oidc_failed"));

    // A second login links to the same account.
    let again = browser();
    let (cb, _) = to_callback(&again, &h, "alice", |u| u).await;
    assert_eq!(again.get(&cb).send().await.unwrap().status(), 303);
    let me2: Value = again
        .get(format!("{}/api/v1/users/me", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me2["user"]["id"], me["user"]["id"]);
    // bob is not in helix-admins.
    let bob = browser();
    let (cb, _) = to_callback(&bob, &h, "bob", |u| u).await;
    assert_eq!(bob.get(&cb).send().await.unwrap().status(), 303);
    let me_bob: Value = bob
        .get(format!("{}/api/v1/users/me", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me_bob["user"]["is_admin"], false);

    // A callback in a browser that did not start the login (no state cookie).
    let thief = browser();
    let (cb, _) = to_callback(&browser(), &h, "alice", |u| u).await;
    assert_eq!(
        error_code(thief.get(&cb).send().await.unwrap()).await,
        (400, "oidc_failed".into())
    );

    // An attacker-chosen nonce in the authorization request: the ID token carries it,
    // and Helix refuses because it is not the nonce of this login.
    let b = browser();
    let (cb, _) = to_callback(&b, &h, "alice", |u| {
        with_param(&u, "nonce", "attacker-nonce")
    })
    .await;
    let r = b.get(&cb).send().await.unwrap();
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("helix_session=")));
    assert_eq!(error_code(r).await, (400, "oidc_failed".into()));

    // The provider refusing (unknown user) comes back as an error.
    let b = browser();
    let (cb, _) = to_callback(&b, &h, "nobody", |u| u).await;
    assert!(cb.contains("error="), "{cb}");
    assert_eq!(
        error_code(b.get(&cb).send().await.unwrap()).await,
        (400, "oidc_failed".into())
    );

    // A person in a browser goes back to the sign-in page, the reason in a cookie the
    // page reads once (not the URL: the page shows Helix's message, not a link's text).
    let b = browser();
    let (cb, _) = to_callback(&b, &h, "nobody", |u| u).await;
    let r = b
        .get(&cb)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
    let set: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set.iter().any(|c| c.starts_with("helix_sso_error=")
            && c.contains("access_denied")
            && !c.contains("HttpOnly")),
        "{set:?}"
    );
    assert!(
        !set.iter().any(|c| c.starts_with("helix_session=")),
        "{set:?}"
    );
    // Only the standard error codes are repeated back (anyone can send this link).
    for (given, shown) in [
        ("access_denied", true),
        ("account_locked_call_555", false),
        ("Call%20555-0100%20to%20unlock", false),
    ] {
        let r = browser()
            .get(format!(
                "{}/api/v1/auth/oidc/callback?error={given}",
                h.base
            ))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        let msg = body["error"]["message"].as_str().unwrap();
        assert_eq!(msg.contains("access_denied"), shown, "{msg}");
        assert!(!msg.contains("555"), "{msg}");
    }

    // A verified email outside the allowed domains is refused.
    let b = browser();
    let (cb, _) = to_callback(&b, &h, "mallory", |u| u).await;
    assert_eq!(
        error_code(b.get(&cb).send().await.unwrap()).await,
        (403, "forbidden".into())
    );

    id_token_verification(&h, &provider).await;
}

/// Gets a genuine ID token from the provider for a Helix-started login, then checks
/// that Helix's verifier accepts it and refuses tampered copies and a wrong nonce.
async fn id_token_verification(h: &Helix, provider: &Provider) {
    let b = browser();
    let (cb, _) = to_callback(&b, h, "alice", |u| u).await;
    let q: std::collections::HashMap<String, String> = url::Url::parse(&cb)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let flow =
        h.cp.store()
            .take_oidc_flow(&q["state"])
            .await
            .unwrap()
            .unwrap();
    let meta: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        provider.issuer
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let tokens: Value = reqwest::Client::new()
        .post(meta["token_endpoint"].as_str().unwrap())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            (
                "redirect_uri",
                &format!("{}/api/v1/auth/oidc/callback", h.base),
            ),
            ("code_verifier", &flow.pkce_verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let raw = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no id_token: {tokens}"));
    let verifier = h.cp.oidc_provider().unwrap();
    let id = verifier
        .verify_id_token(raw, &flow.nonce)
        .await
        .expect("a genuine token verifies");
    assert_eq!(id.issuer, provider.issuer);

    let parts: Vec<&str> = raw.split('.').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["email"] = "admin@example.com".into();
    let forged_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    let mut sig = b64.decode(parts[2]).unwrap();
    sig[10] ^= 0x01;
    let forged_sig = format!("{}.{}.{}", parts[0], parts[1], b64.encode(sig));
    let alg_none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    for (what, token, nonce) in [
        (
            "changed claims",
            forged_payload.as_str(),
            flow.nonce.as_str(),
        ),
        (
            "changed signature",
            forged_sig.as_str(),
            flow.nonce.as_str(),
        ),
        ("alg none", alg_none.as_str(), flow.nonce.as_str()),
        ("wrong nonce", raw, "some-other-nonce"),
        ("garbage", "not.a.jwt", flow.nonce.as_str()),
    ] {
        let err = verifier
            .verify_id_token(token, nonce)
            .await
            .expect_err(what);
        assert_eq!(err.code().as_str(), "oidc_failed", "{what}: {err}");
    }
}

#[tokio::test]
async fn an_expired_authorization_code_is_refused() {
    let Some(dir) = provider_dir() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://{}/api/v1/auth/oidc/callback",
        listener.local_addr().unwrap()
    );
    let provider = start_provider(&dir, &callback, 1);
    let h = start_helix(listener, &provider.issuer).await;
    let b = browser();
    let (cb, _) = to_callback(&b, &h, "alice", |u| u).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = b.get(&cb).send().await.unwrap();
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("helix_session=")));
    let (status, code) = error_code(r).await;
    assert_eq!((status, code.as_str()), (400, "oidc_failed"));
    let me = b
        .get(format!("{}/api/v1/users/me", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}
