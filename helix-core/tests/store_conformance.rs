//! The storage conformance suite: every case runs on SQLite and on a real PostgreSQL
//! (`HELIX_TEST_PG_URL`, started by scripts/test.sh; required in CI).

use chrono::{Duration, Utc};
use helix_core::clock::{Clock, SystemClock};
use helix_core::id::*;
use helix_core::model::*;
use helix_core::store::{AdminRule, LoginSessionRecord, NewInteraction, NewUser, OidcFlowRecord};
use helix_core::{CoreError, ErrorCode, Store};
use std::sync::Arc;

fn now() -> chrono::DateTime<Utc> {
    SystemClock.now()
}

async fn user(s: &dyn Store, email: &str, admin: AdminRule) -> User {
    s.create_user(&NewUser {
        id: UserId::new(),
        email: email.into(),
        name: email.split('@').next().unwrap().into(),
        password_hash: Some("$argon2id$fake".into()),
        admin,
        created_at: now(),
    })
    .await
    .unwrap()
}

async fn org(s: &dyn Store, owner: &User) -> Org {
    let o = Org {
        id: OrgId::new(),
        name: "Acme".into(),
        created_at: now(),
    };
    s.create_org(&o, &owner.id).await.unwrap();
    o
}

async fn users(s: &dyn Store) {
    assert!(!s.has_users().await.unwrap());
    let a = user(s, "a@x.io", AdminRule::IfFirst).await;
    let b = user(s, "b@x.io", AdminRule::IfFirst).await;
    assert!(a.is_admin, "first user is admin");
    assert!(!b.is_admin, "second user is not");
    assert!(s.has_users().await.unwrap());
    assert_eq!(s.get_user(&a.id).await.unwrap().unwrap(), a);
    assert_eq!(s.get_user_by_email("b@x.io").await.unwrap().unwrap(), b);
    assert!(s.get_user(&UserId::new()).await.unwrap().is_none());
    assert_eq!(
        s.get_password_hash(&a.id).await.unwrap().as_deref(),
        Some("$argon2id$fake")
    );
    let dup = s
        .create_user(&NewUser {
            id: UserId::new(),
            email: "a@x.io".into(),
            name: "dup".into(),
            password_hash: None,
            admin: AdminRule::No,
            created_at: now(),
        })
        .await
        .unwrap_err();
    assert_eq!(dup.code(), ErrorCode::Conflict);
    assert!(s.set_user_admin(&b.id, true).await.unwrap());
    assert!(s.get_user(&b.id).await.unwrap().unwrap().is_admin);
    assert!(!s.set_user_admin(&UserId::new(), true).await.unwrap());
    let all = s.list_users().await.unwrap();
    assert_eq!(
        all.iter().map(|u| &u.id).collect::<Vec<_>>(),
        vec![&a.id, &b.id]
    );
    // Timestamps keep millisecond precision.
    assert_eq!(a.created_at.timestamp_subsec_micros() % 1000, 0);
}

