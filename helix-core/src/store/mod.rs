//! Storage: the `Store` trait and its sqlx backends.
//!
//! [`Store`] is split by area into sub-traits ([`AccountStore`], [`OrgStore`],
//! [`ProviderStore`], [`ChatStore`], [`UsageStore`], [`RunnerStore`]) so each backend
//! file stays small. The one SQL
//! implementation, [`SqlStore`], runs on SQLite (the embedded default: one file, WAL
//! mode) and on PostgreSQL; each backend has its own versioned migrations. The same
//! conformance suite (`tests/store_conformance.rs`) runs against both.

mod accounts;
mod chat;
mod orgs;
mod providers;
mod rows;
mod runners;
mod sql;
mod usage;

pub use sql::{Backend, SqlStore};

use crate::error::Result;
use crate::id::*;
use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A user to create, with what only the store may see.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id.
    pub id: UserId,
    /// Lowercased email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string; `None` for SSO-only accounts.
    pub password_hash: Option<String>,
    /// Whether the account is a site admin.
    pub admin: AdminRule,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// How a new user's admin flag is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminRule {
    /// Admin exactly when no other user exists yet (decided atomically by the store).
    IfFirst,
    /// Always admin.
    Yes,
    /// Never admin.
    No,
}

/// A stored login session. The cookie carries the token; only its hash is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginSessionRecord {
    /// SHA-256 of the session token, hex.
    pub token_hash: String,
    /// The signed-in user.
    pub user_id: UserId,
    /// The CSRF token bound to this session.
    pub csrf_token: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry time.
    pub expires_at: DateTime<Utc>,
}

/// A pending OpenID Connect login, keyed by its `state`.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcFlowRecord {
    /// The OAuth `state` value.
    pub state: String,
    /// The OpenID `nonce` expected in the ID token.
    pub nonce: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
    /// Local path to return to after login.
    pub return_to: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An interaction to append; the store assigns its position.
