//! The authorization matrix: for every endpoint, each kind of caller gets exactly the
//! access it should, and a refusal never leaks the resource.

mod common;

use axum::http::{Method, StatusCode};
use common::{Caller, TestApp};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

const SECRET_ORG: &str = "Secret Org Name";
const SECRET_APP: &str = "Secret App Name";
const SECRET_RUNNER: &str = "Secret Runner Note";

/// Callers in matrix column order.
const ACTORS: [&str; 6] = [
    "anonymous",
    "outsider",
    "member",
    "org_admin",
    "owner",
    "site_admin",
];

struct Fixture {
    t: TestApp,
    callers: Vec<Caller>,
    ids: std::collections::HashMap<&'static str, String>,
    fresh: AtomicUsize,
}

impl Fixture {
    async fn new() -> Self {
        let t = TestApp::new().await;
        // The first user is the site admin; none of the others are.
        let (site_admin, _) = t.user_with_key("root@x.io").await;
        let (owner, owner_id) = t.user_with_key("owner@x.io").await;
        let (org_admin, org_admin_id) = t.user_with_key("orgadmin@x.io").await;
        let (member, member_id) = t.user_with_key("member@x.io").await;
        let (outsider, _) = t.user_with_key("outsider@x.io").await;
        let mut f = Fixture {
            t,
            callers: vec![
                Caller::Anonymous,
                outsider,
                member,
                org_admin,
                owner,
                site_admin,
            ],
            ids: Default::default(),
            fresh: AtomicUsize::new(0),
        };
        let org = f.org_with_members().await;
        f.ids.insert("org", org.clone());
        f.ids.insert("owner", owner_id);
        f.ids.insert("org_admin", org_admin_id);
        f.ids.insert("member", member_id);
        let app = f.app_by(4, &org).await;
        f.ids.insert("app", app);
        let member_app = f.app_by(2, &org).await;
        f.ids.insert("member_app", member_app);
        let provider = f.provider_in(&org).await;
        f.ids.insert("provider", provider);
        let session = f
            .ok(
                Method::POST,
                "/api/v1/sessions",
                &f.callers[2],
                Some(json!({"model": "x/y", "name": SECRET_APP})),
            )
            .await;
        f.ids
            .insert("session", session["id"].as_str().unwrap().to_owned());
        f
    }

