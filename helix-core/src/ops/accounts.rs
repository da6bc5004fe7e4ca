//! Accounts: registration, login, logout, authentication, instance settings.

use super::validate;
use crate::auth::{password, token, AuthMethod, Credentials, Principal};
use crate::authz;
use crate::control_plane::{ControlPlane, SETTING_REGISTRATION};
use crate::error::{CoreError, Result};
use crate::id::{OrgId, UserId};
use crate::limits::Limits;
use crate::model::{Org, User};
use crate::store::{AdminRule, LoginSessionRecord, NewUser};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const SETTING_USER_RPM: &str = "limit_user_requests_per_minute";
const SETTING_USER_TPM: &str = "limit_user_tokens_per_minute";
const SETTING_USER_MONTHLY: &str = "quota_user_monthly_tokens";

/// An API key's or runner token's last-used time is written at most this often.
pub(crate) const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// Self-registration with email and password.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address; becomes the login.
    pub email: String,
    /// Password, 8 characters or more.
    pub password: String,
    /// Display name (defaults to the part of the email before `@`).
    #[serde(default)]
    pub name: Option<String>,
}

/// Login with email and password.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A new login session. The host puts `session_token` in an HttpOnly cookie and
/// hands `csrf_token` to the client.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The signed-in user.
    pub user: User,
    /// The session secret (cookie value); never stored in clear.
    pub session_token: String,
    /// The CSRF token to echo in `x-csrf-token`.
    pub csrf_token: String,
    /// When the session expires.
    pub expires_at: DateTime<Utc>,
}

/// Instance settings a site admin can change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceSettings {
    /// Whether anyone may register an account.
    pub registration_enabled: bool,
    /// Requests per minute per user for model calls (none: unlimited).
    pub user_requests_per_minute: Option<u64>,
    /// Tokens per minute per user (none: unlimited).
    pub user_tokens_per_minute: Option<u64>,
    /// Tokens per user per calendar month, UTC (none: unlimited).
    pub user_monthly_tokens: Option<u64>,
}

/// A partial update of [`InstanceSettings`].
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettingsRequest {
    /// Whether anyone may register an account.
    #[serde(default)]
    pub registration_enabled: Option<bool>,
    /// Requests per minute per user; 0 removes the limit.
    #[serde(default)]
    pub user_requests_per_minute: Option<u64>,
    /// Tokens per minute per user; 0 removes the limit.
    #[serde(default)]
    pub user_tokens_per_minute: Option<u64>,
    /// Tokens per user per month; 0 removes the quota.
    #[serde(default)]
    pub user_monthly_tokens: Option<u64>,
}

/// Password login attempts a minute from one client address.
pub const LOGIN_ATTEMPTS_PER_IP: u64 = 30;
/// Failed password logins a minute for one email.
pub const LOGIN_FAILURES_PER_EMAIL: u64 = 10;
/// Registration attempts a minute from one client address. A registration for an
/// email that has an account must be refused, which tells the caller the account
/// exists; this keeps anyone from testing a list of addresses quickly.
pub const REGISTRATIONS_PER_IP: u64 = 10;

/// Longest email a sign-in is checked for (RFC 5321's limit); longer is just wrong.
const MAX_EMAIL_BYTES: usize = 320;

/// The login limiter's buckets: attempts per email (taken up front, given back when
/// the password was right) and attempts per client address. IPv6 clients count per
/// /64, the block one subscriber gets, so rotating addresses inside it gains nothing.
fn login_checks(email: &str, client: Option<std::net::IpAddr>) -> [Vec<(String, Limits)>; 2] {
    let per_minute = |n| Limits {
        requests_per_minute: Some(n),
        tokens_per_minute: None,
    };
    let by_email = vec![(
        format!("login-email:{email}"),
        per_minute(LOGIN_FAILURES_PER_EMAIL),
    )];
    let by_addr = client
        .map(|ip| {
            (
                client_key("login-ip", ip),
                per_minute(LOGIN_ATTEMPTS_PER_IP),
            )
        })
        .into_iter()
        .collect();
    [by_email, by_addr]
}

