//! SSO login through OpenID Connect: begin and complete.

use super::accounts::LoginOutcome;
use crate::auth::oidc::OidcIdentity;
use crate::auth::token;
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::model::User;
use crate::store::{AdminRule, OidcFlowRecord};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    Scope, TokenResponse,
};

/// How long a started SSO login may take.
const FLOW_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// Longest `code` or `state` accepted from the callback.
const MAX_PARAM_LEN: usize = 4096;

/// Where to send the browser to start an SSO login.
#[derive(Debug, Clone)]
pub struct OidcRedirect {
    /// The provider's authorization URL.
    pub url: String,
    /// The `state`, which the host binds to the browser with a cookie.
    pub state: String,
}

/// What came back to the callback.
#[derive(Debug, Clone, Default)]
pub struct OidcCallback {
    /// `code` query parameter.
    pub code: Option<String>,
    /// `state` query parameter.
    pub state: Option<String>,
    /// `error` query parameter (the provider refused).
    pub error: Option<String>,
    /// The state cookie the browser sent back.
    pub cookie_state: Option<String>,
}

/// Only local paths are allowed as a post-login destination (no open redirect).
fn safe_return_to(path: Option<&str>) -> String {
    match path {
        // Browsers drop tabs and newlines from URLs ("/\t/evil" becomes "//evil"), so
        // no control character or whitespace at all.
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(|c| c.is_control() || c.is_whitespace())
                && p.len() < 1024 =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The authorization errors of OAuth 2.0 (RFC 6749 4.1.2.1) and OpenID Connect Core
/// (3.1.2.6) that a provider may send back.
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
];

impl ControlPlane {
    /// Starts an SSO login.
    pub async fn oidc_begin(&self, return_to: Option<&str>) -> Result<OidcRedirect> {
        let provider = self.oidc()?;
        let d = provider.discovered().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = d
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &provider.config().scopes {
            req = req.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = req.url();
        self.store_ref()
            .put_oidc_flow(&OidcFlowRecord {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                return_to: safe_return_to(return_to),
                created_at: self.now(),
            })
            .await?;
        Ok(OidcRedirect {
            url: url.to_string(),
            state: state.secret().clone(),
        })
    }

    /// Completes an SSO login: checks state, exchanges the code, verifies the ID token,
    /// links or creates the account, applies group mappings, opens a login session.
    /// Returns the session and the local path to continue to.
    #[tracing::instrument(skip_all)]
    pub async fn oidc_complete(&self, cb: OidcCallback) -> Result<(LoginOutcome, String)> {
        let provider = self.oidc()?;
        if let Some(err) = cb.error {
            // Anyone can put any text in this query (the state is not checked yet), so
            // only the standard error codes are repeated back.
            return Err(CoreError::Oidc(if OAUTH_ERRORS.contains(&err.as_str()) {
                format!("the identity provider refused the login ({err})")
            } else {
                "the identity provider refused the login".into()
            }));
        }
        let (Some(code), Some(state)) = (cb.code, cb.state) else {
            return Err(CoreError::Oidc("callback lacks code or state".into()));
        };
        if code.len() > MAX_PARAM_LEN || state.len() > MAX_PARAM_LEN {
            return Err(CoreError::Oidc("callback parameters too long".into()));
        }
        let cookie_ok = cb
            .cookie_state
            .as_deref()
            .is_some_and(|c| token::constant_time_eq(c, &state));
        if !cookie_ok {
            return Err(CoreError::Oidc(
                "state does not match this browser's login".into(),
            ));
        }
        let flow = self
            .store_ref()
            .take_oidc_flow(&state)
            .await?
            .ok_or_else(|| CoreError::Oidc("unknown or already used state".into()))?;
        if self.now() - flow.created_at > FLOW_TTL {
            return Err(CoreError::Oidc("login took too long; start again".into()));
        }
        let d = provider.discovered().await?;
        let response = d
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| CoreError::Oidc(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
            .request_async(&provider.http)
            .await
            .map_err(|e| {
                CoreError::Oidc(format!(
                    "code exchange failed: {}",
                    describe_token_error(&e)
                ))
            })?;
        let raw = response
            .id_token()
            .ok_or_else(|| CoreError::Oidc("token response has no id token".into()))?
            .to_string();
        let mut identity = provider.verify_id_token(&raw, &flow.nonce).await?;
        provider
            .complete_from_userinfo(&mut identity, response.access_token().secret())
            .await?;
        if !provider.email_allowed(&identity) {
            return Err(CoreError::Forbidden(
                "your email domain may not sign in to this instance".into(),
            ));
        }
        let user = self.sso_user(&identity).await?;
        let user = self.apply_group_mappings(user, &identity).await?;
        tracing::info!(user = %user.id, issuer = %identity.issuer, "sso login");
        Ok((self.open_session(user).await?, flow.return_to))
    }

    async fn sso_user(&self, id: &OidcIdentity) -> Result<User> {
        let store = self.store_ref();
        if let Some(user_id) = store.find_identity(&id.issuer, &id.subject).await? {
            return store
                .get_user(&user_id)
                .await?
                .ok_or_else(|| CoreError::not_found("user", user_id));
        }
        let email = id
            .email
            .as_deref()
            .map(super::validate::email)
            .transpose()
            .map_err(|_| CoreError::Oidc("provider sent an invalid email".into()))?
            .ok_or_else(|| CoreError::Oidc("provider did not release an email address".into()))?;
        let user = match store.get_user_by_email(&email).await? {
            // Link to an existing account only on an email the provider verified;
            // otherwise anyone able to set an unverified email could take it over.
            Some(existing) if id.email_verified => existing,
            Some(_) => {
                return Err(CoreError::Oidc(format!(
                    "an account with email {email} exists and the provider did not verify the email"
                )))
            }
            None => {
                let name = id
                    .name
                    .clone()
                    .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
                let name =
                    super::validate::name("name", &name, 200).unwrap_or_else(|_| email.clone());
                self.create_user_with_org(email, name, None, AdminRule::No)
                    .await?
            }
        };
        store
            .link_identity(&id.issuer, &id.subject, &user.id, self.now())
            .await?;
        Ok(user)
    }

    async fn apply_group_mappings(&self, mut user: User, id: &OidcIdentity) -> Result<User> {
        let cfg = self.oidc()?.config();
        let store = self.store_ref();
        if !cfg.admin_groups.is_empty() {
            let admin = id.groups.iter().any(|g| cfg.admin_groups.contains(g));
            if admin != user.is_admin {
                store.set_user_admin(&user.id, admin).await?;
                self.auth_changed();
                user.is_admin = admin;
            }
        }
        for grant in cfg
            .group_roles
            .iter()
            .filter(|g| id.groups.contains(&g.group))
        {
            if store.get_org(&grant.org_id).await?.is_none() {
                tracing::warn!(org = %grant.org_id, group = %grant.group, "group mapping names an unknown org");
                continue;
            }
            let current = store.get_role(&grant.org_id, &user.id).await?;
            // Grants only raise a role; they never demote someone given more by hand.
            if current.is_none_or(|r| grant.role < r) {
                store
                    .put_member(&grant.org_id, &user.id, grant.role, self.now())
                    .await?;
                self.auth_changed();
            }
        }
        Ok(user)
    }
}

fn describe_token_error<E: std::error::Error>(e: &E) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn return_to_is_local_only() {
        assert_eq!(safe_return_to(Some("/chat/1")), "/chat/1");
        assert_eq!(safe_return_to(Some("//evil.test/")), "/");
        assert_eq!(safe_return_to(Some("https://evil.test/")), "/");
        assert_eq!(safe_return_to(Some("/\\evil.test")), "/");
        assert_eq!(safe_return_to(None), "/");
        assert_eq!(safe_return_to(Some("/\t/evil.test")), "/");
        assert_eq!(safe_return_to(Some("/\n/evil.test")), "/");
        assert_eq!(safe_return_to(Some("/ /evil.test")), "/");
    }
}
