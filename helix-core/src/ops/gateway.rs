//! The inference gateway: resolve a model name to a provider endpoint the caller may
//! use, call it, and hand back OpenAI-shaped answers.
//!
//! Resolution is deterministic, with no guessing chains:
//! 1. `provider/model`: the usable endpoint named `provider`: the caller's own if they
//!    have one, else the one among their orgs' and the global endpoints; two matches at
//!    the same level are refused as ambiguous (so joining an org never silently
//!    redirects calls to a global endpoint of the same name).
//! 2. otherwise (or when no endpoint has that name) the whole name is looked up among
//!    registered default models of usable endpoints, with the same precedence;
//! 3. otherwise, a model Helix's own runners offer, by its bare name, through the
//!    usable `runners` endpoint.

use super::providers::resolution_rank;
use super::usage::{metered, Meter};
use crate::auth::Principal;
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::model::{ProviderEndpoint, ProviderKind, Scope};
use crate::providers::{
    usage_of, AnthropicProvider, ChatRequest, ChatStream, EmbeddingsRequest, OpenAiProvider,
    Provider,
};
use futures::StreamExt;
use serde_json::{json, Value};

/// Puts the caller's model name on an answer (only objects have one).
fn set_model(v: &mut Value, model: &str) {
    if let Some(o) = v.as_object_mut() {
        o.insert("model".into(), json!(model));
    }
}

/// An error's text as a caller may see it (internal details are logged, not shown).
fn shown_error(e: &CoreError) -> String {
    if e.is_internal() {
        tracing::error!(error = %e, "stream failed");
        "internal error".into()
    } else {
        e.to_string()
    }
}

/// How long an endpoint's list of served models is trusted.
pub const MODEL_LIST_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// A model name resolved to an endpoint and the upstream's own model name.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// The endpoint serving it.
    pub endpoint: ProviderEndpoint,
    /// The model name to send upstream.
    pub upstream_model: String,
}

