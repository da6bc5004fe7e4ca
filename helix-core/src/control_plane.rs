//! The `ControlPlane` facade: the one entry point hosts call.

use crate::auth::oidc::{OidcConfig, OidcProvider};
use crate::clock::{SharedClock, SystemClock};
use crate::error::{CoreError, Result};
use crate::events::{EventBus, InProcessBus};
use crate::secrets::SecretBox;
use crate::store::Store;
use std::sync::Arc;

/// Default lifetime of a login session.
pub const DEFAULT_SESSION_TTL: chrono::Duration = chrono::Duration::days(7);
/// Setting key: whether self-registration is open.
pub const SETTING_REGISTRATION: &str = "registration_enabled";

/// Everything a Helix control plane does, over one store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) secrets: SecretBox,
    pub(crate) clock: SharedClock,
    pub(crate) session_ttl: chrono::Duration,
    pub(crate) registration_default: bool,
    pub(crate) oidc: Option<OidcProvider>,
    /// One pooled client for every call to model providers.
    pub(crate) upstream_http: reqwest::Client,
    /// The same for user and org endpoints: never connects to a private address.
    pub(crate) upstream_http_public: reqwest::Client,
    /// Where chat events go.
    pub(crate) events: Arc<dyn EventBus>,
    /// Text of answers being generated in this process.
    pub(crate) live: crate::ops::live::LiveAnswers,
    /// Each endpoint's served models, as last listed.
    pub(crate) model_lists: ModelLists,
    /// Where metered calls go to be written in batches.
    pub(crate) usage_tx: Option<tokio::sync::mpsc::Sender<crate::model::UsageRecord>>,
    /// Sessions with an answer running in this process, each with the bell that stops it.
    pub(crate) answering: std::sync::Mutex<
        std::collections::HashMap<crate::id::SessionId, Arc<crate::ops::chat::RunningTurn>>,
    >,
    /// Whether user and org endpoints may point at private addresses.
    pub(crate) allow_private_upstreams: bool,
    /// The provider configuration, as last read.
    pub(crate) providers: crate::ops::provider_cache::ProviderCache,
    /// Helix's own GPU runners, when this control plane has them.
    pub(crate) runner_pool: Option<Arc<dyn crate::providers::ProviderPool>>,
    /// Requests and tokens per minute.
    pub(crate) limiter: crate::limits::RateLimiter,
    /// Password logins per client address and failed ones per email.
    pub(crate) login_limiter: crate::limits::RateLimiter,
    /// Limit settings, as last read.
    pub(crate) limit_settings:
        crate::ops::cache_slot::CacheSlot<crate::ops::accounts::InstanceSettings>,
    /// This control plane on the event bus (it skips its own control events).
    pub(crate) instance_id: String,
    /// API keys and memberships, as last read.
    pub(crate) auth_cache: crate::ops::auth_cache::AuthCache,
    /// Tokens each user used this month, as last counted (plus what was charged since).
    pub(crate) quota_used:
        std::sync::Mutex<std::collections::HashMap<crate::id::UserId, (std::time::Instant, i64)>>,
}

/// Cached model lists per endpoint.
pub(crate) type ModelLists = std::sync::Mutex<
    std::collections::HashMap<
        crate::id::ProviderEndpointId,
        (std::time::Instant, Arc<Vec<String>>),
    >,
>;

impl ControlPlane {
    /// Starts building a control plane.
    pub fn builder() -> ControlPlaneBuilder {
        ControlPlaneBuilder::default()
    }

    /// The store, for hosts that need health checks.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The secret box (encrypts provider keys and the like).
    pub fn secrets(&self) -> &SecretBox {
        &self.inner.secrets
    }

    /// The current time by this control plane's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// Login-session lifetime (hosts set the cookie's Max-Age from it).
    pub fn session_ttl(&self) -> chrono::Duration {
        self.inner.session_ttl
    }

    /// Whether SSO login is configured.
    pub fn oidc_enabled(&self) -> bool {
        self.inner.oidc.is_some()
    }

    /// The SSO provider, when configured.
    pub fn oidc_provider(&self) -> Option<&OidcProvider> {
        self.inner.oidc.as_ref()
    }

    /// Readiness: the database answers.
    pub async fn ready(&self) -> Result<()> {
        self.inner.store.ping().await
    }