/// A limiter key for a client address: IPv6 per /64.
fn client_key(what: &str, ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{what}:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        v4 => format!("{what}:{v4}"),
    }
}

impl ControlPlane {
    /// Registers an account. The first account on an instance becomes site admin and
    /// can always register; later ones need registration to be enabled. Each account
    /// gets a personal org it owns.
    #[tracing::instrument(skip_all, fields(email = %req.email))]
    pub async fn register(&self, req: RegisterRequest) -> Result<User> {
        self.register_from(req, None).await
    }

    /// [`register`](Self::register) from `client` (the caller's address, when known):
    /// at most [`REGISTRATIONS_PER_IP`] attempts a minute from one address.
    pub async fn register_from(
        &self,
        req: RegisterRequest,
        client: Option<std::net::IpAddr>,
    ) -> Result<User> {
        if let Some(ip) = client {
            let check = [(
                client_key("register-ip", ip),
                Limits {
                    requests_per_minute: Some(REGISTRATIONS_PER_IP),
                    tokens_per_minute: None,
                },
            )];
            self.inner
                .login_limiter
                .acquire(&check, self.now())
                .map_err(|retry_after_secs| CoreError::RateLimited {
                    what: "too many registration attempts".into(),
                    retry_after_secs,
                })?;
        }
        let email = validate::email(&req.email)?;
        password::validate(&req.password)?;
        let default_name = email.split('@').next().unwrap_or_default().to_owned();
        let name = validate::name("name", req.name.as_deref().unwrap_or(&default_name), 200)?;
        if !self.registration_open().await? {
            return Err(CoreError::RegistrationDisabled);
        }
        let pw = req.password;
        let _permit = password::permits()
            .acquire()
            .await
            .map_err(CoreError::internal)?;
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(CoreError::internal)??;
        let user = self
            .create_user_with_org(email, name, Some(hash), AdminRule::IfFirst)
            .await?;
        tracing::info!(user = %user.id, admin = user.is_admin, "user registered");
        Ok(user)
    }

    pub(crate) async fn create_user_with_org(
        &self,
        email: String,
        name: String,
        password_hash: Option<String>,
        admin: AdminRule,
    ) -> Result<User> {
        let now = self.now();
        let user = self
            .store_ref()
            .create_user(&NewUser {
                id: UserId::new(),
                email,
                name,
                password_hash,
                admin,
                created_at: now,
            })
            .await?;
        let org = Org {
            id: OrgId::new(),
            name: format!("{}'s org", user.name),
            created_at: now,
        };
        self.store_ref().create_org(&org, &user.id).await?;
        Ok(user)
    }

