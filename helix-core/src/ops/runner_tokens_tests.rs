use super::*;
use crate::auth::Credentials;
use crate::clock::ManualClock;
use crate::ops::api_keys::CreateApiKeyRequest;
use crate::{ErrorCode, SecretBox, SqlStore};
use std::sync::Arc;

struct Fixture {
    cp: ControlPlane,
    clock: ManualClock,
    admin: Principal,
    user: Principal,
    admin_session_token: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite_dir(dir.path()).await.unwrap();
    let (secrets, _) = SecretBox::load_or_generate(None, dir.path()).unwrap();
    let clock = ManualClock::new();
    let cp = ControlPlane::builder()
        .store(Arc::new(store))
        .secrets(secrets)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let (admin, user, admin_session_token) = crate::ops::test_users::admin_and_user(&cp).await;
    Fixture {
        cp,
        clock,
        admin,
        user,
        admin_session_token,
        _dir: dir,
    }
}

fn req(runner_id: &str) -> CreateRunnerTokenRequest {
    CreateRunnerTokenRequest {
        runner_id: runner_id.into(),
        description: Some("  rack 4  ".into()),
        expires_at: None,
    }
}

async fn last_used(f: &Fixture, id: &RunnerTokenId) -> Option<DateTime<Utc>> {
    let all = f.cp.list_runner_tokens(&f.admin).await.unwrap();
    all.into_iter().find(|t| &t.id == id).unwrap().last_used_at
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
    r.unwrap_err().code()
}