async fn identities_sessions_flows(s: &dyn Store) {
    let a = user(s, "a@x.io", AdminRule::No).await;
    s.link_identity("https://idp", "sub-1", &a.id, now())
        .await
        .unwrap();
    s.link_identity("https://idp", "sub-1", &a.id, now())
        .await
        .unwrap();
    assert_eq!(
        s.find_identity("https://idp", "sub-1").await.unwrap(),
        Some(a.id.clone())
    );
    assert_eq!(
        s.find_identity("https://other", "sub-1").await.unwrap(),
        None
    );
    let err = s
        .link_identity("https://idp", "sub-2", &UserId::new(), now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);

    let rec = LoginSessionRecord {
        token_hash: "h1".into(),
        user_id: a.id.clone(),
        csrf_token: "c1".into(),
        created_at: now(),
        expires_at: now() + Duration::hours(1),
    };
    s.create_login_session(&rec).await.unwrap();
    let old = LoginSessionRecord {
        token_hash: "h0".into(),
        expires_at: now() - Duration::hours(1),
        ..rec.clone()
    };
    s.create_login_session(&old).await.unwrap();
    assert_eq!(
        s.get_login_session("h1").await.unwrap().unwrap(),
        (rec.clone(), a.clone())
    );
    assert_eq!(s.delete_expired_login_sessions(now()).await.unwrap(), 1);
    assert!(s.get_login_session("h0").await.unwrap().is_none());
    s.delete_login_session("h1").await.unwrap();
    assert!(s.get_login_session("h1").await.unwrap().is_none());

    let flow = OidcFlowRecord {
        state: "st".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        return_to: "/".into(),
        created_at: now(),
    };
    s.put_oidc_flow(&flow).await.unwrap();
    assert_eq!(
        s.put_oidc_flow(&flow).await.unwrap_err().code(),
        ErrorCode::Conflict
    );
    assert_eq!(s.take_oidc_flow("st").await.unwrap(), Some(flow));
    assert_eq!(
        s.take_oidc_flow("st").await.unwrap(),
        None,
        "a state is usable once"
    );
    let old_flow = OidcFlowRecord {
        state: "old".into(),
        created_at: now() - Duration::hours(2),
        ..flow_template()
    };
    s.put_oidc_flow(&old_flow).await.unwrap();
    s.put_oidc_flow(&OidcFlowRecord {
        state: "new".into(),
        ..flow_template()
    })
    .await
    .unwrap();
    assert_eq!(
        s.delete_oidc_flows_before(now() - Duration::hours(1))
            .await
            .unwrap(),
        1
    );
    assert!(s.take_oidc_flow("new").await.unwrap().is_some());
}

fn flow_template() -> OidcFlowRecord {
    OidcFlowRecord {
        state: "t".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        return_to: "/".into(),
        created_at: now(),
    }
}

async fn first_admin_under_concurrency(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            user(s.as_ref(), &format!("u{i}@x.io"), AdminRule::IfFirst).await
        }));
    }
    let mut admins = 0;
    for t in tasks {
        admins += usize::from(t.await.unwrap().is_admin);
    }
    assert_eq!(admins, 1, "exactly one first user");
}

/// Two owners stepping down at once (one demoted, one removed): the check that one
/// owner stays is part of each change, so exactly one of them goes through.
async fn last_owner_under_concurrency(s: Arc<dyn Store>) {
    let a = user(s.as_ref(), "owner-a@x.io", AdminRule::IfFirst).await;
    let b = user(s.as_ref(), "owner-b@x.io", AdminRule::IfFirst).await;
    for _ in 0..8 {
        let o = org(s.as_ref(), &a).await;
        s.put_member(&o.id, &b.id, Role::Owner, now())
            .await
            .unwrap();
        let (s1, s2, org1, org2, a_id, b_id) = (
            s.clone(),
            s.clone(),
            o.id.clone(),
            o.id.clone(),
            a.id.clone(),
            b.id.clone(),
        );
        let demote =
            tokio::spawn(async move { s1.put_member(&org1, &a_id, Role::Member, now()).await });
        let remove = tokio::spawn(async move { s2.remove_member(&org2, &b_id).await.map(|_| ()) });
        let results = [demote.await.unwrap(), remove.await.unwrap()];
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(CoreError::Conflict(_))))
            .count();
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || matches!(r, Err(CoreError::Conflict(_)))),
            "{results:?}"
        );
        assert_eq!(refused, 1, "exactly one change is refused: {results:?}");
        assert_eq!(s.count_owners(&o.id).await.unwrap(), 1);
    }
    // Alone, a last owner can neither be demoted nor removed; others come and go.
    let o = org(s.as_ref(), &a).await;
    let err = s
        .put_member(&o.id, &a.id, Role::Admin, now())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err:?}");
    let err = s.remove_member(&o.id, &a.id).await.unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err:?}");
    s.put_member(&o.id, &b.id, Role::Member, now())
        .await
        .unwrap();
    assert!(s.remove_member(&o.id, &b.id).await.unwrap());
    assert_eq!(s.count_owners(&o.id).await.unwrap(), 1);
}

