//! The usage layer: one meter around every provider call, and the usage report.
//!
//! Records are written off the request path (a spawned task), so metering adds no
//! database round trip to a model call. A stream that the client abandons (or a user
//! stops) is recorded as `cancelled` when it is dropped; since the upstream never sent
//! its usage then, the tokens are estimated from the text sent and received (about
//! four characters a token), so stopping early is not a way around quotas.

use super::gateway::ResolvedModel;
use crate::auth::{AuthMethod, Principal};
use crate::authz;
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::id::UsageId;
use crate::model::{UsageRecord, UsageSummaryRow};
use crate::providers::{usage_of, ChatStream, Usage};
use futures::StreamExt;
use serde::Deserialize;
use std::time::Instant;
use utoipa::IntoParams;

/// Measures one call and records it exactly once.
pub(crate) struct Meter {
    cp: ControlPlane,
    checks: Checks,
    record: Option<UsageRecord>,
    started: Instant,
    /// Characters of the prompt, and of the answer streamed so far: the estimate when
    /// the call ends before the upstream reports usage.
    prompt_chars: usize,
    streamed_chars: usize,
    got_usage: bool,
}

/// Characters per token for estimates (the usual rule of thumb for English text).
const CHARS_PER_TOKEN: usize = 4;

fn estimate_tokens(chars: usize) -> i64 {
    i64::try_from(chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(i64::MAX)
}

impl Meter {
    pub(crate) fn start(
        cp: &ControlPlane,
        p: &Principal,
        kind: &str,
        asked: &str,
        resolved: &ResolvedModel,
        checks: Checks,
    ) -> Meter {
        let api_key_id = match &p.method {
            AuthMethod::ApiKey { key_id, .. } => Some(key_id.clone()),
            _ => None,
        };
        Meter {
            cp: cp.clone(),
            checks,
            started: Instant::now(),
            prompt_chars: 0,
            streamed_chars: 0,
            got_usage: false,
            record: Some(UsageRecord {
                id: UsageId::new(),
                user_id: p.user.id.clone(),
                api_key_id,
                provider_endpoint_id: Some(resolved.endpoint.id.clone()),
                model: asked.to_owned(),
                upstream_model: resolved.upstream_model.clone(),
                kind: kind.to_owned(),
                prompt_tokens: 0,
                completion_tokens: 0,
                latency_ms: 0,
                ttft_ms: None,
                status: "cancelled".into(),
                error_code: None,
                created_at: cp.now(),
            }),
        }
    }

    fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    pub(crate) fn first_chunk(&mut self) {
        let ms = self.elapsed_ms();
        if let Some(r) = self.record.as_mut().filter(|r| r.ttft_ms.is_none()) {
            r.ttft_ms = Some(ms);
        }
    }

    /// The prompt's size, for an estimate if the call is cut short.
    pub(crate) fn prompt_chars(&mut self, chars: usize) {
        self.prompt_chars = chars;
    }

    /// Counts the text of one streamed chunk (answer and tool-call arguments).
    fn streamed(&mut self, chunk: &serde_json::Value) {
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            self.streamed_chars += delta["content"].as_str().map_or(0, |t| t.chars().count());
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                self.streamed_chars += call["function"]["arguments"]
                    .as_str()
                    .map_or(0, |t| t.chars().count());
            }
        }
    }

    pub(crate) fn usage(&mut self, u: Usage) {
        self.got_usage = true;
        if let Some(r) = self.record.as_mut() {
            r.prompt_tokens = u.prompt_tokens;
            r.completion_tokens = u.completion_tokens;
        }
    }

    /// Ends the call: `None` for success, or the error it ended with.
    pub(crate) fn finish(mut self, error: Option<&CoreError>) {
        let ms = self.elapsed_ms();
        if let Some(r) = self.record.as_mut() {
            r.latency_ms = ms;
            r.status = if error.is_some() { "error" } else { "ok" }.into();
            r.error_code = error.map(|e| e.code().as_str().to_owned());
        }
        self.write();
    }

    fn write(&mut self) {
        let (Some(mut record), Ok(rt)) =
            (self.record.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        if record.latency_ms == 0 {
            record.latency_ms = self.elapsed_ms();
        }
        if !self.got_usage && record.status == "cancelled" {
            record.prompt_tokens = estimate_tokens(self.prompt_chars);
            record.completion_tokens = estimate_tokens(self.streamed_chars);
        }
        let tokens = record.prompt_tokens + record.completion_tokens;
        self.cp.charge(&record.user_id, &self.checks, tokens);
        if let Some(tx) = &self.cp.inner.usage_tx {
            if let Err(e) = tx.try_send(record) {
                tracing::warn!(error = %e, "usage record dropped: the writer is behind");
            }
            return;
        }
        let store = self.cp.store().clone();
        rt.spawn(async move {
            if let Err(e) = store.record_usage(&record).await {
                tracing::warn!(error = %e, "cannot record usage");
            }
        });
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // Still unwritten: the caller went away mid-call.
        self.write();
    }
}

