//! OpenID Connect login for enterprise SSO (authorization code + PKCE).
//!
//! [`OidcProvider`] discovers the provider lazily (the first login after start; a
//! provider that is down does not stop Helix from starting), then:
//! 1. [`ControlPlane::oidc_begin`](crate::ControlPlane::oidc_begin) stores a flow
//!    (state, nonce, PKCE verifier) and returns the provider's authorization URL; the
//!    host also binds `state` to the browser with a short-lived cookie.
//! 2. [`ControlPlane::oidc_complete`](crate::ControlPlane::oidc_complete) checks the
//!    state against the cookie and consumes the flow (each state works once), exchanges
//!    the code with the verifier, verifies the ID token's signature against the JWKS,
//!    issuer, audience, expiry and nonce, then links the account by (issuer, subject).

use crate::error::{CoreError, Result};
use crate::id::OrgId;
use crate::model::Role;
use openidconnect::core::{CoreClient, CoreIdToken, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    RedirectUrl,
};
use std::str::FromStr;

/// SSO configuration.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL; discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer_url: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret (confidential clients).
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back: `{public_url}/api/v1/auth/oidc/callback`.
    pub redirect_url: String,
    /// Scopes to ask for besides `openid` (default `email profile`).
    pub scopes: Vec<String>,
    /// When not empty, only verified emails in these domains may sign in.
    pub allowed_email_domains: Vec<String>,
    /// The claim that lists the user's groups (default `groups`).
    pub groups_claim: String,
    /// When not empty, membership of any of these groups makes a site admin (and not
    /// being in any of them removes it), synced at every login.
    pub admin_groups: Vec<String>,
    /// Group -> org role grants applied at every login.
    pub group_roles: Vec<GroupRole>,
}

impl OidcConfig {
    /// A config with the defaults for everything optional.
    pub fn new(
        issuer_url: impl Into<String>,
        client_id: impl Into<String>,
        redirect_url: impl Into<String>,
    ) -> Self {
        OidcConfig {
            issuer_url: issuer_url.into(),
            client_id: client_id.into(),
            client_secret: None,
            redirect_url: redirect_url.into(),
            scopes: vec!["email".into(), "profile".into()],
            allowed_email_domains: Vec::new(),
            groups_claim: "groups".into(),
            admin_groups: Vec::new(),
            group_roles: Vec::new(),
        }
    }
}

/// Membership of `group` gives `role` in `org_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRole {
    /// The provider's group name.
    pub group: String,
    /// The org.
    pub org_id: OrgId,
    /// The role granted.
    pub role: Role,
}

impl FromStr for GroupRole {
    type Err = CoreError;

    /// Parses `group=org_id:role`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            CoreError::invalid(
                "HELIX_OIDC_GROUP_ROLES",
                format!("{s:?} is not group=org_id:role"),
            )
        };
        let (group, rest) = s.split_once('=').ok_or_else(bad)?;
        let (org, role) = rest.split_once(':').ok_or_else(bad)?;
        Ok(GroupRole {
            group: group.trim().to_owned(),
            org_id: org.trim().parse()?,
            role: Role::parse(role.trim()).ok_or_else(bad)?,
        })
    }
}

/// What a verified login tells about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The issuer.
    pub issuer: String,
    /// The provider's stable user id.
    pub subject: String,
    /// Email, if released.
    pub email: Option<String>,
    /// Whether the provider verified the email.
    pub email_verified: bool,
    /// Display name, if released.
    pub name: Option<String>,
    /// Groups, if released.
    pub groups: Vec<String>,
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Debug)]
pub(crate) struct Discovered {
    pub(crate) client: Client,
    pub(crate) userinfo_url: Option<String>,
}

/// A configured OpenID provider, discovered on first use.
#[derive(Debug)]
pub struct OidcProvider {
    pub(crate) config: OidcConfig,
    pub(crate) http: openidconnect::reqwest::Client,
    discovered: tokio::sync::OnceCell<Discovered>,
}

fn oidc_err(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::Oidc(format!("{what}: {e}"))
}