#[derive(Debug, Clone)]
pub struct NewInteraction {
    /// Id.
    pub id: InteractionId,
    /// Session.
    pub session_id: SessionId,
    /// Author.
    pub role: MessageRole,
    /// Content.
    pub content: String,
    /// Tool calls, if any.
    pub tool_calls: Option<serde_json::Value>,
    /// Tool call answered, if any.
    pub tool_call_id: Option<String>,
    /// Initial state.
    pub state: InteractionState,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Users, SSO identities, login sessions, OIDC flows, API keys and settings.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates a user; `Conflict` when the email is taken.
    async fn create_user(&self, user: &NewUser) -> Result<User>;
    /// A user by id.
    async fn get_user(&self, id: &UserId) -> Result<Option<User>>;
    /// A user by (lowercased) email.
    async fn get_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// The user's password hash, if it has one.
    async fn get_password_hash(&self, id: &UserId) -> Result<Option<String>>;
    /// Whether any user exists yet.
    async fn has_users(&self) -> Result<bool>;
    /// Every user, oldest first.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Sets or clears the site-admin flag; false when the user does not exist.
    async fn set_user_admin(&self, id: &UserId, is_admin: bool) -> Result<bool>;
    /// Links an SSO identity to a user (idempotent).
    async fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The user linked to an SSO identity.
    async fn find_identity(&self, issuer: &str, subject: &str) -> Result<Option<UserId>>;
    /// Stores a login session.
    async fn create_login_session(&self, session: &LoginSessionRecord) -> Result<()>;
    /// A login session by token hash, with its user (one query: it runs on every
    /// cookie-authenticated request).
    async fn get_login_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<(LoginSessionRecord, User)>>;
    /// Deletes a login session.
    async fn delete_login_session(&self, token_hash: &str) -> Result<()>;
    /// Deletes every login session that expired before `now`; returns how many.
    async fn delete_expired_login_sessions(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Stores a pending OIDC flow.
    async fn put_oidc_flow(&self, flow: &OidcFlowRecord) -> Result<()>;
    /// Deletes pending OIDC flows started before `before`; returns how many.
    async fn delete_oidc_flows_before(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Removes and returns a pending OIDC flow: each state is usable once.
    async fn take_oidc_flow(&self, state: &str) -> Result<Option<OidcFlowRecord>>;
    /// Stores an API key's metadata and hash.
    async fn create_api_key(&self, key: &ApiKey, key_hash: &str) -> Result<()>;
    /// An API key by the hash of its secret, with its user (one query: it runs on
    /// every key-authenticated request).
    async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<(ApiKey, User)>>;
    /// An API key by id.
    async fn get_api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>>;
    /// A user's API keys, newest first.
    async fn list_api_keys(&self, user: &UserId) -> Result<Vec<ApiKey>>;
    /// Marks a key revoked; false when it does not exist or was already revoked.
    async fn revoke_api_key(&self, id: &ApiKeyId, now: DateTime<Utc>) -> Result<bool>;
    /// Records use of a key.
    async fn touch_api_key(&self, id: &ApiKeyId, now: DateTime<Utc>) -> Result<()>;
    /// An instance setting.
    async fn get_setting(&self, key: &str) -> Result<Option<String>>;
    /// Sets an instance setting.
    async fn put_setting(&self, key: &str, value: &str) -> Result<()>;
}

/// Orgs, memberships and apps.
#[async_trait]
pub trait OrgStore: Send + Sync + 'static {
    /// Creates an org with `owner` as its first owner, atomically.
    async fn create_org(&self, org: &Org, owner: &UserId) -> Result<()>;
    /// An org by id.
    async fn get_org(&self, id: &OrgId) -> Result<Option<Org>>;
    /// Renames an org; false when it does not exist.
    async fn update_org(&self, org: &Org) -> Result<bool>;
    /// Deletes an org and everything it owns; false when it does not exist.
    async fn delete_org(&self, id: &OrgId) -> Result<bool>;
    /// The orgs a user belongs to, with their role.
    async fn list_orgs_for_user(&self, user: &UserId) -> Result<Vec<OrgWithRole>>;
    /// Every org (site admins).
    async fn list_all_orgs(&self) -> Result<Vec<Org>>;
    /// A user's role in an org.
    async fn get_role(&self, org: &OrgId, user: &UserId) -> Result<Option<Role>>;
    /// An org's members.
    async fn list_members(&self, org: &OrgId) -> Result<Vec<Member>>;
    /// Adds a member or changes their role.
    async fn put_member(
        &self,
        org: &OrgId,
        user: &UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Removes a member; false when they were not one.
    async fn remove_member(&self, org: &OrgId, user: &UserId) -> Result<bool>;
    /// How many owners an org has.
    async fn count_owners(&self, org: &OrgId) -> Result<i64>;
    /// Creates an app.
    async fn create_app(&self, app: &App) -> Result<()>;
    /// An app by id.
    async fn get_app(&self, id: &AppId) -> Result<Option<App>>;
    /// The apps of an org, newest first.
    async fn list_apps(&self, org: &OrgId) -> Result<Vec<App>>;
    /// Replaces an app's editable fields; false when it does not exist.
    async fn update_app(&self, app: &App) -> Result<bool>;
    /// Deletes an app; false when it does not exist.
    async fn delete_app(&self, id: &AppId) -> Result<bool>;
}

/// Provider endpoints and models.
#[async_trait]
pub trait ProviderStore: Send + Sync + 'static {
    /// Stores an endpoint with its API key already encrypted.
    async fn create_provider_endpoint(
        &self,
        endpoint: &ProviderEndpoint,
        api_key_encrypted: Option<&[u8]>,
    ) -> Result<()>;
    /// An endpoint and its encrypted API key.
    async fn get_provider_endpoint(
        &self,
        id: &ProviderEndpointId,
    ) -> Result<Option<(ProviderEndpoint, Option<Vec<u8>>)>>;
    /// Every endpoint.
    async fn list_provider_endpoints(&self) -> Result<Vec<ProviderEndpoint>>;
    /// Deletes an endpoint and its models.
    async fn delete_provider_endpoint(&self, id: &ProviderEndpointId) -> Result<bool>;
    /// Adds a model to an endpoint.
    async fn create_model(&self, model: &Model) -> Result<()>;
    /// Models, all or of one endpoint.
    async fn list_models(&self, endpoint: Option<&ProviderEndpointId>) -> Result<Vec<Model>>;
}

/// Chat sessions and their interactions.
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// Creates a session.
    async fn create_session(&self, session: &ChatSession) -> Result<()>;
    /// A session by id.
    async fn get_session(&self, id: &SessionId) -> Result<Option<ChatSession>>;
    /// A user's sessions, most recently updated first.
    async fn list_sessions(&self, owner: &UserId) -> Result<Vec<ChatSession>>;
    /// Renames a session.
    async fn rename_session(&self, id: &SessionId, name: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Deletes a session and its interactions.
    async fn delete_session(&self, id: &SessionId) -> Result<bool>;
    /// Appends an interaction at the next position of its session.
    async fn append_interaction(&self, interaction: &NewInteraction) -> Result<Interaction>;
    /// Updates content, state, error, tool calls and usage of an interaction.
    async fn update_interaction(&self, interaction: &Interaction) -> Result<bool>;
    /// A session's interactions in order.
    async fn list_interactions(&self, session: &SessionId) -> Result<Vec<Interaction>>;
    /// Deletes a session's interactions from position `seq` on; returns how many.
    async fn delete_interactions_from(&self, session: &SessionId, seq: i64) -> Result<u64>;
}

/// Usage of model calls.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Records one call.
    async fn record_usage(&self, record: &UsageRecord) -> Result<()>;
    /// Records several calls (one transaction where the backend has them).
    async fn record_usage_batch(&self, records: &[UsageRecord]) -> Result<()> {
        for r in records {
            self.record_usage(r).await?;
        }
        Ok(())
    }
    /// Tokens (prompt + completion) a user used since `since`.
    async fn tokens_used_since(&self, user: &UserId, since: DateTime<Utc>) -> Result<i64>;
    /// Calls since `since`, per day, model and API key; one user's or everyone's.
    async fn usage_summary(
        &self,
        user: Option<&UserId>,
        since: DateTime<Utc>,
    ) -> Result<Vec<UsageSummaryRow>>;
}

