//! The cache against a real control plane: changes made through it take effect at
//! once however long entries live; changes behind its back wait for the time to live.

use crate::auth::{Credentials, Principal};
use crate::model::{ProviderKind, Role, Scope};
use crate::ops::api_keys::CreateApiKeyRequest;
use crate::ops::orgs::{AddMemberRequest, CreateOrgRequest};
use crate::ops::providers::CreateProviderEndpointRequest;
use crate::{ControlPlane, ErrorCode, SecretBox, SqlStore};
use std::sync::Arc;
use std::time::Duration;

async fn control_plane(ttl: Duration) -> (ControlPlane, Principal, Principal, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite_dir(dir.path()).await.unwrap();
    let (secrets, _) = SecretBox::load_or_generate(None, dir.path()).unwrap();
    let cp = ControlPlane::builder()
        .store(Arc::new(store))
        .secrets(secrets)
        .allow_private_upstreams(true)
        .auth_cache_ttl(ttl)
        .build()
        .unwrap();
    let (admin, user, _) = crate::ops::test_users::admin_and_user(&cp).await;
    (cp, admin, user, dir)
}

async fn key_of(cp: &ControlPlane, p: &Principal) -> (Credentials, crate::id::ApiKeyId) {
    let created = cp
        .create_api_key(
            p,
            CreateApiKeyRequest {
                name: "k".into(),
                expires_in_days: None,
                requests_per_minute: None,
                tokens_per_minute: None,
            },
        )
        .await
        .unwrap();
    let creds = Credentials {
        api_key: Some(created.key),
        ..Default::default()
    };
    (creds, created.api_key.id)
}

async fn sees(cp: &ControlPlane, p: &Principal, endpoint: &str) -> bool {
    cp.usable_endpoints(p)
        .await
        .unwrap()
        .iter()
        .any(|e| e.name == endpoint)
}

#[tokio::test]
async fn changes_through_the_control_plane_take_effect_at_once() {
    let (cp, admin, user, _dir) = control_plane(Duration::from_secs(3600)).await;
    let (creds, key_id) = key_of(&cp, &user).await;
    let by_key = cp.authenticate(&creds).await.unwrap();

    let org = cp
        .create_org(&admin, CreateOrgRequest { name: "o".into() })
        .await
        .unwrap()
        .org;
    cp.create_provider_endpoint(
        &admin,
        CreateProviderEndpointRequest {
            name: "orgp".into(),
            kind: ProviderKind::Openai,
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: None,
            scope: Scope::Org {
                org_id: org.id.clone(),
            },
        },
    )
    .await
    .unwrap();
    assert!(!sees(&cp, &by_key, "orgp").await);
    // Memberships: joining and leaving show on the next call.
    cp.add_member(
        &admin,
        &org.id,
        AddMemberRequest {
            email: "user@x.io".into(),
            role: Role::Member,
        },
    )
    .await
    .unwrap();
    assert!(sees(&cp, &by_key, "orgp").await);
    cp.remove_member(&admin, &org.id, &user.user.id)
        .await
        .unwrap();
    assert!(!sees(&cp, &by_key, "orgp").await);
    // The admin flag travels with the key's principal.
    cp.set_user_admin(&admin, &user.user.id, true)
        .await
        .unwrap();
    assert!(cp.authenticate(&creds).await.unwrap().is_admin());
    cp.set_user_admin(&admin, &user.user.id, false)
        .await
        .unwrap();
    assert!(!cp.authenticate(&creds).await.unwrap().is_admin());
    // Revocation.
    cp.revoke_api_key(&user, &key_id).await.unwrap();
    let err = cp.authenticate(&creds).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidCredentials);
}

#[tokio::test]
async fn changes_behind_its_back_wait_for_the_time_to_live() {
    // Cached: a revocation written straight to the store is not seen yet.
    let (cp, _, user, _dir) = control_plane(Duration::from_secs(3600)).await;
    let (creds, key_id) = key_of(&cp, &user).await;
    cp.authenticate(&creds).await.unwrap();
    cp.store().revoke_api_key(&key_id, cp.now()).await.unwrap();
    assert!(cp.authenticate(&creds).await.is_ok());
    // Another replica's change arrives as an event on the bus.
    cp.inner.events.publish(crate::events::BusEvent::Control {
        origin: "another replica".into(),
        change: crate::events::ControlEvent::AuthChanged,
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cp.authenticate(&creds).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the event was not applied"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Off: every request reads the store.
    let (cp, _, user, _dir) = control_plane(Duration::ZERO).await;
    let (creds, key_id) = key_of(&cp, &user).await;
    cp.authenticate(&creds).await.unwrap();
    cp.store().revoke_api_key(&key_id, cp.now()).await.unwrap();
    let err = cp.authenticate(&creds).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidCredentials);
}
