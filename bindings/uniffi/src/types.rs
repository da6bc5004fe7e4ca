//! The records and enums of sessions, chat, apps, orgs, models and usage, and their
//! conversions from and to `helix-client`'s types (the sandbox ones are in
//! `sandbox_types.rs`). Ids are strings, times are timestamps, free-form values (app
//! settings, tool calls) are JSON text; enums that `helix-core` may grow
//! (`#[non_exhaustive]`: roles, interaction states) are their stable text forms.

use crate::error::{invalid, Result};
use std::time::SystemTime;

/// A model the caller may use, as `GET /v1/models` lists it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ModelInfo {
    /// The name to ask for.
    pub id: String,
    /// Who serves it (a provider's name, or `helix`).
    pub owned_by: String,
}

/// Calls, tokens and latency for one day, model and key.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UsageRow {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Model name as asked.
    pub model: String,
    /// The API key, when calls used one.
    pub api_key_id: Option<String>,
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

/// An org the caller belongs to.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Org {
    /// Id (`org_...`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The caller's role in it: `owner`, `admin` or `member`.
    pub role: String,
    /// When it was created.
    pub created_at: SystemTime,
}

/// An app (assistant): a model with a system prompt and settings, shared in an org.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct App {
    /// Id (`app_...`).
    pub id: String,
    /// The org that owns it.
    pub org_id: String,
    /// Who created it.
    pub created_by: String,
    /// Display name.
    pub name: String,
    /// Free text shown to users.
    pub description: String,
    /// Prepended to every conversation with the app.
    pub system_prompt: String,
    /// Model name.
    pub model: String,
    /// Settings (temperature, max_tokens, ...) as JSON text.
    pub settings_json: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it last changed.
    pub updated_at: SystemTime,
}

/// A new app.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewApp {
    /// The org that will own it.
    pub org_id: String,
    /// Display name.
    pub name: String,
    /// Model name.
    pub model: String,
    /// System prompt.
    #[uniffi(default)]
    pub system_prompt: String,
    /// Description.
    #[uniffi(default)]
    pub description: String,
    /// Settings (temperature, max_tokens, ...) as JSON text.
    #[uniffi(default)]
    pub settings_json: Option<String>,
}

/// What a new session talks to: a model, or an app (its model, prompt and settings).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewSession {
    /// Model name; required unless `app_id` is given.
    #[uniffi(default)]
    pub model: Option<String>,
    /// The app to talk to.
    #[uniffi(default)]
    pub app_id: Option<String>,
    /// Title (default "New chat").
    #[uniffi(default)]
    pub name: Option<String>,
}

/// A chat session: a conversation with a model or an app.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChatSession {
    /// Id (`ses_...`).
    pub id: String,
    /// The user who owns it.
    pub owner_id: String,
    /// The org it belongs to, when shared.
    pub org_id: Option<String>,
    /// The app it talks to, if any.
    pub app_id: Option<String>,
    /// Title.
    pub name: String,
    /// Model name.
    pub model: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it last changed.
    pub updated_at: SystemTime,
}

/// Token counts of one model call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct TokenUsage {
    /// Tokens in the prompt.
    pub prompt_tokens: i64,
    /// Tokens generated.
    pub completion_tokens: i64,
}

/// One message in a session's log.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Interaction {
    /// Id.
    pub id: String,
    /// The session.
    pub session_id: String,
    /// Position in the session, from 0.
    pub seq: i64,
    /// Who wrote it: `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text content.
    pub content: String,
    /// Tool calls the model asked for (OpenAI shape) as JSON text, if any.
    pub tool_calls_json: Option<String>,
    /// For `tool` messages: which call this answers.
    pub tool_call_id: Option<String>,
    /// `waiting`, `complete` or `error`.
    pub state: String,
    /// Why it failed, when `state` is `error`.
    pub error: Option<String>,
    /// Token usage, when known.
    pub usage: Option<TokenUsage>,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it last changed.
    pub updated_at: SystemTime,
}

/// A session with all its messages.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SessionWithInteractions {
    /// The session.
    pub session: ChatSession,
    /// Its messages in order.
    pub interactions: Vec<Interaction>,
}

/// What a running answer reports.
// Values cross the boundary by copy; boxing the big variant would save nothing there.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ChatEvent {
    /// A message was created (the user's, the assistant's placeholder).
    InteractionCreated {
        /// It.
        interaction: Interaction,
    },
    /// Text was added to a message at `offset` (in characters).
    Delta {
        /// The message.
        interaction_id: String,
        /// Characters before this text.
        offset: u64,
        /// The new text.
        text: String,
    },
    /// The answer is complete.
    Completed {
        /// The finished answer.
        interaction: Interaction,
    },
    /// The answer failed; `interaction` holds what was produced and the error.
    Failed {
        /// Its final state.
        interaction: Interaction,
    },
    /// Messages were removed (regenerate): take a fresh snapshot.
    Reset,
    /// An event this version of the bindings does not know.
    Unknown {
        /// Its `type`.
        event_type: String,
    },
}

