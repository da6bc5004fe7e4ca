//! API keys: create (shown once), list, revoke.

use super::validate;
use crate::auth::{token, Principal};
use crate::authz;
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::id::ApiKeyId;
use crate::model::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Creates an API key for the caller.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label to recognise the key by.
    pub name: String,
    /// Days until the key stops working (none: never).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Requests per minute allowed with this key (on top of the user's limits).
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute allowed with this key (on top of the user's limits).
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
}

/// A newly created key. `key` is the secret: it is shown here once and never again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key's metadata.
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The secret, `hx-...`.
    pub key: String,
}

fn positive(field: &'static str, v: Option<u32>) -> Result<Option<i64>> {
    match v {
        Some(0) => Err(CoreError::invalid(field, "must be at least 1")),
        other => Ok(other.map(i64::from)),
    }
}

/// Keys are managed from a signed-in session: a key that could mint keys would
/// outlive its own expiry and limits.
fn require_session(p: &Principal) -> Result<()> {
    match p.method {
        crate::auth::AuthMethod::ApiKey { .. } => Err(CoreError::Forbidden(
            "api keys are managed from a signed-in session, not with an api key".into(),
        )),
        _ => Ok(()),
    }
}

impl ControlPlane {
    /// Creates an API key acting as the caller.
    pub async fn create_api_key(
        &self,
        p: &Principal,
        req: CreateApiKeyRequest,
    ) -> Result<CreatedApiKey> {
        require_session(p)?;
        let name = validate::name("name", &req.name, 100)?;
        let now = self.now();
        let expires_at = match req.expires_in_days {
            Some(0) => return Err(CoreError::invalid("expires_in_days", "must be at least 1")),
            Some(d) if d > 3650 => {
                return Err(CoreError::invalid(
                    "expires_in_days",
                    "must be at most 3650",
                ))
            }
            Some(d) => Some(now + chrono::Duration::days(i64::from(d))),
            None => None,
        };
        let key = token::new_api_key();
        let api_key = ApiKey {
            id: ApiKeyId::new(),
            user_id: p.user.id.clone(),
            name,
            prefix: key.chars().take(token::API_KEY_SHOWN_PREFIX_LEN).collect(),
            created_at: now,
            last_used_at: None,
            expires_at,
            revoked_at: None,
            requests_per_minute: positive("requests_per_minute", req.requests_per_minute)?,
            tokens_per_minute: positive("tokens_per_minute", req.tokens_per_minute)?,
        };
        self.store_ref()
            .create_api_key(&api_key, &token::hash_token(&key))
            .await?;
        tracing::info!(user = %p.user.id, key = %api_key.id, "api key created");
        Ok(CreatedApiKey { api_key, key })
    }

    /// The caller's API keys (metadata only).
    pub async fn list_api_keys(&self, p: &Principal) -> Result<Vec<ApiKey>> {
        self.store_ref().list_api_keys(&p.user.id).await
    }

    /// Revokes one of the caller's keys; it stops working at once.
    pub async fn revoke_api_key(&self, p: &Principal, id: &ApiKeyId) -> Result<ApiKey> {
        require_session(p)?;
        let store = self.store_ref();
        let key = store
            .get_api_key(id)
            .await?
            .ok_or_else(|| CoreError::not_found("api key", id))?;
        authz::authorize_api_key(p, &key)?;
        store.revoke_api_key(id, self.now()).await?;
        self.auth_changed();
        store
            .get_api_key(id)
            .await?
            .ok_or_else(|| CoreError::not_found("api key", id))
    }
}