    /// Logs in with email and password and opens a login session.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, req: LoginRequest) -> Result<LoginOutcome> {
        self.login_from(req, None).await
    }

    /// Checks a password login from `client` (the caller's address, when known).
    /// Throttled: [`LOGIN_ATTEMPTS_PER_IP`] attempts a minute from one address, and
    /// [`LOGIN_FAILURES_PER_EMAIL`] failed ones a minute for one email (a success gives
    /// its attempt back). Guessing a password is slow; someone hammering an account
    /// slows its password logins down while they do.
    pub async fn login_from(
        &self,
        req: LoginRequest,
        client: Option<std::net::IpAddr>,
    ) -> Result<LoginOutcome> {
        let email = req.email.trim().to_lowercase();
        if email.len() > MAX_EMAIL_BYTES {
            return Err(CoreError::InvalidCredentials);
        }
        let [by_email, by_addr] = login_checks(&email, client);
        let all: Vec<_> = by_email.iter().chain(&by_addr).cloned().collect();
        let now = self.now();
        // Taken before the password is checked, so concurrent guesses count too.
        self.inner
            .login_limiter
            .acquire(&all, now)
            .map_err(|retry_after_secs| CoreError::RateLimited {
                what: "too many sign-in attempts".into(),
                retry_after_secs,
            })?;
        let out = self.check_password(email, req.password).await;
        if !matches!(out, Err(CoreError::InvalidCredentials)) {
            // Only wrong passwords count against the account.
            self.inner.login_limiter.refund(&by_email, self.now());
        }
        out
    }

    async fn check_password(&self, email: String, secret: String) -> Result<LoginOutcome> {
        let store = self.store_ref();
        let user = store.get_user_by_email(&email).await?;
        let hash = match &user {
            Some(u) => store.get_password_hash(&u.id).await?,
            None => None,
        };
        // Verify against a dummy hash when there is no account or no password, so the
        // answer takes the same time either way.
        let known = hash.is_some();
        let phc = hash.unwrap_or_else(|| password::dummy_hash().to_owned());
        let pw = secret;
        let _permit = password::permits()
            .acquire()
            .await
            .map_err(CoreError::internal)?;
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &phc))
            .await
            .map_err(CoreError::internal)?;
        match user {
            Some(user) if ok && known => self.open_session(user).await,
            _ => Err(CoreError::InvalidCredentials),
        }
    }

    pub(crate) async fn open_session(&self, user: User) -> Result<LoginOutcome> {
        let now = self.now();
        let session_token = token::random_token();
        let csrf_token = token::random_token();
        let expires_at = now + self.inner.session_ttl;
        self.store_ref()
            .create_login_session(&LoginSessionRecord {
                token_hash: token::hash_token(&session_token),
                user_id: user.id.clone(),
                csrf_token: csrf_token.clone(),
                created_at: now,
                expires_at,
            })
            .await?;
        Ok(LoginOutcome {
            user,
            session_token,
            csrf_token,
            expires_at,
        })
    }

    /// Ends the caller's login session (a no-op for API-key callers).
    pub async fn logout(&self, p: &Principal) -> Result<()> {
        if let AuthMethod::Session { token_hash } = &p.method {
            self.store_ref().delete_login_session(token_hash).await?;
        }
        Ok(())
    }

    /// Authenticates a request. An API key wins over a cookie; a cookie-authenticated
    /// state-changing request must echo the session's CSRF token.
    pub async fn authenticate(&self, creds: &Credentials) -> Result<Principal> {
        if let Some(key) = &creds.api_key {
            return self.authenticate_api_key(key).await;
        }
        let Some(tok) = &creds.session_token else {
            return Err(CoreError::Unauthenticated);
        };
        let store = self.store_ref();
        let hash = token::hash_token(tok);
        let (session, user) = store
            .get_login_session(&hash)
            .await?
            .ok_or(CoreError::InvalidCredentials)?;
        if session.expires_at <= self.now() {
            store.delete_login_session(&hash).await?;
            return Err(CoreError::SessionExpired);
        }
        if creds.state_changing {
            let sent = creds.csrf_token.as_deref().unwrap_or_default();
            if !token::constant_time_eq(sent, &session.csrf_token) {
                return Err(CoreError::CsrfFailed);
            }
        }
        Ok(Principal {
            user,
            method: AuthMethod::Session { token_hash: hash },
        })
    }

    async fn authenticate_api_key(&self, key: &str) -> Result<Principal> {
        if !key.starts_with(token::API_KEY_PREFIX) || key.len() > 256 {
            return Err(CoreError::InvalidCredentials);
        }
        let store = self.store_ref();
        let cache = &self.inner.auth_cache;
        let hash = token::hash_token(key);
        let (api_key, user) = match cache.key(&hash) {
            Some(hit) => hit,
            None => {
                let generation = cache.generation();
                let (api_key, user) = store
                    .find_api_key_by_hash(&hash)
                    .await?
                    .ok_or(CoreError::InvalidCredentials)?;
                cache.put_key(generation, &hash, api_key.clone(), user.clone());
                (api_key, user)
            }
        };
        let now = self.now();
        if api_key.revoked_at.is_some() || api_key.expires_at.is_some_and(|t| t <= now) {
            return Err(CoreError::InvalidCredentials);
        }
        if api_key
            .last_used_at
            .is_none_or(|t| now - t >= TOUCH_INTERVAL)
        {
            store.touch_api_key(&api_key.id, now).await?;
            cache.touched(&hash, now);
        }
        Ok(Principal {
            user,
            method: AuthMethod::ApiKey {
                limits: crate::limits::Limits {
                    requests_per_minute: api_key.requests_per_minute.map(|n| n as u64),
                    tokens_per_minute: api_key.tokens_per_minute.map(|n| n as u64),
                },
                key_id: api_key.id,
            },
        })
    }

    /// Whether a new account may register now: registration is enabled, or the
    /// instance has no user yet (first-run setup).
    pub async fn registration_open(&self) -> Result<bool> {
        Ok(!self.store_ref().has_users().await? || self.registration_enabled().await?)
    }

    /// Deletes expired login sessions; returns how many. Hosts call it periodically.
    pub async fn cleanup_expired_sessions(&self) -> Result<u64> {
        let now = self.now();
        // SSO logins that were started and never finished.
        self.store_ref()
            .delete_oidc_flows_before(now - chrono::Duration::hours(1))
            .await?;
        self.store_ref().delete_expired_login_sessions(now).await
    }

    /// Whether self-registration is enabled by setting (or default).
    pub async fn registration_enabled(&self) -> Result<bool> {
        Ok(
            match self.store_ref().get_setting(SETTING_REGISTRATION).await? {
                Some(v) => v == "true",
                None => self.inner.registration_default,
            },
        )
    }

    /// Lists every user (site admins).
    pub async fn list_users(&self, p: &Principal) -> Result<Vec<User>> {
        authz::require_site_admin(p)?;
        self.store_ref().list_users().await
    }

    /// Grants or revokes site admin (site admins; not on oneself, so an instance
    /// always keeps the admin who did it).
    pub async fn set_user_admin(
        &self,
        p: &Principal,
        user: &UserId,
        is_admin: bool,
    ) -> Result<User> {
        authz::require_site_admin(p)?;
        if user == &p.user.id && !is_admin {
            return Err(CoreError::Conflict(
                "an admin cannot remove their own admin role".into(),
            ));
        }
        let store = self.store_ref();
        if !store.set_user_admin(user, is_admin).await? {
            return Err(CoreError::not_found("user", user));
        }
        self.auth_changed();
        store
            .get_user(user)
            .await?
            .ok_or_else(|| CoreError::not_found("user", user))
    }

    /// Reads instance settings (site admins).
    pub async fn settings(&self, p: &Principal) -> Result<InstanceSettings> {
        authz::require_site_admin(p)?;
        self.instance_settings().await
    }

    pub(crate) async fn instance_settings(&self) -> Result<InstanceSettings> {
        Ok(InstanceSettings {
            registration_enabled: self.registration_enabled().await?,
            user_requests_per_minute: self.limit_setting(SETTING_USER_RPM).await?,
            user_tokens_per_minute: self.limit_setting(SETTING_USER_TPM).await?,
            user_monthly_tokens: self.limit_setting(SETTING_USER_MONTHLY).await?,
        })
    }

    async fn limit_setting(&self, key: &str) -> Result<Option<u64>> {
        Ok(self
            .store_ref()
            .get_setting(key)
            .await?
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0))
    }

    /// Changes instance settings (site admins).
    pub async fn update_settings(
        &self,
        p: &Principal,
        req: UpdateSettingsRequest,
    ) -> Result<InstanceSettings> {
        authz::require_site_admin(p)?;
        if let Some(on) = req.registration_enabled {
            self.store_ref()
                .put_setting(SETTING_REGISTRATION, if on { "true" } else { "false" })
                .await?;
        }
        for (key, value) in [
            (SETTING_USER_RPM, req.user_requests_per_minute),
            (SETTING_USER_TPM, req.user_tokens_per_minute),
            (SETTING_USER_MONTHLY, req.user_monthly_tokens),
        ] {
            if let Some(v) = value {
                self.store_ref().put_setting(key, &v.to_string()).await?;
            }
        }
        self.limits_changed();
        self.settings(p).await
    }
}
