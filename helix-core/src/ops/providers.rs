//! Provider endpoints: where models are served, scoped to the instance, an org or a
//! user. Their API keys are sealed with the instance key and never returned.

use super::validate;
use crate::auth::Principal;
use crate::authz::{self, OrgAction};
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::id::{ModelId, ProviderEndpointId};
use crate::model::{Model, ProviderEndpoint, ProviderKind, Scope};
use serde::Deserialize;
use utoipa::ToSchema;

/// Adds a provider endpoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateProviderEndpointRequest {
    /// Name used in `provider/model`: lowercase letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// Wire dialect.
    pub kind: ProviderKind,
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// API key for the upstream; stored encrypted, never shown again.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Who may use it: `{"scope":"global"}`, `{"scope":"org","org_id":...}` or
    /// `{"scope":"user","user_id":...}`.
    #[serde(flatten)]
    pub scope: Scope,
}

/// Registers a model of an endpoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModelRequest {
    /// The model's name at the provider.
    pub name: String,
    /// Serve this model name when callers give no provider.
    #[serde(default)]
    pub is_default: bool,
    /// Context window in tokens.
    #[serde(default)]
    pub context_length: Option<i64>,
}

fn endpoint_name(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(CoreError::invalid(
            "name",
            "must be 1-64 of a-z, 0-9, '.', '_', '-'",
        ))
    }
}

/// Name of the global endpoint through which Helix's own runners serve models.
pub const RUNNER_ENDPOINT_NAME: &str = "runners";

fn base_url(url: &str) -> Result<String> {
    parse_base_url(url).map(|_| url.trim_end_matches('/').to_owned())
}