/// Meters a chat stream; drops the usage-only chunk the client did not ask for.
pub(crate) fn metered(stream: ChatStream, meter: Meter, strip_usage_chunk: bool) -> ChatStream {
    futures::stream::unfold(
        (stream, Some(meter)),
        move |(mut stream, mut meter)| async move {
            loop {
                let m = meter.as_mut()?;
                match stream.next().await {
                    Some(Ok(chunk)) => {
                        m.first_chunk();
                        m.streamed(&chunk);
                        if let Some(u) = usage_of(&chunk) {
                            m.usage(u);
                            let usage_only = chunk["choices"].as_array().is_some_and(Vec::is_empty);
                            if strip_usage_chunk && usage_only {
                                continue;
                            }
                        }
                        return Some((Ok(chunk), (stream, meter)));
                    }
                    Some(Err(e)) => {
                        if let Some(m) = meter.take() {
                            m.finish(Some(&e));
                        }
                        return Some((Err(e), (stream, None)));
                    }
                    None => {
                        if let Some(m) = meter.take() {
                            m.finish(None);
                        }
                        return None;
                    }
                }
            }
        },
    )
    .boxed()
}

/// Which usage to report.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// How many days back, 1-366 (default 30).
    #[serde(default)]
    pub days: Option<u32>,
    /// Everyone's usage (site admins) instead of the caller's.
    #[serde(default)]
    pub all: Option<bool>,
}

impl ControlPlane {
    /// Usage per day, model and key: the caller's own, or everyone's for site admins.
    pub async fn usage(&self, p: &Principal, q: UsageQuery) -> Result<Vec<UsageSummaryRow>> {
        let days = q.days.unwrap_or(30);
        if !(1..=366).contains(&days) {
            return Err(CoreError::invalid("days", "must be between 1 and 366"));
        }
        let user = if q.all.unwrap_or(false) {
            authz::require_site_admin(p)?;
            None
        } else {
            Some(&p.user.id)
        };
        let since = self.now() - chrono::Duration::days(i64::from(days));
        self.store().usage_summary(user, since).await
    }
}

/// Limit settings are re-read at most this often.
const LIMIT_SETTINGS_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// A user's monthly usage is recounted at most this often.
const QUOTA_RECOUNT: std::time::Duration = std::time::Duration::from_secs(10);

/// The buckets a call is counted in.
pub(crate) type Checks = Vec<(String, crate::limits::Limits)>;

impl ControlPlane {
    /// Admits a model call under the caller's rate limits and monthly quota, or says
    /// when to retry.
    pub(crate) async fn admit_call(&self, p: &Principal) -> Result<Checks> {
        let settings = self.cached_limit_settings().await?;
        let now = self.now();
        if let Some(quota) = settings.user_monthly_tokens {
            let used = self.quota_used(p).await?;
            if used >= i64::try_from(quota).unwrap_or(i64::MAX) {
                let next = crate::limits::month_start(
                    crate::limits::month_start(now) + chrono::Duration::days(32),
                );
                let retry_after_secs = u64::try_from((next - now).num_seconds())
                    .unwrap_or(0)
                    .max(1);
                return Err(CoreError::QuotaExceeded {
                    quota,
                    retry_after_secs,
                });
            }
        }
        let mut checks = vec![(
            format!("user:{}", p.user.id),
            crate::limits::Limits {
                requests_per_minute: settings.user_requests_per_minute,
                tokens_per_minute: settings.user_tokens_per_minute,
            },
        )];
        if let AuthMethod::ApiKey { key_id, limits } = &p.method {
            checks.push((format!("key:{key_id}"), *limits));
        }
        self.inner
            .limiter
            .acquire(&checks, now)
            .map_err(|retry_after_secs| CoreError::RateLimited {
                what: "rate limit reached".into(),
                retry_after_secs,
            })?;
        Ok(checks)
    }

    /// Charges a finished call's tokens to its buckets and the quota count.
    pub(crate) fn charge(&self, user: &crate::id::UserId, checks: &Checks, tokens: i64) {
        self.inner
            .limiter
            .charge(checks, u64::try_from(tokens).unwrap_or(0), self.now());
        let mut used = self
            .inner
            .quota_used
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((_, n)) = used.get_mut(user) {
            *n += tokens;
        }
    }

    async fn cached_limit_settings(&self) -> Result<crate::ops::accounts::InstanceSettings> {
        let generation = match self.inner.limit_settings.get(LIMIT_SETTINGS_TTL) {
            Ok(s) => return Ok(s),
            Err(generation) => generation,
        };
        let fresh = self.instance_settings().await?;
        self.inner.limit_settings.put(generation, fresh.clone());
        Ok(fresh)
    }

    /// Forgets cached limit settings (an admin changed them, here or on another replica).
    pub(crate) fn forget_limit_settings(&self) {
        self.inner.limit_settings.clear();
    }

    async fn quota_used(&self, p: &Principal) -> Result<i64> {
        {
            let used = self
                .inner
                .quota_used
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((_, n)) = used
                .get(&p.user.id)
                .filter(|(at, _)| at.elapsed() < QUOTA_RECOUNT)
            {
                return Ok(*n);
            }
        }
        let since = crate::limits::month_start(self.now());
        let n = self.store().tokens_used_since(&p.user.id, since).await?;
        self.inner
            .quota_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.user.id.clone(), (std::time::Instant::now(), n));
        Ok(n)
    }
}

/// Most records one write carries.
const USAGE_BATCH: usize = 256;

/// Starts the task that writes usage records in batches (one transaction for all that
/// queued while the last one was written), when a runtime is there to run it.
pub(crate) fn spawn_writer(
    store: std::sync::Arc<dyn crate::store::Store>,
) -> Option<tokio::sync::mpsc::Sender<UsageRecord>> {
    let rt = tokio::runtime::Handle::try_current().ok()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<UsageRecord>(10_000);
    rt.spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < USAGE_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if let Err(e) = store.record_usage_batch(&batch).await {
                tracing::warn!(error = %e, records = batch.len(), "cannot record usage");
            }
        }
    });
    Some(tx)
}