async fn api_keys_and_settings(s: &dyn Store) {
    let a = user(s, "a@x.io", AdminRule::No).await;
    let mk = |name: &str| ApiKey {
        id: ApiKeyId::new(),
        user_id: a.id.clone(),
        name: name.into(),
        prefix: "hx-abcdefg".into(),
        created_at: now(),
        last_used_at: None,
        expires_at: Some(now() + Duration::days(1)),
        revoked_at: None,
        requests_per_minute: Some(60),
        tokens_per_minute: None,
    };
    let k1 = mk("one");
    s.create_api_key(&k1, "hash1").await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let k2 = mk("two");
    s.create_api_key(&k2, "hash2").await.unwrap();
    assert_eq!(
        s.create_api_key(&mk("dup"), "hash1")
            .await
            .unwrap_err()
            .code(),
        ErrorCode::Conflict
    );
    assert_eq!(
        s.find_api_key_by_hash("hash1").await.unwrap().unwrap(),
        (k1.clone(), a.clone())
    );
    assert!(s.find_api_key_by_hash("nope").await.unwrap().is_none());
    let listed = s.list_api_keys(&a.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| &k.name[..]).collect::<Vec<_>>(),
        ["two", "one"]
    );
    let t = now();
    s.touch_api_key(&k1.id, t).await.unwrap();
    assert_eq!(
        s.get_api_key(&k1.id).await.unwrap().unwrap().last_used_at,
        Some(t)
    );
    assert!(s.revoke_api_key(&k1.id, t).await.unwrap());
    assert!(
        !s.revoke_api_key(&k1.id, t).await.unwrap(),
        "revoking twice is a no-op"
    );
    assert_eq!(
        s.get_api_key(&k1.id).await.unwrap().unwrap().revoked_at,
        Some(t)
    );

    assert_eq!(s.get_setting("k").await.unwrap(), None);
    s.put_setting("k", "1").await.unwrap();
    s.put_setting("k", "2").await.unwrap();
    assert_eq!(s.get_setting("k").await.unwrap().as_deref(), Some("2"));
}

