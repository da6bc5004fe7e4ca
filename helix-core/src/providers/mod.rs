//! Model providers: the [`Provider`] trait and its backends.
//!
//! Requests and responses use the OpenAI wire format, the lingua franca of model
//! servers. Helix types only what it needs to read (model, messages, stream, usage) and
//! carries every other field through untouched (`extra`), so tools, `response_format`,
//! stop sequences and sampling parameters reach the upstream exactly as sent.

mod anthropic;
pub mod anthropic_compat;
mod openai;
pub mod sse;

pub use anthropic::AnthropicProvider;
pub use openai::{sse_chunks, upstream_error, OpenAiProvider};

use crate::error::Result;
use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One message of a chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text, or an array of content parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub content: Option<Value>,
    /// Everything else (`name`, `tool_calls`, `tool_call_id`, ...), passed through.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

/// `POST /v1/chat/completions` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatRequest {
    /// `provider/model`, or a model name with an admin-set default provider.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Stream the answer as server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Every other OpenAI field (tools, response_format, temperature, stop, ...).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// Whether the caller asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }
}

/// `POST /v1/embeddings` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// Model name, as for chat.
    pub model: String,
    /// A string or an array of strings (or token arrays).
    #[schema(value_type = Object)]
    pub input: Value,
    /// Every other field (`encoding_format`, `dimensions`, `user`), passed through.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

/// Token usage as OpenAI reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: i64,
    /// Generated tokens.
    #[serde(default)]
    pub completion_tokens: i64,
}

/// Reads `usage` from a completion, a stream chunk or an embeddings response.
pub fn usage_of(body: &Value) -> Option<Usage> {
    body.get("usage")
        .filter(|u| u.is_object())
        .and_then(|u| serde_json::from_value(u.clone()).ok())
}

/// A stream of chat completion chunks (`chat.completion.chunk` objects).
pub type ChatStream = BoxStream<'static, Result<Value>>;

/// A model an upstream serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamModel {
    /// The upstream's model id.
    pub id: String,
}

/// Something that serves models in the OpenAI dialect.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// A whole chat completion (`chat.completion` object).
    async fn chat(&self, req: &ChatRequest) -> Result<Value>;
    /// A streamed chat completion. Errors before the first chunk come back as `Err`;
    /// errors after it as an `Err` item in the stream.
    async fn chat_stream(&self, req: &ChatRequest) -> Result<ChatStream>;
    /// Embeddings (`list` of `embedding` objects).
    async fn embeddings(&self, req: &EmbeddingsRequest) -> Result<Value>;
    /// The models the upstream serves.
    async fn list_models(&self) -> Result<Vec<UpstreamModel>>;
}

/// A pool that serves models on behalf of many callers and schedules between them
/// (Helix's own GPU runners): it hands out a [`Provider`] bound to one owner, so its
/// queue can be fair between owners.
pub trait ProviderPool: Send + Sync + std::fmt::Debug + 'static {
    /// A provider whose calls are queued as `owner`'s (a user id).
    fn provider(&self, owner: &str) -> Box<dyn Provider>;
    /// Model names the pool can serve right now.
    fn model_names(&self) -> Vec<String>;
}
