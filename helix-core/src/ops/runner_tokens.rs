//! Runner tokens: the credentials GPU runners dial in with. Site admins create (shown
//! once), list and revoke them; a runner presents one to
//! [`ControlPlane::authenticate_runner`] and gets a [`RunnerIdentity`], never a user.

use super::validate;
use crate::auth::{token, Principal, RunnerIdentity};
use crate::authz;
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::id::RunnerTokenId;
use crate::model::RunnerToken;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Creates a token for one runner.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRunnerTokenRequest {
    /// The runner the token authenticates: 1 to 63 lowercase letters, digits or dashes,
    /// not starting with a dash. A runner may hold several active tokens (rotation).
    pub runner_id: String,
    /// A note to recognise the token by.
    #[serde(default)]
    pub description: Option<String>,
    /// When the token stops working (none: never). Must be in the future.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A newly created runner token. `token` is the secret: it is shown here once and never
/// again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedRunnerToken {
    /// The token's metadata.
    #[serde(flatten)]
    pub runner_token: RunnerToken,
    /// The secret, `hxr-...`.
    pub token: String,
}

fn description(v: Option<String>) -> Result<Option<String>> {
    match v {
        Some(d) if !d.trim().is_empty() => Ok(Some(validate::name("description", &d, 200)?)),
        _ => Ok(None),
    }
}

impl ControlPlane {
    /// Creates a token for a runner (site admins).
    pub async fn create_runner_token(
        &self,
        p: &Principal,
        req: CreateRunnerTokenRequest,
    ) -> Result<CreatedRunnerToken> {
        authz::require_site_admin(p)?;
        let runner_id = validate::slug("runner_id", &req.runner_id)?;
        let now = self.now();
        if req.expires_at.is_some_and(|t| t <= now) {
            return Err(CoreError::invalid("expires_at", "must be in the future"));
        }
        let secret = token::new_runner_token();
        let runner_token = RunnerToken {
            id: RunnerTokenId::new(),
            runner_id,
            description: description(req.description)?,
            prefix: secret
                .chars()
                .take(token::RUNNER_TOKEN_SHOWN_PREFIX_LEN)
                .collect(),
            created_by: p.user.id.clone(),
            created_at: now,
            // Stored with millisecond precision; return what will be read back.
            expires_at: req
                .expires_at
                .map(|t| crate::clock::ms_to_time(t.timestamp_millis())),
            revoked_at: None,
            last_used_at: None,
        };
        self.store_ref()
            .create_runner_token(&runner_token, &token::hash_token(&secret))
            .await?;
        tracing::info!(user = %p.user.id, token = %runner_token.id,
            runner = %runner_token.runner_id, "runner token created");
        Ok(CreatedRunnerToken {
            runner_token,
            token: secret,
        })
    }

    /// Every runner token, newest first (site admins; metadata only).
    pub async fn list_runner_tokens(&self, p: &Principal) -> Result<Vec<RunnerToken>> {
        authz::require_site_admin(p)?;
        self.store_ref().list_runner_tokens().await
    }

    /// Revokes a runner token (site admins): a runner can no longer authenticate with
    /// it. Revoking a revoked token changes nothing. Returns the token.
    pub async fn revoke_runner_token(
        &self,
        p: &Principal,
        id: &RunnerTokenId,
    ) -> Result<RunnerToken> {
        authz::require_site_admin(p)?;
        let store = self.store_ref();
        if store.revoke_runner_token(id, self.now()).await? {
            tracing::info!(user = %p.user.id, token = %id, "runner token revoked");
        }
        store
            .get_runner_token(id)
            .await?
            .ok_or_else(|| CoreError::not_found("runner token", id))
    }

    /// Authenticates a runner by the token it presented. Unknown, revoked and expired
    /// tokens all get the same [`CoreError::InvalidCredentials`], so a caller cannot
    /// tell which. API keys and session tokens are never runner tokens.
    pub async fn authenticate_runner(&self, plaintext: &str) -> Result<RunnerIdentity> {
        if !plaintext.starts_with(token::RUNNER_TOKEN_PREFIX) || plaintext.len() > 256 {
            return Err(CoreError::InvalidCredentials);
        }
        let store = self.store_ref();
        let now = self.now();
        let found = store
            .find_active_runner_token(&token::hash_token(plaintext), now)
            .await?
            .ok_or(CoreError::InvalidCredentials)?;
        let stale = found
            .last_used_at
            .is_none_or(|t| now - t >= super::accounts::TOUCH_INTERVAL);
        if stale {
            // Best effort: a failed bookkeeping write must not lock a runner out.
            if let Err(e) = store.touch_runner_token(&found.id, now).await {
                tracing::warn!(token = %found.id, error = %e, "cannot record runner token use");
            }
        }
        Ok(RunnerIdentity {
            token_id: found.id,
            runner_id: found.runner_id,
        })
    }
}

#[cfg(test)]
#[path = "runner_tokens_tests.rs"]
mod tests;