fn parse_base_url(url: &str) -> Result<url::Url> {
    let parsed = url::Url::parse(url).map_err(|e| CoreError::invalid("base_url", e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(CoreError::invalid("base_url", "must be an http(s) URL"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(CoreError::invalid(
            "base_url",
            "must not carry credentials; use api_key",
        ));
    }
    Ok(parsed)
}

impl ControlPlane {
    /// Checks that the caller may manage endpoints of `scope`.
    pub(crate) async fn authorize_scope_manage(&self, p: &Principal, scope: &Scope) -> Result<()> {
        match scope {
            Scope::Global => authz::require_site_admin(p),
            Scope::Org { org_id } => {
                authz::authorize_org(self.store_ref(), p, org_id, OrgAction::Manage)
                    .await
                    .map(|_| ())
            }
            Scope::User { user_id } if user_id == &p.user.id => Ok(()),
            Scope::User { .. } => Err(CoreError::Forbidden(
                "endpoints of another user cannot be managed".into(),
            )),
        }
    }

    /// Adds a provider endpoint in a scope the caller manages.
    pub async fn create_provider_endpoint(
        &self,
        p: &Principal,
        req: CreateProviderEndpointRequest,
    ) -> Result<ProviderEndpoint> {
        self.authorize_scope_manage(p, &req.scope).await?;
        if req.scope != Scope::Global && !self.inner.allow_private_upstreams {
            super::upstream_policy::check_public(&parse_base_url(&req.base_url)?).await?;
        }
        if req.kind == ProviderKind::Runners {
            return Err(CoreError::invalid(
                "kind",
                "the runners endpoint is created by the control plane itself when it has a runner pool",
            ));
        }
        let endpoint = ProviderEndpoint {
            id: ProviderEndpointId::new(),
            name: endpoint_name(&req.name)?,
            kind: req.kind,
            base_url: base_url(&req.base_url)?,
            scope: req.scope,
            has_api_key: req.api_key.as_deref().is_some_and(|k| !k.is_empty()),
            created_at: self.now(),
        };
        let sealed = match req.api_key.filter(|k| !k.is_empty()) {
            Some(k) => Some(validate::text("api_key", &k, 4096).and_then(|k| {
                self.secrets()
                    .seal(k.as_bytes(), endpoint.id.as_str().as_bytes())
            })?),
            None => None,
        };
        self.store_ref()
            .create_provider_endpoint(&endpoint, sealed.as_deref())
            .await?;
        self.providers_changed();
        tracing::info!(endpoint = %endpoint.id, name = %endpoint.name, "provider endpoint created");
        Ok(endpoint)
    }

    /// Makes sure the runner pool is reachable as a global endpoint of kind `runners`
    /// (named [`RUNNER_ENDPOINT_NAME`]), creating it once. Hosts call this at startup
    /// when they give the control plane a runner pool; without a pool it does nothing.
    pub async fn ensure_runner_endpoint(&self) -> Result<Option<ProviderEndpoint>> {
        if self.inner.runner_pool.is_none() {
            return Ok(None);
        }
        let existing = self.store_ref().list_provider_endpoints().await?;
        if let Some(e) = existing
            .into_iter()
            .find(|e| e.kind == ProviderKind::Runners && e.scope == Scope::Global)
        {
            return Ok(Some(e));
        }
        let endpoint = ProviderEndpoint {
            id: ProviderEndpointId::new(),
            name: RUNNER_ENDPOINT_NAME.into(),
            kind: ProviderKind::Runners,
            base_url: "helix:runners".into(),
            scope: Scope::Global,
            has_api_key: false,
            created_at: self.now(),
        };
        self.store_ref()
            .create_provider_endpoint(&endpoint, None)
            .await?;
        self.providers_changed();
        tracing::info!(endpoint = %endpoint.id, "runner pool endpoint created");
        Ok(Some(endpoint))
    }

    /// The endpoints the caller may see, most specific scope first (user, org, global);
    /// site admins see every org's.
    pub async fn list_provider_endpoints(&self, p: &Principal) -> Result<Vec<ProviderEndpoint>> {
        self.endpoints_for(p, p.is_admin()).await
    }

    /// The endpoints the caller's model calls may resolve to: their own, their orgs',
    /// global ones. Site admins get no more here than anyone: seeing every org's
    /// endpoints must not make an admin's calls land on them.
    pub(crate) async fn usable_endpoints(&self, p: &Principal) -> Result<Vec<ProviderEndpoint>> {
        self.endpoints_for(p, false).await
    }

    async fn endpoints_for(&self, p: &Principal, all_orgs: bool) -> Result<Vec<ProviderEndpoint>> {
        let orgs = self.member_org_ids(&p.user.id).await?;
        let mut visible: Vec<ProviderEndpoint> = self
            .providers()
            .await?
            .endpoints
            .iter()
            .filter(|e| match &e.scope {
                Scope::Global => true,
                Scope::Org { org_id } => all_orgs || orgs.contains(org_id),
                Scope::User { user_id } => user_id == &p.user.id,
            })
            .cloned()
            .collect();
        visible.sort_by_key(|e| scope_rank(&e.scope));
        Ok(visible)
    }

    /// One endpoint the caller may see.
    pub async fn get_provider_endpoint(
        &self,
        p: &Principal,
        id: &ProviderEndpointId,
    ) -> Result<ProviderEndpoint> {
        self.list_provider_endpoints(p)
            .await?
            .into_iter()
            .find(|e| &e.id == id)
            .ok_or_else(|| CoreError::not_found("provider endpoint", id))
    }

    /// Deletes an endpoint (whoever manages its scope).
    pub async fn delete_provider_endpoint(
        &self,
        p: &Principal,
        id: &ProviderEndpointId,
    ) -> Result<()> {
        let endpoint = self.get_provider_endpoint(p, id).await?;
        self.authorize_scope_manage(p, &endpoint.scope).await?;
        self.store_ref().delete_provider_endpoint(id).await?;
        self.providers_changed();
        Ok(())
    }

    /// Registers a model of an endpoint (whoever manages its scope).
    pub async fn create_model(
        &self,
        p: &Principal,
        id: &ProviderEndpointId,
        req: CreateModelRequest,
    ) -> Result<Model> {
        let endpoint = self.get_provider_endpoint(p, id).await?;
        self.authorize_scope_manage(p, &endpoint.scope).await?;
        if req.context_length.is_some_and(|n| n <= 0) {
            return Err(CoreError::invalid("context_length", "must be positive"));
        }
        let model = Model {
            id: ModelId::new(),
            provider_endpoint_id: endpoint.id,
            name: validate::name("name", &req.name, 200)?,
            is_default: req.is_default,
            context_length: req.context_length,
            created_at: self.now(),
        };
        self.store_ref().create_model(&model).await?;
        self.providers_changed();
        Ok(model)
    }

    /// The registered models of an endpoint the caller may see.
    pub async fn list_endpoint_models(
        &self,
        p: &Principal,
        id: &ProviderEndpointId,
    ) -> Result<Vec<Model>> {
        let endpoint = self.get_provider_endpoint(p, id).await?;
        self.store_ref().list_models(Some(&endpoint.id)).await
    }
}

/// Listing order of scopes: a user's own endpoints, then their orgs', then global.
pub(crate) fn scope_rank(scope: &Scope) -> u8 {
    match scope {
        Scope::User { .. } => 0,
        Scope::Org { .. } => 1,
        Scope::Global => 2,
    }
}

/// Resolution precedence: the caller's own endpoints win; org and global ones are
/// peers, so the same name in both is ambiguous. (If an org's endpoint outranked a
/// global one, anyone who adds you to their org could take over your calls.)
pub(crate) fn resolution_rank(scope: &Scope) -> u8 {
    match scope {
        Scope::User { .. } => 0,
        _ => 1,
    }
}
