//! The domain model: what Helix stores and what its API returns.
//!
//! Secrets never appear in these types: password hashes, API-key and runner-token
//! hashes and encrypted provider keys stay inside the store and the auth module.

use crate::id::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A person who can sign in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Unique, lowercased email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Site administrator: may manage every org, user and setting.
    pub is_admin: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// A role inside an organization, from most to least privileged.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// Full control, including deleting the org and managing owners.
    Owner,
    /// Manages members and every resource of the org.
    Admin,
    /// Uses and creates resources in the org.
    Member,
}

impl Role {
    /// The stored text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Parses the stored text form.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// True for owner and admin.
    pub fn can_manage(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// An organization: the unit that owns apps, providers and sessions shared by a team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Org {
    /// Id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An org as seen by one of its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrgWithRole {
    /// The org.
    #[serde(flatten)]
    pub org: Org,
    /// The caller's role in it (`owner` for site admins who are not members).
    pub role: Role,
}

/// A user's membership of an org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    /// The org.
    pub org_id: OrgId,
    /// The member.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub created_at: DateTime<Utc>,
}

/// An API key's metadata. The secret itself is shown once at creation and then only
/// its hash is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// The owner; the key acts as this user.
    pub user_id: UserId,
    /// A label chosen by the owner.
    pub name: String,
    /// The first characters of the key, to recognise it (`hx-AbC1`).
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Requests per minute allowed with this key (none: no key-level limit).
    pub requests_per_minute: Option<i64>,
    /// Tokens per minute allowed with this key (none: no key-level limit).
    pub tokens_per_minute: Option<i64>,
}

/// A runner token's metadata. The token lets one GPU runner, named by `runner_id`, dial
/// in to the control plane; it never acts as a user. The secret is shown once at
/// creation and then only its hash is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunnerToken {
    /// Id.
    pub id: RunnerTokenId,
    /// The runner this token authenticates (a slug such as `gpu-node-1`).
    pub runner_id: String,
    /// A note from the admin who created it.
    pub description: Option<String>,
    /// The first characters of the token, to recognise it (`hxr-AbC1dEf2`).
    pub prefix: String,
    /// The site admin who created it.
    pub created_by: UserId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When a runner last authenticated with it (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Who may use a provider endpoint or see a resource scoped like one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "scope", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Scope {
    /// Everyone on the instance (set by a site admin).
    Global,
    /// Members of one org.
    Org {
        /// The org.
        org_id: OrgId,
    },
    /// One user.
    User {
        /// The user.
        user_id: UserId,
    },
}

/// The wire dialect of a provider endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderKind {
    /// Any OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama /v1, ...).
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
    /// Helix's own GPU runners.
    Runners,
}

impl ProviderKind {
    /// Stored text form.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Runners => "runners",
        }
    }

    /// Parses the stored text form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "openai" => Some(ProviderKind::Openai),
            "anthropic" => Some(ProviderKind::Anthropic),
            "runners" => Some(ProviderKind::Runners),
            _ => None,
        }
    }
}

/// A configured upstream that serves models. Its API key is stored encrypted and is
/// never returned; `has_api_key` says whether one is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProviderEndpoint {
    /// Id.
    pub id: ProviderEndpointId,
    /// Unique name within its scope; the `provider` in `provider/model` names.
    pub name: String,
    /// Wire dialect.
    pub kind: ProviderKind,
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Who may use it.
    pub scope: Scope,
    /// Whether an API key is stored.
    pub has_api_key: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A model that a provider endpoint serves, as an admin configured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Model {
    /// Id.
    pub id: ModelId,
    /// The endpoint serving it.
    pub provider_endpoint_id: ProviderEndpointId,
    /// The model's name at the provider, e.g. `gpt-4o-mini`.
    pub name: String,
    /// The default endpoint for this model name when callers give no provider.
    pub is_default: bool,
    /// Context window in tokens, when known.
    pub context_length: Option<i64>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// An assistant: a model with a system prompt and settings, shared in an org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct App {
    /// Id.
    pub id: AppId,
    /// The org that owns it.
    pub org_id: OrgId,
    /// Who created it.
    pub created_by: UserId,
    /// Display name.
    pub name: String,
    /// Free text shown to users.
    pub description: String,
    /// Prepended to every conversation with the app.
    pub system_prompt: String,
    /// Model name (`provider/model` or a bare model name).
    pub model: String,
    /// Sampling and other settings (temperature, max tokens, ...), free-form JSON.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A chat session: a conversation with a model or an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatSession {
    /// Id.
    pub id: SessionId,
    /// The user who owns it.
    pub owner_id: UserId,
    /// The org it belongs to, when shared.
    pub org_id: Option<OrgId>,
    /// The app it talks to, if any.
    pub app_id: Option<AppId>,
    /// Title.
    pub name: String,
    /// Model name.
    pub model: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Who wrote an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MessageRole {
    /// System prompt.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
}

impl MessageRole {
    /// Stored text form.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageRole::System => "system",
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
            MessageRole::Tool => "tool",
        }
    }

    /// Parses the stored text form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "system" => Some(MessageRole::System),
            "user" => Some(MessageRole::User),
            "assistant" => Some(MessageRole::Assistant),
            "tool" => Some(MessageRole::Tool),
            _ => None,
        }
    }
}