#[tokio::test]
async fn only_site_admins_manage_runner_tokens() {
    let f = fixture().await;
    let cp = &f.cp;
    assert_eq!(
        code(cp.create_runner_token(&f.user, req("gpu-1")).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(cp.list_runner_tokens(&f.user).await),
        ErrorCode::Forbidden
    );
    let created = cp
        .create_runner_token(&f.admin, req("gpu-1"))
        .await
        .unwrap();
    let t = &created.runner_token;
    assert!(t.id.as_str().starts_with("rtk_"));
    assert!(created.token.starts_with("hxr-"));
    assert_eq!(t.prefix, created.token[..12]);
    assert_eq!(t.runner_id, "gpu-1");
    assert_eq!(t.description.as_deref(), Some("rack 4"));
    assert_eq!(t.created_by, f.admin.user.id);
    assert_eq!(
        code(cp.revoke_runner_token(&f.user, &t.id).await),
        ErrorCode::Forbidden,
        "refused before the id is looked up"
    );
    assert_eq!(
        code(
            cp.revoke_runner_token(&f.admin, &RunnerTokenId::new())
                .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(
        cp.list_runner_tokens(&f.admin).await.unwrap(),
        std::slice::from_ref(t)
    );
}

#[tokio::test]
async fn create_validates_runner_id_description_and_expiry() {
    let f = fixture().await;
    for bad in ["", "GPU-1", "gpu_1", "-gpu", "a".repeat(64).as_str()] {
        let err =
            f.cp.create_runner_token(&f.admin, req(bad))
                .await
                .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad:?}");
        assert!(err.to_string().contains("runner_id"), "{err}");
    }
    let past = CreateRunnerTokenRequest {
        expires_at: Some(f.cp.now()),
        ..req("gpu-1")
    };
    let err = f.cp.create_runner_token(&f.admin, past).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.to_string().contains("expires_at"), "{err}");
    let long = CreateRunnerTokenRequest {
        description: Some("x".repeat(201)),
        ..req("gpu-1")
    };
    assert_eq!(
        code(f.cp.create_runner_token(&f.admin, long).await),
        ErrorCode::InvalidInput
    );
    let blank = CreateRunnerTokenRequest {
        description: Some("  ".into()),
        ..req("gpu-1")
    };
    let t = f.cp.create_runner_token(&f.admin, blank).await.unwrap();
    assert_eq!(t.runner_token.description, None);
}

#[tokio::test]
async fn authenticate_runner_accepts_only_live_runner_tokens() {
    let f = fixture().await;
    let cp = &f.cp;
    let a = cp
        .create_runner_token(&f.admin, req("gpu-1"))
        .await
        .unwrap();
    // Rotation: a second active token for the same runner.
    let b = cp
        .create_runner_token(&f.admin, req("gpu-1"))
        .await
        .unwrap();
    let expiring = CreateRunnerTokenRequest {
        expires_at: Some(cp.now() + chrono::Duration::hours(1)),
        ..req("gpu-2")
    };
    let c = cp.create_runner_token(&f.admin, expiring).await.unwrap();

    // Valid tokens name their token and runner; use is recorded.
    let who = cp.authenticate_runner(&a.token).await.unwrap();
    assert_eq!(
        who,
        RunnerIdentity {
            token_id: a.runner_token.id.clone(),
            runner_id: "gpu-1".into()
        }
    );
    assert_eq!(
        cp.authenticate_runner(&b.token).await.unwrap().token_id,
        b.runner_token.id
    );
    let first_use = cp.now();
    assert_eq!(last_used(&f, &a.runner_token.id).await, Some(first_use));
    f.clock.advance(chrono::Duration::seconds(10));
    cp.authenticate_runner(&a.token).await.unwrap();
    assert_eq!(
        last_used(&f, &a.runner_token.id).await,
        Some(first_use),
        "written at most once a minute"
    );
    f.clock.advance(chrono::Duration::minutes(2));
    cp.authenticate_runner(&a.token).await.unwrap();
    assert_eq!(last_used(&f, &a.runner_token.id).await, Some(cp.now()));

    // Wrong, malformed and other kinds of credentials: all the same error.
    let api_key = cp
        .create_api_key(
            &f.admin,
            CreateApiKeyRequest {
                name: "k".into(),
                expires_in_days: None,
                requests_per_minute: None,
                tokens_per_minute: None,
            },
        )
        .await
        .unwrap()
        .key;
    let mut forged = a.token.clone();
    forged.pop();
    forged.push(if a.token.ends_with('A') { 'B' } else { 'A' });
    let too_long = format!("hxr-{}", "a".repeat(300));
    for wrong in [
        "",
        "hxr-",
        forged.as_str(),
        too_long.as_str(),
        &a.token[4..],
        api_key.as_str(),
        f.admin_session_token.as_str(),
    ] {
        let err = cp.authenticate_runner(wrong).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidCredentials, "{wrong:?}");
    }

    // Revoked: refused at once, with the same message as an unknown token; the other
    // token of the runner keeps working.
    let unknown_msg = cp
        .authenticate_runner(&forged)
        .await
        .unwrap_err()
        .to_string();
    let revoked = cp
        .revoke_runner_token(&f.admin, &a.runner_token.id)
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    let again = cp
        .revoke_runner_token(&f.admin, &a.runner_token.id)
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at, revoked.revoked_at,
        "revoking twice changes nothing"
    );
    let err = cp.authenticate_runner(&a.token).await.unwrap_err();
    assert_eq!(
        (err.code(), err.to_string()),
        (ErrorCode::InvalidCredentials, unknown_msg.clone())
    );
    assert!(cp.authenticate_runner(&b.token).await.is_ok());

    // Expired: fine before, refused from the expiry on.
    assert_eq!(
        cp.authenticate_runner(&c.token).await.unwrap().runner_id,
        "gpu-2"
    );
    f.clock.advance(chrono::Duration::hours(1));
    let err = cp.authenticate_runner(&c.token).await.unwrap_err();
    assert_eq!(
        (err.code(), err.to_string()),
        (ErrorCode::InvalidCredentials, unknown_msg)
    );
}

#[tokio::test]
async fn runner_tokens_never_authenticate_users() {
    let f = fixture().await;
    let t =
        f.cp.create_runner_token(&f.admin, req("gpu-1"))
            .await
            .unwrap();
    for creds in [
        Credentials {
            api_key: Some(t.token.clone()),
            ..Default::default()
        },
        Credentials {
            session_token: Some(t.token.clone()),
            ..Default::default()
        },
    ] {
        let err = f.cp.authenticate(&creds).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidCredentials, "{creds:?}");
    }
}