async fn runner_tokens(s: &dyn Store) {
    let admin = user(s, "root@x.io", AdminRule::Yes).await;
    let mk = |runner: &str, expires_at| RunnerToken {
        id: RunnerTokenId::new(),
        runner_id: runner.into(),
        description: None,
        prefix: "hxr-abcdefgh".into(),
        created_by: admin.id.clone(),
        created_at: now(),
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    let t1 = RunnerToken {
        description: Some("rack 4".into()),
        ..mk("gpu-1", None)
    };
    s.create_runner_token(&t1, "rhash1").await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    // Several tokens for one runner (rotation).
    let t2 = mk("gpu-1", Some(now() + Duration::days(1)));
    s.create_runner_token(&t2, "rhash2").await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let expired = mk("gpu-2", Some(now() - Duration::seconds(1)));
    s.create_runner_token(&expired, "rhash3").await.unwrap();
    assert_eq!(
        s.create_runner_token(&mk("gpu-3", None), "rhash1")
            .await
            .unwrap_err()
            .code(),
        ErrorCode::Conflict,
        "hashes are unique"
    );
    let orphan = RunnerToken {
        created_by: UserId::new(),
        ..mk("gpu-3", None)
    };
    assert_eq!(
        s.create_runner_token(&orphan, "rhash4")
            .await
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );

    assert_eq!(
        s.list_runner_tokens().await.unwrap(),
        [expired.clone(), t2.clone(), t1.clone()],
        "newest first"
    );
    assert_eq!(s.get_runner_token(&t1.id).await.unwrap(), Some(t1.clone()));
    assert_eq!(
        s.get_runner_token(&RunnerTokenId::new()).await.unwrap(),
        None
    );

    let t = now();
    assert_eq!(
        s.find_active_runner_token("rhash1", t).await.unwrap(),
        Some(t1.clone())
    );
    assert_eq!(
        s.find_active_runner_token("rhash2", t).await.unwrap(),
        Some(t2.clone())
    );
    assert_eq!(s.find_active_runner_token("nope", t).await.unwrap(), None);
    assert_eq!(
        s.find_active_runner_token("rhash3", t).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        s.find_active_runner_token("rhash2", t2.expires_at.unwrap())
            .await
            .unwrap(),
        None,
        "expired from the expiry time on"
    );

    s.touch_runner_token(&t1.id, t).await.unwrap();
    assert_eq!(
        s.get_runner_token(&t1.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t)
    );
    assert!(s.revoke_runner_token(&t1.id, t).await.unwrap());
    assert!(
        !s.revoke_runner_token(&t1.id, t).await.unwrap(),
        "revoking twice is a no-op"
    );
    assert!(!s
        .revoke_runner_token(&RunnerTokenId::new(), t)
        .await
        .unwrap());
    assert_eq!(
        s.get_runner_token(&t1.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(t)
    );
    assert_eq!(
        s.find_active_runner_token("rhash1", t).await.unwrap(),
        None,
        "revoked"
    );
    assert!(
        s.find_active_runner_token("rhash2", t)
            .await
            .unwrap()
            .is_some(),
        "the runner's other token still works"
    );
}

async fn orgs_members_apps(s: &dyn Store) {
    let a = user(s, "a@x.io", AdminRule::No).await;
    let b = user(s, "b@x.io", AdminRule::No).await;
    let o = org(s, &a).await;
    assert_eq!(s.get_org(&o.id).await.unwrap().unwrap(), o);
    assert_eq!(s.get_role(&o.id, &a.id).await.unwrap(), Some(Role::Owner));
    assert_eq!(s.get_role(&o.id, &b.id).await.unwrap(), None);
    s.put_member(&o.id, &b.id, Role::Member, now())
        .await
        .unwrap();
    s.put_member(&o.id, &b.id, Role::Admin, now())
        .await
        .unwrap();
    assert_eq!(s.get_role(&o.id, &b.id).await.unwrap(), Some(Role::Admin));
    let err = s
        .put_member(&o.id, &UserId::new(), Role::Member, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    let members = s.list_members(&o.id).await.unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].email, "a@x.io");
    assert_eq!(s.count_owners(&o.id).await.unwrap(), 1);
    let mine = s.list_orgs_for_user(&b.id).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].role, Role::Admin);
    let renamed = Org {
        name: "Acme 2".into(),
        ..o.clone()
    };
    assert!(s.update_org(&renamed).await.unwrap());
    assert_eq!(s.get_org(&o.id).await.unwrap().unwrap().name, "Acme 2");

    let app = App {
        id: AppId::new(),
        org_id: o.id.clone(),
        created_by: a.id.clone(),
        name: "Helper".into(),
        description: String::new(),
        system_prompt: "Be brief. ✓".into(),
        model: "openai/gpt-4o-mini".into(),
        settings: serde_json::json!({"temperature": 0.2}),
        created_at: now(),
        updated_at: now(),
    };
    s.create_app(&app).await.unwrap();
    assert_eq!(s.get_app(&app.id).await.unwrap().unwrap(), app);
    let bad = App {
        id: AppId::new(),
        org_id: OrgId::new(),
        ..app.clone()
    };
    assert_eq!(
        s.create_app(&bad).await.unwrap_err().code(),
        ErrorCode::NotFound
    );
    let changed = App {
        name: "Helper 2".into(),
        settings: serde_json::json!({}),
        ..app.clone()
    };
    assert!(s.update_app(&changed).await.unwrap());
    assert_eq!(s.list_apps(&o.id).await.unwrap(), vec![changed]);

    assert!(s.remove_member(&o.id, &b.id).await.unwrap());
    assert!(!s.remove_member(&o.id, &b.id).await.unwrap());
    assert!(s.delete_org(&o.id).await.unwrap());
    assert!(
        s.get_app(&app.id).await.unwrap().is_none(),
        "apps go with their org"
    );
    assert!(s.list_orgs_for_user(&a.id).await.unwrap().is_empty());
    assert!(s.list_all_orgs().await.unwrap().is_empty());
}