/// A piece of an answer: text as it is written, then the finished answer.
// Values cross the boundary by copy; boxing the big variant would save nothing there.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ChatChunk {
    /// Text added to the answer.
    Text {
        /// The text.
        text: String,
    },
    /// The finished answer.
    Done {
        /// It.
        interaction: Interaction,
    },
}

// ---- from helix-client ----

impl From<helix_client::ModelInfo> for ModelInfo {
    fn from(m: helix_client::ModelInfo) -> Self {
        ModelInfo {
            id: m.id,
            owned_by: m.owned_by,
        }
    }
}

impl From<helix_client::UsageSummaryRow> for UsageRow {
    fn from(r: helix_client::UsageSummaryRow) -> Self {
        UsageRow {
            day: r.day.to_string(),
            model: r.model,
            api_key_id: r.api_key_id.map(String::from),
            calls: r.calls,
            errors: r.errors,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            avg_latency_ms: r.avg_latency_ms,
        }
    }
}

impl From<helix_client::OrgWithRole> for Org {
    fn from(o: helix_client::OrgWithRole) -> Self {
        Org {
            id: o.org.id.into(),
            name: o.org.name,
            role: o.role.as_str().into(),
            created_at: o.org.created_at.into(),
        }
    }
}

impl From<helix_client::App> for App {
    fn from(a: helix_client::App) -> Self {
        App {
            id: a.id.into(),
            org_id: a.org_id.into(),
            created_by: a.created_by.into(),
            name: a.name,
            description: a.description,
            system_prompt: a.system_prompt,
            model: a.model,
            settings_json: a.settings.to_string(),
            created_at: a.created_at.into(),
            updated_at: a.updated_at.into(),
        }
    }
}

impl From<helix_client::ChatSession> for ChatSession {
    fn from(s: helix_client::ChatSession) -> Self {
        ChatSession {
            id: s.id.into(),
            owner_id: s.owner_id.into(),
            org_id: s.org_id.map(String::from),
            app_id: s.app_id.map(String::from),
            name: s.name,
            model: s.model,
            created_at: s.created_at.into(),
            updated_at: s.updated_at.into(),
        }
    }
}

impl From<helix_client::Interaction> for Interaction {
    fn from(i: helix_client::Interaction) -> Self {
        Interaction {
            id: i.id.into(),
            session_id: i.session_id.into(),
            seq: i.seq,
            role: i.role.as_str().into(),
            content: i.content,
            tool_calls_json: i.tool_calls.map(|v| v.to_string()),
            tool_call_id: i.tool_call_id,
            state: i.state.as_str().into(),
            error: i.error,
            usage: i.usage.map(|u| TokenUsage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            }),
            created_at: i.created_at.into(),
            updated_at: i.updated_at.into(),
        }
    }
}

impl From<helix_client::SessionWithInteractions> for SessionWithInteractions {
    fn from(s: helix_client::SessionWithInteractions) -> Self {
        SessionWithInteractions {
            session: s.session.into(),
            interactions: s.interactions.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<helix_client::ChatEvent> for ChatEvent {
    fn from(e: helix_client::ChatEvent) -> Self {
        use helix_client::ChatEvent as E;
        match e {
            E::InteractionCreated { interaction } => ChatEvent::InteractionCreated {
                interaction: interaction.into(),
            },
            E::Delta {
                interaction_id,
                offset,
                text,
            } => ChatEvent::Delta {
                interaction_id: interaction_id.into(),
                offset: offset as u64,
                text,
            },
            E::Completed { interaction } => ChatEvent::Completed {
                interaction: interaction.into(),
            },
            E::Failed { interaction } => ChatEvent::Failed {
                interaction: interaction.into(),
            },
            E::Reset => ChatEvent::Reset,
            other => ChatEvent::Unknown {
                event_type: serde_json::to_value(&other)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(String::from))
                    .unwrap_or_default(),
            },
        }
    }
}

impl From<helix_client::ChatChunk> for ChatChunk {
    fn from(c: helix_client::ChatChunk) -> Self {
        match c {
            helix_client::ChatChunk::Text(text) => ChatChunk::Text { text },
            helix_client::ChatChunk::Done(i) => ChatChunk::Done {
                interaction: i.into(),
            },
        }
    }
}

// ---- to helix-client ----

impl NewApp {
    pub(crate) fn into_client(self) -> Result<helix_client::NewApp> {
        let settings = self
            .settings_json
            .map(|s| serde_json::from_str(&s).map_err(|e| invalid("settings_json", e)))
            .transpose()?;
        Ok(helix_client::NewApp {
            org_id: self.org_id,
            name: self.name,
            model: self.model,
            system_prompt: self.system_prompt,
            description: self.description,
            settings,
        })
    }
}

impl From<NewSession> for helix_client::NewSession {
    fn from(n: NewSession) -> Self {
        helix_client::NewSession {
            name: n.name,
            model: n.model,
            app_id: n.app_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_invalid_argument() {
        let app = NewApp {
            org_id: "org_x".into(),
            name: "n".into(),
            model: "m".into(),
            system_prompt: String::new(),
            description: String::new(),
            settings_json: Some("{not json".into()),
        };
        assert!(matches!(
            app.into_client(),
            Err(crate::HelixError::InvalidRequest { .. })
        ));
    }
}