/// Runner tokens: the credentials GPU runners dial in with.
#[async_trait]
pub trait RunnerStore: Send + Sync + 'static {
    /// Stores a runner token's metadata and hash.
    async fn create_runner_token(&self, token: &RunnerToken, token_hash: &str) -> Result<()>;
    /// Every runner token, newest first.
    async fn list_runner_tokens(&self) -> Result<Vec<RunnerToken>>;
    /// A runner token by id.
    async fn get_runner_token(&self, id: &RunnerTokenId) -> Result<Option<RunnerToken>>;
    /// The token with this hash if it is usable at `now`: not revoked and not expired
    /// (one query: it runs on every runner connection).
    async fn find_active_runner_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<RunnerToken>>;
    /// Marks a token revoked; false when it does not exist or was already revoked.
    async fn revoke_runner_token(&self, id: &RunnerTokenId, now: DateTime<Utc>) -> Result<bool>;
    /// Records use of a token.
    async fn touch_runner_token(&self, id: &RunnerTokenId, now: DateTime<Utc>) -> Result<()>;
}

/// Everything Helix stores. Backends implement the sub-traits; this adds health.
#[async_trait]
pub trait Store:
    AccountStore + OrgStore + ProviderStore + ChatStore + UsageStore + RunnerStore + std::fmt::Debug
{
    /// Which database this is.
    fn backend(&self) -> Backend;
    /// Checks the database answers (readiness).
    async fn ping(&self) -> Result<()>;
    /// Closes connections, waiting for in-flight queries (shutdown).
    async fn close(&self);
}
