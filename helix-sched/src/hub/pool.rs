//! The runner pool as a gateway [`Provider`]: `/v1` calls and chat sessions for
//! runner-served models are queued (fairly, per owner), placed by the scheduler and
//! sent through the runner's socket.

use super::{HubError, RunnerHub, RunnerResponse};
use crate::scheduler::{Priority, WorkRequest};
use crate::SchedError;
use async_trait::async_trait;
use futures::StreamExt;
use helix_core::error::{CoreError, Result};
use helix_core::providers::{
    sse_chunks, upstream_error, ChatRequest, ChatStream, EmbeddingsRequest, Provider, ProviderPool,
    UpstreamModel,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How many times a call goes to another instance when its runner drops before the
/// answer started.
const FAILOVER_ATTEMPTS: usize = 3;

/// The pool: hands out providers bound to an owner.
#[derive(Debug, Clone)]
pub struct RunnerPool {
    hub: RunnerHub,
    queue_wait: Duration,
}

impl RunnerPool {
    /// A pool over `hub`; a call waits at most `queue_wait` in the queue (model loads
    /// included) before it fails with `queue_timeout`.
    pub fn new(hub: RunnerHub, queue_wait: Duration) -> Self {
        Self { hub, queue_wait }
    }
}

impl ProviderPool for RunnerPool {
    fn provider(&self, owner: &str) -> Box<dyn Provider> {
        Box::new(PoolProvider {
            hub: self.hub.clone(),
            owner: owner.to_owned(),
            queue_wait: self.queue_wait,
        })
    }

    fn model_names(&self) -> Vec<String> {
        self.hub.model_names()
    }
}

/// One owner's view of the pool.
#[derive(Debug)]
struct PoolProvider {
    hub: RunnerHub,
    owner: String,
    queue_wait: Duration,
}

/// The gateway's error for a scheduler refusal.
pub(crate) fn core_error(e: SchedError) -> CoreError {
    match e.code() {
        "model_not_offered" => CoreError::not_found("model", e.to_string()),
        "model_too_large" => CoreError::invalid("model", e.to_string()),
        _ => CoreError::Unavailable(e.to_string()),
    }
}

fn hub_error(e: HubError) -> CoreError {
    CoreError::Upstream {
        status: None,
        message: e.to_string(),
    }
}

impl PoolProvider {
    /// Sends one request, failing over to another instance while the runner drops
    /// before answering. Returns the answer with a 2xx status; any other status is an
    /// error carrying the engine's message.
    async fn call(&self, model: &str, path: &str, body: Value) -> Result<RunnerResponse> {
        let mut last = None;
        for _ in 0..FAILOVER_ATTEMPTS {
            let lease = self
                .hub
                .acquire(WorkRequest {
                    owner: self.owner.clone(),
                    model: model.to_owned(),
                    priority: Priority::Interactive,
                    deadline: Some(Instant::now() + self.queue_wait),
                })
                .await
                .map_err(core_error)?;
            let runner = lease.runner().clone();
            match self.hub.send(lease, "POST", path, body.clone()).await {
                Ok(resp) if (200..300).contains(&resp.status) => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status;
                    let bytes = resp.body.collect().await.unwrap_or_default();
                    return Err(upstream_error(status, &bytes));
                }
                Err(e @ HubError::RunnerGone(_)) => {
                    tracing::warn!(%runner, model, "runner dropped before answering; failing over");
                    last = Some(e);
                }
                Err(e) => return Err(hub_error(e)),
            }
        }
        Err(hub_error(
            last.unwrap_or_else(|| HubError::RunnerGone("(none)".into())),
        ))
    }

    /// A whole JSON answer; a runner dropping mid-body fails over too (nothing was
    /// shown to the caller yet).
    async fn call_json(&self, model: &str, path: &str, body: Value) -> Result<Value> {
        let mut last = None;
        for _ in 0..FAILOVER_ATTEMPTS {
            let resp = self.call(model, path, body.clone()).await?;
            match resp.body.collect().await {
                Ok(bytes) => {
                    return serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .filter(Value::is_object)
                        .ok_or_else(|| CoreError::Upstream {
                            status: None,
                            message: "engine answered with invalid json".into(),
                        })
                }
                Err(e @ HubError::RunnerGone(_)) => last = Some(e),
                Err(e) => return Err(hub_error(e)),
            }
        }
        Err(hub_error(
            last.unwrap_or_else(|| HubError::RunnerGone("(none)".into())),
        ))
    }
}

#[async_trait]
impl Provider for PoolProvider {
    async fn chat(&self, req: &ChatRequest) -> Result<Value> {
        let mut req = req.clone();
        req.stream = None;
        let body = serde_json::to_value(&req).map_err(CoreError::internal)?;
        self.call_json(&req.model, "/v1/chat/completions", body)
            .await
    }

    async fn chat_stream(&self, req: &ChatRequest) -> Result<ChatStream> {
        let mut req = req.clone();
        req.stream = Some(true);
        let body = serde_json::to_value(&req).map_err(CoreError::internal)?;
        let resp = self.call(&req.model, "/v1/chat/completions", body).await?;
        // Once the answer has started, a runner dropping ends it with an error event.
        Ok(sse_chunks(resp.body.map(|r| {
            r.map_err(|e| CoreError::Upstream {
                status: None,
                message: format!("answer cut: {e}"),
            })
        })))
    }

    async fn embeddings(&self, req: &EmbeddingsRequest) -> Result<Value> {
        let body = serde_json::to_value(req).map_err(CoreError::internal)?;
        self.call_json(&req.model, "/v1/embeddings", body).await
    }

    async fn list_models(&self) -> Result<Vec<UpstreamModel>> {
        Ok(self
            .hub
            .model_names()
            .into_iter()
            .map(|id| UpstreamModel { id })
            .collect())
    }
}