fn pick<'a>(
    candidates: Vec<&'a ProviderEndpoint>,
    what: &str,
) -> Result<Option<&'a ProviderEndpoint>> {
    let Some(best) = candidates.iter().map(|e| resolution_rank(&e.scope)).min() else {
        return Ok(None);
    };
    let top: Vec<_> = candidates
        .into_iter()
        .filter(|e| resolution_rank(&e.scope) == best)
        .collect();
    match top.as_slice() {
        [one] => Ok(Some(one)),
        _ => Err(CoreError::Conflict(format!(
            "{what} is ambiguous: served by {}",
            top.iter()
                .map(|e| e.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

impl ControlPlane {
    /// Resolves a model name for the caller.
    pub async fn resolve_model(&self, p: &Principal, name: &str) -> Result<ResolvedModel> {
        let name = name.trim();
        if name.is_empty() || name.len() > 256 {
            return Err(CoreError::invalid("model", "must be 1-256 characters"));
        }
        let visible = self.usable_endpoints(p).await?;
        if let Some((provider, model)) = name.split_once('/') {
            let named = visible.iter().filter(|e| e.name == provider).collect();
            if let Some(endpoint) = pick(named, &format!("provider {provider}"))? {
                if model.is_empty() {
                    return Err(CoreError::invalid(
                        "model",
                        "names no model after the provider",
                    ));
                }
                self.check_served(endpoint, model).await?;
                return Ok(ResolvedModel {
                    endpoint: endpoint.clone(),
                    upstream_model: model.to_owned(),
                });
            }
        }
        let snap = self.providers().await?;
        let defaults: Vec<_> = snap
            .models
            .iter()
            .filter(|m| m.is_default && m.name == name)
            .collect();
        let serving = visible
            .iter()
            .filter(|e| defaults.iter().any(|m| m.provider_endpoint_id == e.id))
            .collect();
        if let Some(endpoint) = pick(serving, &format!("model {name}"))? {
            return Ok(ResolvedModel {
                endpoint: endpoint.clone(),
                upstream_model: name.to_owned(),
            });
        }
        let pooled = self.pool_model_names();
        let runners = visible
            .iter()
            .filter(|e| e.kind == ProviderKind::Runners && pooled.iter().any(|m| m == name))
            .collect();
        match pick(runners, &format!("model {name}"))? {
            Some(endpoint) => Ok(ResolvedModel {
                endpoint: endpoint.clone(),
                upstream_model: name.to_owned(),
            }),
            None => Err(CoreError::not_found("model", name)),
        }
    }

    /// Models the runner pool offers now (none without a pool).
    fn pool_model_names(&self) -> Vec<String> {
        self.inner
            .runner_pool
            .as_ref()
            .map(|p| p.model_names())
            .unwrap_or_default()
    }

    /// Refuses a model the endpoint does not serve. Upstreams like llama-server answer
    /// for any model name, so without this a caller asking for a model would silently
    /// get another. The upstream's own list is cached for [`MODEL_LIST_TTL`]; models
    /// registered by an admin count too; an upstream that cannot list its models is
    /// trusted to answer for itself.
    async fn check_served(&self, endpoint: &ProviderEndpoint, model: &str) -> Result<()> {
        let snap = self.providers().await?;
        if snap
            .models
            .iter()
            .any(|m| m.provider_endpoint_id == endpoint.id && m.name == model)
        {
            return Ok(());
        }
        if endpoint.kind == ProviderKind::Runners {
            // In memory and changing as runners come and go: never cached.
            return if self.pool_model_names().iter().any(|m| m == model) {
                Ok(())
            } else {
                Err(CoreError::not_found(
                    "model",
                    format!("{}/{model}", endpoint.name),
                ))
            };
        }
        let cached = {
            let cache = self
                .inner
                .model_lists
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            cache
                .get(&endpoint.id)
                .filter(|(at, _)| at.elapsed() < MODEL_LIST_TTL)
                .map(|(_, list)| list.clone())
        };
        let list = match cached {
            Some(list) => list,
            None => {
                let provider = self.provider_for(endpoint, "").await?;
                match tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    provider.list_models(),
                )
                .await
                {
                    Ok(Ok(models)) => {
                        let list: std::sync::Arc<Vec<String>> =
                            std::sync::Arc::new(models.into_iter().map(|m| m.id).collect());
                        let mut cache = self
                            .inner
                            .model_lists
                            .lock()
                            .unwrap_or_else(|e| e.into_inner());
                        cache.insert(
                            endpoint.id.clone(),
                            (std::time::Instant::now(), list.clone()),
                        );
                        list
                    }
                    _ => return Ok(()),
                }
            }
        };
        if list.iter().any(|m| m == model) {
            Ok(())
        } else {
            Err(CoreError::not_found(
                "model",
                format!("{}/{model}", endpoint.name),
            ))
        }
    }

    /// A client for an endpoint, with its key unsealed; calls through the runner pool
    /// are queued as `owner`'s.
    async fn provider_for(
        &self,
        endpoint: &ProviderEndpoint,
        owner: &str,
    ) -> Result<Box<dyn Provider>> {
        if endpoint.kind == ProviderKind::Runners {
            return match &self.inner.runner_pool {
                Some(pool) => Ok(pool.provider(owner)),
                None => Err(CoreError::NotConfigured("the runner pool")),
            };
        }
        let snap = self.providers().await?;
        let sealed = self.sealed_key(&snap, &endpoint.id).await?;
        let key = sealed
            .map(|s| self.secrets().open(&s, endpoint.id.as_str().as_bytes()))
            .transpose()?
            .map(|k| {
                String::from_utf8(k).map_err(|_| CoreError::internal("stored api key is not utf-8"))
            })
            .transpose()?;
        // Only site admins' global endpoints may reach private addresses (unless the
        // operator allows it for everyone): checked again at every connection.
        let http = if endpoint.scope == Scope::Global || self.inner.allow_private_upstreams {
            self.inner.upstream_http.clone()
        } else {
            // One stored while private addresses were allowed, or before the check.
            super::upstream_policy::check_literal(&endpoint.base_url)?;
            self.inner.upstream_http_public.clone()
        };
        match endpoint.kind {
            ProviderKind::Openai => {
                Ok(Box::new(OpenAiProvider::new(http, &endpoint.base_url, key)))
            }
            ProviderKind::Anthropic => Ok(Box::new(AnthropicProvider::new(
                http,
                &endpoint.base_url,
                key,
            ))),
            _ => Err(CoreError::NotConfigured("this provider kind")),
        }
    }

    /// What every model call does first: admit it under the caller's limits, resolve
    /// the model name, build the provider client, start the meter. Returns the name
    /// the caller asked for, the upstream's name for it, the provider and the meter.
    async fn prepare_call(
        &self,
        p: &Principal,
        kind: &str,
        model: &mut String,
    ) -> Result<(String, Box<dyn Provider>, Meter)> {
        let checks = self.admit_call(p).await?;
        let asked = std::mem::take(model);
        let resolved = self.resolve_model(p, &asked).await?;
        *model = resolved.upstream_model.clone();
        let provider = self
            .provider_for(&resolved.endpoint, p.user.id.as_str())
            .await?;
        let meter = Meter::start(self, p, kind, &asked, &resolved, checks);
        Ok((asked, provider, meter))
    }

    /// Ends a whole (not streamed) call: records its usage and outcome, and puts the
    /// caller's model name on the answer.
    fn finish_call(asked: &str, mut meter: Meter, result: Result<Value>) -> Result<Value> {
        if let Some(u) = result.as_ref().ok().and_then(usage_of) {
            meter.usage(u);
        }
        meter.finish(result.as_ref().err());
        let mut answer = result?;
        set_model(&mut answer, asked);
        Ok(answer)
    }

    /// A whole chat completion.
    #[tracing::instrument(skip_all, fields(model = %req.model))]
    pub async fn chat_completion(&self, p: &Principal, mut req: ChatRequest) -> Result<Value> {
        if req.messages.is_empty() {
            return Err(CoreError::invalid("messages", "must not be empty"));
        }
        let (asked, provider, meter) = self.prepare_call(p, "chat", &mut req.model).await?;
        Self::finish_call(&asked, meter, provider.chat(&req).await)
    }

    /// A streamed chat completion; chunks carry the model name the caller used.
    #[tracing::instrument(skip_all, fields(model = %req.model))]
    pub async fn chat_completion_stream(
        &self,
        p: &Principal,
        mut req: ChatRequest,
    ) -> Result<ChatStream> {
        if req.messages.is_empty() {
            return Err(CoreError::invalid("messages", "must not be empty"));
        }
        // Ask the upstream for usage so the call can be metered; when the client did
        // not ask for it, the usage-only chunk is not passed on.
        let client_wants_usage = req
            .extra
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            == Some(&json!(true));
        if !client_wants_usage {
            let mut opts = req
                .extra
                .get("stream_options")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            opts["include_usage"] = json!(true);
            req.extra.insert("stream_options".into(), opts);
        }
        let (asked, provider, mut meter) =
            self.prepare_call(p, "chat_stream", &mut req.model).await?;
        meter.prompt_chars(prompt_chars(&req));
        let stream = match provider.chat_stream(&req).await {
            Ok(s) => s,
            Err(e) => {
                meter.finish(Some(&e));
                return Err(e);
            }
        };
        Ok(metered(stream, meter, !client_wants_usage)
            .map(move |item| {
                item.map(|mut chunk| {
                    set_model(&mut chunk, &asked);
                    chunk
                })
            })
            .boxed())
    }

    /// Embeddings.
    pub async fn embeddings(&self, p: &Principal, mut req: EmbeddingsRequest) -> Result<Value> {
        let (asked, provider, meter) = self.prepare_call(p, "embeddings", &mut req.model).await?;
        Self::finish_call(&asked, meter, provider.embeddings(&req).await)
    }

    /// The models the caller may use, as an OpenAI `list`: every model each visible
    /// endpoint serves (`provider/model`, asked live, 5 s per endpoint; an endpoint
    /// that does not answer is left out and logged), then registered defaults by bare
    /// name.
    pub async fn list_models(&self, p: &Principal) -> Result<Value> {
        let visible = self.usable_endpoints(p).await?;
        let lookups = visible.iter().map(|e| async move {
            let provider = self.provider_for(e, p.user.id.as_str()).await?;
            tokio::time::timeout(std::time::Duration::from_secs(5), provider.list_models())
                .await
                .map_err(|_| CoreError::Upstream {
                    status: None,
                    message: "timed out listing models".into(),
                })?
        });
        let mut seen = std::collections::BTreeSet::new();
        let mut data = Vec::new();
        let created = self.now().timestamp();
        let mut bare = Vec::new();
        for (endpoint, listed) in visible.iter().zip(futures::future::join_all(lookups).await) {
            match listed {
                Ok(models) => {
                    for m in models {
                        let id = format!("{}/{}", endpoint.name, m.id);
                        if seen.insert(id.clone()) {
                            data.push(json!({"id": id, "object": "model", "created": created, "owned_by": endpoint.name}));
                        }
                        if endpoint.kind == ProviderKind::Runners {
                            bare.push((m.id, endpoint.name.clone()));
                        }
                    }
                }
                Err(e) => tracing::warn!(endpoint = %endpoint.id, error = %e, "cannot list models"),
            }
        }
        for m in self.providers().await?.models.iter() {
            if let Some(e) = visible
                .iter()
                .find(|e| e.id == m.provider_endpoint_id)
                .filter(|_| m.is_default)
            {
                if seen.insert(m.name.clone()) {
                    data.push(json!({"id": m.name, "object": "model", "created": created, "owned_by": e.name}));
                }
            }
        }
        // Runner models by bare name (resolution step 3), unless a default took it.
        for (id, owner) in bare {
            if seen.insert(id.clone()) {
                data.push(
                    json!({"id": id, "object": "model", "created": created, "owned_by": owner}),
                );
            }
        }
        Ok(json!({"object": "list", "data": data}))
    }
}

/// What `POST /v1/messages` answers.
pub enum MessagesOutcome {
    /// A whole Anthropic `message`.
    Message(Value),
    /// Anthropic stream events `(event name, data)`; a failure mid-stream is one
    /// `error` event, then the stream ends.
    Stream(futures::stream::BoxStream<'static, (&'static str, Value)>),
}

impl std::fmt::Debug for MessagesOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessagesOutcome::Message(m) => f.debug_tuple("Message").field(m).finish(),
            MessagesOutcome::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

impl ControlPlane {
    /// The Anthropic Messages API over whatever provider serves the model.
    pub async fn messages(&self, p: &Principal, body: &Value) -> Result<MessagesOutcome> {
        use crate::providers::anthropic_compat::{
            error_body, from_chat_completion, to_chat_request, StreamTranslator,
        };
        let mut req = to_chat_request(body)?;
        let model = req.model.clone();
        // Anthropic streams always report usage (in message_delta): ask for the chunk.
        req.extra
            .insert("stream_options".into(), json!({"include_usage": true}));
        if !req.is_stream() {
            req.extra.remove("stream_options");
            let answer = self.chat_completion(p, req).await?;
            return Ok(MessagesOutcome::Message(from_chat_completion(
                &answer, &model,
            )));
        }
        let chunks = self.chat_completion_stream(p, req).await?;
        let events = futures::stream::unfold(
            (Some(chunks), StreamTranslator::new(&model)),
            |(chunks, mut tr)| async move {
                let mut chunks = chunks?;
                match chunks.next().await {
                    Some(Ok(chunk)) => Some((tr.on_chunk(&chunk), (Some(chunks), tr))),
                    Some(Err(e)) => Some((
                        vec![("error", error_body("api_error", &shown_error(&e)))],
                        (None, tr),
                    )),
                    None => Some((tr.finish(), (None, tr))),
                }
            },
        )
        .flat_map(futures::stream::iter);
        Ok(MessagesOutcome::Stream(events.boxed()))
    }
}

/// The prompt's text size in characters (message texts; other parts as JSON).
fn prompt_chars(req: &ChatRequest) -> usize {
    req.messages
        .iter()
        .map(|m| match &m.content {
            Some(Value::String(t)) => t.chars().count(),
            Some(other) => other.to_string().len(),
            None => 0,
        })
        .sum()
}