/// Where an interaction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum InteractionState {
    /// Being generated.
    Waiting,
    /// Finished.
    Complete,
    /// Failed; `error` says why.
    Error,
}

impl InteractionState {
    /// Stored text form.
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionState::Waiting => "waiting",
            InteractionState::Complete => "complete",
            InteractionState::Error => "error",
        }
    }

    /// Parses the stored text form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "waiting" => Some(InteractionState::Waiting),
            "complete" => Some(InteractionState::Complete),
            "error" => Some(InteractionState::Error),
            _ => None,
        }
    }
}

/// Token counts of one model call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenUsage {
    /// Tokens in the prompt.
    pub prompt_tokens: i64,
    /// Tokens generated.
    pub completion_tokens: i64,
}

/// One message in a session's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Interaction {
    /// Id.
    pub id: InteractionId,
    /// The session.
    pub session_id: SessionId,
    /// Position in the session, from 0.
    pub seq: i64,
    /// Who wrote it.
    pub role: MessageRole,
    /// Text content.
    pub content: String,
    /// Tool calls the model asked for (OpenAI shape), if any.
    #[schema(value_type = Option<Object>)]
    pub tool_calls: Option<serde_json::Value>,
    /// For `tool` messages: which call this answers.
    pub tool_call_id: Option<String>,
    /// Life-cycle state.
    pub state: InteractionState,
    /// Why it failed, when `state` is `error`.
    pub error: Option<String>,
    /// Token usage, when known.
    pub usage: Option<TokenUsage>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One model call through the gateway, as recorded by the usage layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageRecord {
    /// Id.
    pub id: UsageId,
    /// Who called.
    pub user_id: UserId,
    /// With which key, if any.
    pub api_key_id: Option<ApiKeyId>,
    /// Which endpoint served it (none when resolution failed).
    pub provider_endpoint_id: Option<ProviderEndpointId>,
    /// The model name the caller asked for.
    pub model: String,
    /// The name sent upstream.
    pub upstream_model: String,
    /// `chat`, `chat_stream` or `embeddings`.
    pub kind: String,
    /// Prompt tokens (0 when the upstream did not say).
    pub prompt_tokens: i64,
    /// Generated tokens (0 when the upstream did not say).
    pub completion_tokens: i64,
    /// Milliseconds from the call to its end.
    pub latency_ms: i64,
    /// Milliseconds to the first streamed chunk.
    pub ttft_ms: Option<i64>,
    /// `ok`, `error` or `cancelled` (the client went away).
    pub status: String,
    /// The error code when it failed.
    pub error_code: Option<String>,
    /// When the call started.
    pub created_at: DateTime<Utc>,
}

/// Aggregated usage for one day, model and key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageSummaryRow {
    /// The UTC day.
    pub day: chrono::NaiveDate,
    /// Model name as asked.
    pub model: String,
    /// The API key, when calls used one.
    pub api_key_id: Option<ApiKeyId>,
    /// Calls.
    pub calls: i64,
    /// Calls that failed.
    pub errors: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Generated tokens.
    pub completion_tokens: i64,
    /// Mean latency in milliseconds.
    pub avg_latency_ms: i64,
}