async fn providers_and_models(s: &dyn Store) {
    let a = user(s, "a@x.io", AdminRule::No).await;
    let o = org(s, &a).await;
    let ep = ProviderEndpoint {
        id: ProviderEndpointId::new(),
        name: "openai".into(),
        kind: ProviderKind::Openai,
        base_url: "https://api.openai.com/v1".into(),
        scope: Scope::Org {
            org_id: o.id.clone(),
        },
        has_api_key: true,
        created_at: now(),
    };
    let sealed = vec![1u8, 0, 255, 7];
    s.create_provider_endpoint(&ep, Some(&sealed))
        .await
        .unwrap();
    let (got, key) = s.get_provider_endpoint(&ep.id).await.unwrap().unwrap();
    assert_eq!(got, ep);
    assert_eq!(key, Some(sealed.clone()));
    let dup = ProviderEndpoint {
        id: ProviderEndpointId::new(),
        ..ep.clone()
    };
    assert_eq!(
        s.create_provider_endpoint(&dup, None)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::Conflict
    );
    let global = ProviderEndpoint {
        id: ProviderEndpointId::new(),
        scope: Scope::Global,
        has_api_key: false,
        ..ep.clone()
    };
    s.create_provider_endpoint(&global, None).await.unwrap();
    assert_eq!(
        s.list_provider_endpoints().await.unwrap(),
        vec![ep.clone(), global.clone()]
    );

    let m = Model {
        id: ModelId::new(),
        provider_endpoint_id: ep.id.clone(),
        name: "gpt-4o-mini".into(),
        is_default: true,
        context_length: Some(128_000),
        created_at: now(),
    };
    s.create_model(&m).await.unwrap();
    assert_eq!(s.list_models(Some(&ep.id)).await.unwrap(), vec![m.clone()]);
    assert!(s.list_models(Some(&global.id)).await.unwrap().is_empty());
    assert!(s.delete_provider_endpoint(&ep.id).await.unwrap());
    assert!(
        s.list_models(None).await.unwrap().is_empty(),
        "models go with their endpoint"
    );
}