    pub(crate) fn store_ref(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub(crate) fn oidc(&self) -> Result<&OidcProvider> {
        self.inner
            .oidc
            .as_ref()
            .ok_or(CoreError::NotConfigured("sso (oidc)"))
    }
}

/// Builds a [`ControlPlane`].
#[derive(Debug, Default)]
#[must_use]
pub struct ControlPlaneBuilder {
    store: Option<Arc<dyn Store>>,
    secrets: Option<SecretBox>,
    clock: Option<SharedClock>,
    session_ttl: Option<chrono::Duration>,
    registration: Option<bool>,
    oidc: Option<OidcConfig>,
    events: Option<Arc<dyn EventBus>>,
    allow_private_upstreams: bool,
    runner_pool: Option<Arc<dyn crate::providers::ProviderPool>>,
    auth_cache_ttl: Option<std::time::Duration>,
}

impl ControlPlaneBuilder {
    /// Helix's own GPU runners (the `runners` provider kind); see
    /// [`ControlPlane::ensure_runner_endpoint`].
    pub fn runner_pool(mut self, pool: Arc<dyn crate::providers::ProviderPool>) -> Self {
        self.runner_pool = Some(pool);
        self
    }

    /// The store (required).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The secret box (required).
    pub fn secrets(mut self, secrets: SecretBox) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Login-session lifetime (default 7 days).
    pub fn session_ttl(mut self, ttl: chrono::Duration) -> Self {
        self.session_ttl = Some(ttl);
        self
    }

    /// Whether self-registration is open when no admin has set it (default true).
    /// The first user can always register, so a fresh instance can be set up.
    pub fn registration_enabled(mut self, enabled: bool) -> Self {
        self.registration = Some(enabled);
        self
    }

    /// Let endpoints that non-admins create point at private, loopback and link-local
    /// addresses (default: no; global endpoints, which only site admins create, may).
    pub fn allow_private_upstreams(mut self, allow: bool) -> Self {
        self.allow_private_upstreams = allow;
        self
    }

    /// The event bus (default: in-process).
    pub fn events(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.events = Some(bus);
        self
    }

    /// How long an API key's principal and a user's memberships are used before they
    /// are read again (default 5 s; zero reads them on every request). Changes made
    /// through any replica sharing the event bus take effect at once regardless.
    pub fn auth_cache_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.auth_cache_ttl = Some(ttl);
        self
    }

    /// Enables SSO through an OpenID Connect provider.
    pub fn oidc(mut self, config: OidcConfig) -> Self {
        self.oidc = Some(config);
        self
    }

    /// Builds the control plane.
    pub fn build(self) -> Result<ControlPlane> {
        let store = self.store.ok_or(CoreError::NotConfigured("store"))?;
        let secrets = self.secrets.ok_or(CoreError::NotConfigured("secret box"))?;
        let oidc = self.oidc.map(OidcProvider::new).transpose()?;
        let usage_tx = crate::ops::usage::spawn_writer(store.clone());
        let cp = ControlPlane {
            inner: Arc::new(Inner {
                store,
                secrets,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                session_ttl: self.session_ttl.unwrap_or(DEFAULT_SESSION_TTL),
                registration_default: self.registration.unwrap_or(true),
                oidc,
                upstream_http: upstream_client(false)?,
                upstream_http_public: upstream_client(true)?,
                events: self
                    .events
                    .unwrap_or_else(|| Arc::new(InProcessBus::default())),
                live: Default::default(),
                model_lists: Default::default(),
                allow_private_upstreams: self.allow_private_upstreams,
                answering: Default::default(),
                usage_tx,
                providers: Default::default(),
                runner_pool: self.runner_pool,
                limiter: Default::default(),
                login_limiter: Default::default(),
                limit_settings: Default::default(),
                quota_used: Default::default(),
                instance_id: ulid::Ulid::new().to_string(),
                auth_cache: crate::ops::auth_cache::AuthCache::new(
                    self.auth_cache_ttl
                        .unwrap_or(crate::ops::auth_cache::DEFAULT_AUTH_CACHE_TTL),
                ),
            }),
        };
        crate::ops::bus_control::spawn(&cp.inner);
        Ok(cp)
    }
}

/// The client for model providers: pooled, connect timeout, no overall timeout (streams
/// run as long as the model writes), no redirects (a redirect could leak the API key).
fn upstream_client(public_only: bool) -> Result<reqwest::Client> {
    let mut builder = crate::egress::client_builder()?;
    if public_only {
        builder = builder.dns_resolver(std::sync::Arc::new(
            crate::ops::upstream_policy::PublicOnlyResolver::from_env(),
        ));
    }
    builder
        .connect_timeout(std::time::Duration::from_secs(10))
        // An upstream silent this long (no byte of an answer or a stream) is dead.
        .read_timeout(std::time::Duration::from_secs(300))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .build()
        .map_err(CoreError::internal)
}