impl OidcProvider {
    /// Checks the configuration; discovery happens on first use.
    pub fn new(config: OidcConfig) -> Result<Self> {
        IssuerUrl::new(config.issuer_url.clone())
            .map_err(|e| CoreError::invalid("HELIX_OIDC_ISSUER", e.to_string()))?;
        RedirectUrl::new(config.redirect_url.clone())
            .map_err(|e| CoreError::invalid("HELIX_PUBLIC_URL", e.to_string()))?;
        let http = crate::egress::client_builder()?
            // Following redirects from the token endpoint would be an SSRF vector.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(CoreError::internal)?;
        Ok(OidcProvider {
            config,
            http,
            discovered: tokio::sync::OnceCell::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    pub(crate) async fn discovered(&self) -> Result<&Discovered> {
        self.discovered
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.config.issuer_url.clone())
                    .map_err(|e| oidc_err("bad issuer url", e))?;
                let meta = CoreProviderMetadata::discover_async(issuer, &self.http)
                    .await
                    .map_err(|e| oidc_err("discovery failed", e))?;
                let userinfo_url = meta.userinfo_endpoint().map(|u| u.url().to_string());
                let redirect = RedirectUrl::new(self.config.redirect_url.clone())
                    .map_err(|e| oidc_err("bad redirect url", e))?;
                let client = CoreClient::from_provider_metadata(
                    meta,
                    ClientId::new(self.config.client_id.clone()),
                    self.config.client_secret.clone().map(ClientSecret::new),
                )
                .set_redirect_uri(redirect);
                tracing::info!(issuer = %self.config.issuer_url, "oidc provider discovered");
                Ok(Discovered {
                    client,
                    userinfo_url,
                })
            })
            .await
    }

    /// Verifies a raw ID token (signature against the provider's JWKS, issuer,
    /// audience, expiry and `nonce`) and reads the identity from it.
    pub async fn verify_id_token(&self, raw: &str, nonce: &str) -> Result<OidcIdentity> {
        let d = self.discovered().await?;
        let token = CoreIdToken::from_str(raw).map_err(|e| oidc_err("malformed id token", e))?;
        let claims = token
            .claims(&d.client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| oidc_err("id token rejected", e))?;
        // The signature is verified: read the provider-specific groups claim from the
        // same payload.
        let payload = raw
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok()
            })
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .unwrap_or_default();
        Ok(OidcIdentity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            groups: string_list(payload.get(&self.config.groups_claim)),
        })
    }

    /// Fills what the ID token left out (email, name, groups) from the userinfo
    /// endpoint, which must answer for the same subject.
    pub(crate) async fn complete_from_userinfo(
        &self,
        id: &mut OidcIdentity,
        access_token: &str,
    ) -> Result<()> {
        let Some(url) = self.discovered().await?.userinfo_url.clone() else {
            return Ok(());
        };
        let info: serde_json::Value = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| oidc_err("userinfo failed", e))?
            .json()
            .await
            .map_err(|e| oidc_err("userinfo is not json", e))?;
        if info.get("sub").and_then(|s| s.as_str()) != Some(id.subject.as_str()) {
            return Err(CoreError::Oidc(
                "userinfo subject does not match the id token".into(),
            ));
        }
        if id.email.is_none() {
            id.email = info
                .get("email")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            id.email_verified = info
                .get("email_verified")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
        }
        if id.name.is_none() {
            id.name = info.get("name").and_then(|v| v.as_str()).map(str::to_owned);
        }
        if id.groups.is_empty() {
            id.groups = string_list(info.get(&self.config.groups_claim));
        }
        Ok(())
    }

    /// Whether this identity's email passes the domain allow-list.
    pub fn email_allowed(&self, id: &OidcIdentity) -> bool {
        let domains = &self.config.allowed_email_domains;
        if domains.is_empty() {
            return true;
        }
        match (&id.email, id.email_verified) {
            (Some(email), true) => email
                .rsplit_once('@')
                .is_some_and(|(_, d)| domains.iter().any(|a| a.eq_ignore_ascii_case(d))),
            _ => false,
        }
    }
}

fn string_list(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_roles_parse() {
        let org = OrgId::new();
        let g: GroupRole = format!("eng={org}:admin").parse().unwrap();
        assert_eq!(g.group, "eng");
        assert_eq!(g.role, Role::Admin);
        assert!("eng".parse::<GroupRole>().is_err());
        assert!(format!("eng={org}:boss").parse::<GroupRole>().is_err());
        assert!("eng=org_x:admin".parse::<GroupRole>().is_err());
    }

    #[test]
    fn domain_allow_list_needs_verified_email() {
        let mut cfg = OidcConfig::new("http://127.0.0.1:1", "c", "http://127.0.0.1:2/cb");
        cfg.allowed_email_domains = vec!["example.com".into()];
        let p = OidcProvider::new(cfg).unwrap();
        let mut id = OidcIdentity {
            issuer: "i".into(),
            subject: "s".into(),
            email: Some("a@Example.com".into()),
            email_verified: true,
            name: None,
            groups: vec![],
        };
        assert!(p.email_allowed(&id));
        id.email_verified = false;
        assert!(!p.email_allowed(&id));
        id.email_verified = true;
        id.email = Some("a@evil.test".into());
        assert!(!p.email_allowed(&id));
    }
}