    /// An org-scoped provider endpoint (unreachable upstream: calls through it answer
    /// 502, which proves authorization let them through).
    async fn provider_in(&self, org: &str) -> String {
        let n = self.fresh.fetch_add(1, Ordering::SeqCst);
        let body = json!({"name": format!("orgprov{n}"), "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "scope": "org", "org_id": org});
        self.ok(Method::POST, "/api/v1/providers", self.owner(), Some(body))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn owner(&self) -> &Caller {
        &self.callers[4]
    }

    fn site_admin(&self) -> &Caller {
        &self.callers[5]
    }

    async fn ok(&self, method: Method, path: &str, caller: &Caller, body: Option<Value>) -> Value {
        let r = self.t.call(method.clone(), path, caller, body).await;
        assert!(
            r.status.is_success(),
            "{method} {path}: {} {:?}",
            r.status,
            r.body
        );
        r.body
    }

    /// A new org owned by `owner` with the org admin and the member in it.
    async fn org_with_members(&self) -> String {
        let org = self
            .ok(
                Method::POST,
                "/api/v1/orgs",
                self.owner(),
                Some(json!({"name": SECRET_ORG})),
            )
            .await;
        let id = org["id"].as_str().unwrap().to_owned();
        for (email, role) in [("orgadmin@x.io", "admin"), ("member@x.io", "member")] {
            self.ok(
                Method::POST,
                &format!("/api/v1/orgs/{id}/members"),
                self.owner(),
                Some(json!({"email": email, "role": role})),
            )
            .await;
        }
        id
    }

    async fn app_by(&self, actor: usize, org: &str) -> String {
        let body = json!({"org_id": org, "name": SECRET_APP, "model": "m", "system_prompt": "secret prompt"});
        let app = self
            .ok(
                Method::POST,
                "/api/v1/apps",
                &self.callers[actor],
                Some(body),
            )
            .await;
        app["id"].as_str().unwrap().to_owned()
    }

    async fn fresh_user(&self) -> (String, String) {
        let n = self.fresh.fetch_add(1, Ordering::SeqCst);
        let email = format!("fresh{n}@x.io");
        let (_, id) = self.t.user_with_key(&email).await;
        (email, id)
    }

    /// Resolves a row's target into a path and body, creating fresh resources where
    /// the call would consume them.
    async fn target(&self, row: &Row) -> (String, Option<Value>) {
        let mut path = row.path.to_owned();
        let mut body = row.body.clone();
        for (k, v) in &self.ids {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        match row.fresh {
            Fresh::Fixed => {}
            Fresh::Org => {
                let org = self.org_with_members().await;
                path = path.replace("{fresh_org}", &org);
            }
            Fresh::App => {
                let app = self.app_by(4, &self.ids["org"]).await;
                path = path.replace("{fresh_app}", &app);
            }
            Fresh::UserEmail => {
                let (email, _) = self.fresh_user().await;
                body = Some(json!({"email": email, "role": row.body.as_ref().unwrap()["role"]}));
            }
            Fresh::MemberOfFreshOrg => {
                let org = self.org_with_members().await;
                let (email, id) = self.fresh_user().await;
                self.ok(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/members"),
                    self.owner(),
                    Some(json!({"email": email, "role": "member"})),
                )
                .await;
                path = path
                    .replace("{fresh_org}", &org)
                    .replace("{fresh_user}", &id);
            }
            Fresh::ProviderBody => {
                let n = self.fresh.fetch_add(1, Ordering::SeqCst);
                let mut b = row.body.clone().unwrap();
                b["name"] = json!(format!("p{n}"));
                if b["scope"] == "org" {
                    b["org_id"] = json!(self.ids["org"]);
                }
                body = Some(b);
            }
            Fresh::Provider => {
                let id = self.provider_in(&self.ids["org"]).await;
                path = path.replace("{fresh_provider}", &id);
            }
            Fresh::ModelName => {
                let n = self.fresh.fetch_add(1, Ordering::SeqCst);
                body = Some(json!({"name": format!("model{n}")}));
            }
            Fresh::OwnerKey => {
                // Keys are created from a session (an API key may not mint keys).
                let session = self.t.login("owner@x.io").await;
                let key = self
                    .ok(
                        Method::POST,
                        "/api/v1/api-keys",
                        &session,
                        Some(json!({"name": "victim"})),
                    )
                    .await;
                path = path.replace("{fresh_key}", key["id"].as_str().unwrap());
            }
            Fresh::RunnerToken => {
                let body = json!({"runner_id": "gpu-1", "description": SECRET_RUNNER});
                let token = self
                    .ok(
                        Method::POST,
                        "/api/v1/runner-tokens",
                        self.site_admin(),
                        Some(body),
                    )
                    .await;
                path = path.replace("{fresh_runner_token}", token["id"].as_str().unwrap());
            }
        }
        (path, body)
    }
}

#[derive(Clone, Copy)]
enum Fresh {
    Fixed,
    Org,
    App,
    UserEmail,
    MemberOfFreshOrg,
    OwnerKey,
    RunnerToken,
    ProviderBody,
    Provider,
    ModelName,
}

struct Row {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    fresh: Fresh,
    /// Expected status per actor, in [`ACTORS`] order.
    expect: [u16; 6],
}

fn row(
    method: Method,
    path: &'static str,
    body: Option<Value>,
    fresh: Fresh,
    expect: [u16; 6],
) -> Row {
    Row {
        method,
        path,
        body,
        fresh,
        expect,
    }
}

#[tokio::test]
async fn every_endpoint_gives_each_caller_exactly_its_access() {
    use Fresh::*;
    use Method as M;
    let f = Fixture::new().await;
    let name = Some(json!({"name": "Renamed"}));
    let rows = vec![
        //                                                                           anon out mem adm own site
        row(
            M::GET,
            "/api/v1/users/me",
            None,
            Fixed,
            [401, 200, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/auth/logout",
            None,
            Fixed,
            [401, 204, 204, 204, 204, 204],
        ),
        row(
            M::GET,
            "/api/v1/orgs",
            None,
            Fixed,
            [401, 200, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/orgs",
            name.clone(),
            Fixed,
            [401, 201, 201, 201, 201, 201],
        ),
        row(
            M::GET,
            "/api/v1/orgs/{org}",
            None,
            Fixed,
            [401, 404, 200, 200, 200, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/orgs/{org}",
            Some(json!({"name": SECRET_ORG})),
            Fixed,
            [401, 404, 403, 200, 200, 200],
        ),
        row(
            M::DELETE,
            "/api/v1/orgs/{fresh_org}",
            None,
            Org,
            [401, 404, 403, 403, 204, 204],
        ),
        row(
            M::GET,
            "/api/v1/orgs/{org}/members",
            None,
            Fixed,
            [401, 404, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/orgs/{org}/members",
            Some(json!({"role": "member"})),
            UserEmail,
            [401, 404, 403, 201, 201, 201],
        ),
        row(
            M::POST,
            "/api/v1/orgs/{org}/members",
            Some(json!({"role": "owner"})),
            UserEmail,
            [401, 404, 403, 403, 201, 201],
        ),
        row(
            M::PATCH,
            "/api/v1/orgs/{org}/members/{member}",
            Some(json!({"role": "member"})),
            Fixed,
            [401, 404, 403, 200, 200, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/orgs/{org}/members/{org_admin}",
            Some(json!({"role": "owner"})),
            Fixed,
            [401, 404, 403, 403, 200, 200],
        ),
        row(
            M::DELETE,
            "/api/v1/orgs/{fresh_org}/members/{fresh_user}",
            None,
            MemberOfFreshOrg,
            [401, 404, 403, 204, 204, 204],
        ),
        row(
            M::GET,
            "/api/v1/apps?org_id={org}",
            None,
            Fixed,
            [401, 404, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/apps",
            None,
            Fixed,
            [401, 404, 201, 201, 201, 201],
        ),
        row(
            M::GET,
            "/api/v1/apps/{app}",
            None,
            Fixed,
            [401, 404, 200, 200, 200, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/apps/{app}",
            Some(json!({"name": SECRET_APP})),
            Fixed,
            [401, 404, 403, 200, 200, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/apps/{member_app}",
            Some(json!({"description": "x"})),
            Fixed,
            [401, 404, 200, 200, 200, 200],
        ),
        row(
            M::DELETE,
            "/api/v1/apps/{fresh_app}",
            None,
            App,
            [401, 404, 403, 204, 204, 204],
        ),
        row(
            M::GET,
            "/api/v1/api-keys",
            None,
            Fixed,
            [401, 200, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/api-keys",
            name.clone(),
            Fixed,
            [401, 403, 403, 403, 403, 403],
        ),
        row(
            M::DELETE,
            "/api/v1/api-keys/{fresh_key}",
            None,
            OwnerKey,
            [401, 403, 403, 403, 403, 403],
        ),
        // Runner tokens are instance administration.
        row(
            M::GET,
            "/api/v1/runner-tokens",
            None,
            Fixed,
            [401, 403, 403, 403, 403, 200],
        ),
        row(
            M::POST,
            "/api/v1/runner-tokens",
            Some(json!({"runner_id": "gpu-2", "description": SECRET_RUNNER})),
            Fixed,
            [401, 403, 403, 403, 403, 201],
        ),
        row(
            M::DELETE,
            "/api/v1/runner-tokens/{fresh_runner_token}",
            None,
            RunnerToken,
            [401, 403, 403, 403, 403, 204],
        ),
        row(
            M::GET,
            "/api/v1/scheduler",
            None,
            Fixed,
            [401, 403, 403, 403, 403, 200],
        ),
        row(
            M::GET,
            "/api/v1/providers",
            None,
            Fixed,
            [401, 200, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/providers",
            Some(json!({"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "scope": "global"})),
            ProviderBody,
            [401, 403, 403, 403, 403, 201],
        ),
        row(
            M::POST,
            "/api/v1/providers",
            Some(json!({"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "scope": "org"})),
            ProviderBody,
            [401, 404, 403, 201, 201, 201],
        ),
        row(
            M::GET,
            "/api/v1/providers/{provider}",
            None,
            Fixed,
            [401, 404, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/api/v1/providers/{provider}/models",
            None,
            Fixed,
            [401, 404, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/providers/{provider}/models",
            None,
            ModelName,
            [401, 404, 403, 201, 201, 201],
        ),
        row(
            M::DELETE,
            "/api/v1/providers/{fresh_provider}",
            None,
            Provider,
            [401, 404, 403, 204, 204, 204],
        ),
        row(
            M::GET,
            "/v1/models",
            None,
            Fixed,
            [401, 200, 200, 200, 200, 200],
        ),
        // Chat sessions are their owner's (the member's) alone: not even admins see them.
        row(
            M::GET,
            "/api/v1/sessions",
            None,
            Fixed,
            [401, 200, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/api/v1/sessions/{session}",
            None,
            Fixed,
            [401, 404, 200, 404, 404, 404],
        ),
        row(
            M::PATCH,
            "/api/v1/sessions/{session}",
            Some(json!({"name": SECRET_APP})),
            Fixed,
            [401, 404, 200, 404, 404, 404],
        ),
        row(
            M::POST,
            "/api/v1/sessions/{session}/fork",
            Some(json!({})),
            Fixed,
            [401, 404, 201, 404, 404, 404],
        ),
        row(
            M::GET,
            "/api/v1/usage",
            None,
            Fixed,
            [401, 200, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/api/v1/usage?all=true",
            None,
            Fixed,
            [401, 403, 403, 403, 403, 200],
        ),
        row(
            M::GET,
            "/api/v1/admin/users",
            None,
            Fixed,
            [401, 403, 403, 403, 403, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/admin/users/{member}",
            Some(json!({"is_admin": false})),
            Fixed,
            [401, 403, 403, 403, 403, 200],
        ),
        row(
            M::GET,
            "/api/v1/admin/settings",
            None,
            Fixed,
            [401, 403, 403, 403, 403, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/admin/settings",
            Some(json!({})),
            Fixed,
            [401, 403, 403, 403, 403, 200],
        ),
    ];
    let mut failures = Vec::new();
    for r in &rows {
        for (i, caller) in f.callers.iter().enumerate() {
            let (path, mut body) = f.target(r).await;
            if r.method == M::POST && path == "/api/v1/apps" {
                body = Some(json!({"org_id": f.ids["org"], "name": "New", "model": "m"}));
            }
            let resp = f.t.call(r.method.clone(), &path, caller, body).await;
            let got = resp.status.as_u16();
            if got != r.expect[i] {
                failures.push(format!(
                    "{} {} as {}: expected {}, got {} {:?}",
                    r.method, r.path, ACTORS[i], r.expect[i], got, resp.body
                ));
            }
            if !resp.status.is_success() {
                let text = resp.body.to_string();
                assert!(
                    !text.contains(SECRET_ORG)
                        && !text.contains(SECRET_APP)
                        && !text.contains(SECRET_RUNNER)
                        && !text.contains("hxr-")
                        && !text.contains("secret prompt"),
                    "{} {} as {} leaked: {text}",
                    r.method,
                    r.path,
                    ACTORS[i]
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn lists_show_only_what_the_caller_may_see() {
    let f = Fixture::new().await;
    let outsider = &f.callers[1];
    let apps = f.ok(Method::GET, "/api/v1/apps", outsider, None).await;
    assert!(
        !apps.to_string().contains(SECRET_APP),
        "outsider's app list leaks: {apps}"
    );
    let orgs = f.ok(Method::GET, "/api/v1/orgs", outsider, None).await;
    assert!(!orgs.to_string().contains(SECRET_ORG));
    let keys = f.ok(Method::GET, "/api/v1/api-keys", outsider, None).await;
    assert_eq!(
        keys.as_array().unwrap().len(),
        1,
        "only the outsider's own key: {keys}"
    );
    let member_apps = f.ok(Method::GET, "/api/v1/apps", &f.callers[2], None).await;
    assert_eq!(
        member_apps
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["name"] == SECRET_APP)
            .count(),
        2
    );
    // The last owner can neither leave nor be demoted.
    let org = &f.ids["org"];
    let owner_id = &f.ids["owner"];
    let r =
        f.t.call(
            Method::DELETE,
            &format!("/api/v1/orgs/{org}/members/{owner_id}"),
            f.owner(),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    let r =
        f.t.call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/members/{owner_id}"),
            f.owner(),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    // A member may leave on their own.
    let member_id = &f.ids["member"];
    let r =
        f.t.call(
            Method::DELETE,
            &format!("/api/v1/orgs/{org}/members/{member_id}"),
            &f.callers[2],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r =
        f.t.call(
            Method::GET,
            &format!("/api/v1/orgs/{org}"),
            &f.callers[2],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
