//! The OpenAPI document is generated from the code; `docs/openapi.json` is its
//! checked-in copy (for client generation). This fails when they drift. To accept a
//! change: `HELIX_BLESS=1 cargo test -p helix-server --test openapi`.

mod common;

use axum::http::Method;
use common::{Caller, TestApp};

fn doc_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[test]
fn checked_in_document_matches_the_code() {
    let generated = serde_json::to_string_pretty(&helix_server::openapi()).unwrap() + "\n";
    if std::env::var("HELIX_BLESS").as_deref() == Ok("1") {
        std::fs::write(doc_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(doc_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date; run HELIX_BLESS=1 cargo test -p helix-server --test openapi"
    );
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_served() {
    let t = TestApp::new().await;
    let served = t
        .call(
            Method::GET,
            "/api/v1/openapi.json",
            &Caller::Anonymous,
            None,
        )
        .await;
    assert_eq!(
        served.body,
        serde_json::to_value(helix_server::openapi()).unwrap()
    );
    let doc = serde_json::to_value(helix_server::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{} paths", paths.len());
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let m: Method = method.to_uppercase().parse().unwrap();
            let concrete = path
                .replace("{org_id}", "org_01JD0000000000000000000000")
                .replace("{app_id}", "app_01JD0000000000000000000000")
                .replace("{user_id}", "usr_01JD0000000000000000000000")
                .replace("{key_id}", "key_01JD0000000000000000000000")
                .replace("{token_id}", "rtk_01JD0000000000000000000000");
            let r = t.call(m.clone(), &concrete, &Caller::Anonymous, None).await;
            let fallback = r.body["error"]["message"] == "no such route" || r.status == 405;
            assert!(!fallback, "{m} {path} is documented but not routed");
        }
    }
}

#[test]
fn operation_ids_are_unique() {
    let doc = serde_json::to_value(helix_server::openapi()).unwrap();
    let mut seen = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(
                seen.insert(id.clone()),
                "{method} {path}: operationId {id} repeats"
            );
        }
    }
}