async fn chat_sessions(s: Arc<dyn Store>) {
    let a = user(s.as_ref(), "a@x.io", AdminRule::No).await;
    let sess = ChatSession {
        id: SessionId::new(),
        owner_id: a.id.clone(),
        org_id: None,
        app_id: None,
        name: "First chat".into(),
        model: "m".into(),
        created_at: now(),
        updated_at: now(),
    };
    s.create_session(&sess).await.unwrap();
    assert_eq!(s.get_session(&sess.id).await.unwrap().unwrap(), sess);
    let new = |role, content: &str| NewInteraction {
        id: InteractionId::new(),
        session_id: sess.id.clone(),
        role,
        content: content.into(),
        tool_calls: None,
        tool_call_id: None,
        state: InteractionState::Complete,
        created_at: now(),
    };
    let first = s
        .append_interaction(&new(MessageRole::User, "hi"))
        .await
        .unwrap();
    assert_eq!(first.seq, 0);
    let mut reply = s
        .append_interaction(&NewInteraction {
            state: InteractionState::Waiting,
            ..new(MessageRole::Assistant, "")
        })
        .await
        .unwrap();
    assert_eq!(reply.seq, 1);
    reply.content = "hello".into();
    reply.state = InteractionState::Complete;
    reply.tool_calls = Some(serde_json::json!([{"id": "c1", "type": "function"}]));
    reply.usage = Some(TokenUsage {
        prompt_tokens: 3,
        completion_tokens: 1,
    });
    assert!(s.update_interaction(&reply).await.unwrap());

    // Concurrent appends each get their own position.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        let n = new(MessageRole::User, &format!("m{i}"));
        tasks.push(tokio::spawn(async move {
            s.append_interaction(&n).await.map(|x| x.seq)
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (2..10).collect::<Vec<_>>());

    let log = s.list_interactions(&sess.id).await.unwrap();
    assert_eq!(log.len(), 10);
    assert_eq!(log[1], reply);
    let missing = NewInteraction {
        session_id: SessionId::new(),
        ..new(MessageRole::User, "x")
    };
    assert_eq!(
        s.append_interaction(&missing).await.unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(s.delete_interactions_from(&sess.id, 8).await.unwrap(), 2);
    assert_eq!(s.list_interactions(&sess.id).await.unwrap().len(), 8);
    let next = s
        .append_interaction(&new(MessageRole::User, "again"))
        .await
        .unwrap();
    assert_eq!(next.seq, 8, "positions are reused after a truncation");
    assert!(s.rename_session(&sess.id, "Renamed", now()).await.unwrap());
    assert_eq!(s.list_sessions(&a.id).await.unwrap()[0].name, "Renamed");
    assert!(s.delete_session(&sess.id).await.unwrap());
    assert!(s.list_interactions(&sess.id).await.unwrap().is_empty());
}

async fn usage_records(s: &dyn Store) {
    let a = user(s, "a@x.io", AdminRule::No).await;
    let b = user(s, "b@x.io", AdminRule::No).await;
    let rec = |u: &User, model: &str, status: &str, prompt, completion, latency| UsageRecord {
        id: UsageId::new(),
        user_id: u.id.clone(),
        api_key_id: None,
        provider_endpoint_id: None,
        model: model.into(),
        upstream_model: model.into(),
        kind: "chat".into(),
        prompt_tokens: prompt,
        completion_tokens: completion,
        latency_ms: latency,
        ttft_ms: Some(5),
        status: status.into(),
        error_code: None,
        created_at: now(),
    };
    s.record_usage(&rec(&a, "m1", "ok", 10, 20, 100))
        .await
        .unwrap();
    s.record_usage(&rec(&a, "m1", "error", 1, 0, 300))
        .await
        .unwrap();
    s.record_usage(&rec(&a, "m2", "ok", 5, 5, 50))
        .await
        .unwrap();
    s.record_usage(&rec(&b, "m1", "ok", 7, 7, 10))
        .await
        .unwrap();
    let mine = s
        .usage_summary(Some(&a.id), now() - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
    let m1 = mine.iter().find(|r| r.model == "m1").unwrap();
    assert_eq!(
        (
            m1.calls,
            m1.errors,
            m1.prompt_tokens,
            m1.completion_tokens,
            m1.avg_latency_ms
        ),
        (2, 1, 11, 20, 200)
    );
    assert_eq!(m1.day, now().date_naive());
    let all = s
        .usage_summary(None, now() - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(all.iter().map(|r| r.calls).sum::<i64>(), 4);
    assert!(s
        .usage_summary(None, now() + Duration::days(1))
        .await
        .unwrap()
        .is_empty());
    let day_ago = now() - Duration::days(1);
    assert_eq!(
        s.tokens_used_since(&a.id, day_ago).await.unwrap(),
        10 + 20 + 1 + 5 + 5
    );
    assert_eq!(
        s.tokens_used_since(&a.id, now() + Duration::days(1))
            .await
            .unwrap(),
        0
    );
}

macro_rules! conformance {
    ($($case:ident),* ; $($arc_case:ident),*) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() {
                let (s, _dir) = helix_core::testing::sqlite_store().await;
                super::$case(&s).await;
            })*
            $(#[tokio::test] async fn $arc_case() {
                let (s, _dir) = helix_core::testing::sqlite_store().await;
                super::$arc_case(std::sync::Arc::new(s)).await;
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() {
                if let Some(s) = helix_core::testing::postgres_store().await {
                    super::$case(&s).await;
                }
            })*
            $(#[tokio::test] async fn $arc_case() {
                if let Some(s) = helix_core::testing::postgres_store().await {
                    super::$arc_case(std::sync::Arc::new(s)).await;
                }
            })*
        }
    };
}

conformance!(users, identities_sessions_flows, api_keys_and_settings, runner_tokens, orgs_members_apps, providers_and_models, usage_records; chat_sessions, first_admin_under_concurrency, last_owner_under_concurrency);
