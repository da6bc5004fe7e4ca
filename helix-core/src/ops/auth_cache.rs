//! API keys (with their users) and users' org memberships, as last read. The gateway
//! authenticates every model call, and reading both from the database was most of
//! what Helix added to one (see docs/benchmarks.md).
//!
//! An entry lives at most the cache's time to live (5 s by default). Any change to
//! users, API keys or memberships drops every entry at once: in this process before
//! the change returns, in other replicas when [`ControlEvent::AuthChanged`] reaches them
//! (immediately over PostgreSQL's LISTEN/NOTIFY; the time to live bounds a missed
//! notification). A read that started before a change is never cached after it: each
//! drop starts a new generation and a read only fills the generation it began in.
//!
//! [`ControlEvent::AuthChanged`]: crate::events::ControlEvent::AuthChanged

use crate::control_plane::ControlPlane;
use crate::error::Result;
use crate::id::{OrgId, UserId};
use crate::model::{ApiKey, User};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default time to live of cached principals.
pub const DEFAULT_AUTH_CACHE_TTL: Duration = Duration::from_secs(5);
/// Entries per map before the map is emptied (a bound, not a working size).
const MAX_ENTRIES: usize = 50_000;

/// The cache; `ttl` zero turns it off.
#[derive(Debug)]
pub(crate) struct AuthCache {
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    generation: u64,
    /// By key hash.
    keys: HashMap<String, (Instant, ApiKey, User)>,
    orgs: HashMap<UserId, (Instant, Arc<[OrgId]>)>,
}

impl AuthCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        AuthCache {
            ttl,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation a read starts in.
    pub(crate) fn generation(&self) -> u64 {
        self.state().generation
    }

    pub(crate) fn key(&self, hash: &str) -> Option<(ApiKey, User)> {
        let st = self.state();
        st.keys
            .get(hash)
            .filter(|(at, ..)| at.elapsed() < self.ttl)
            .map(|(_, k, u)| (k.clone(), u.clone()))
    }

    pub(crate) fn put_key(&self, generation: u64, hash: &str, key: ApiKey, user: User) {
        if self.ttl.is_zero() {
            return;
        }
        let mut st = self.state();
        if st.generation != generation {
            return;
        }
        if st.keys.len() >= MAX_ENTRIES {
            st.keys.clear();
        }
        st.keys.insert(hash.to_owned(), (Instant::now(), key, user));
    }

    /// Records that the key's last use was written to the store.
    pub(crate) fn touched(&self, hash: &str, at: DateTime<Utc>) {
        if let Some((_, key, _)) = self.state().keys.get_mut(hash) {
            key.last_used_at = Some(at);
        }
    }

    pub(crate) fn orgs(&self, user: &UserId) -> Option<Arc<[OrgId]>> {
        self.state()
            .orgs
            .get(user)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, o)| o.clone())
    }

    pub(crate) fn put_orgs(&self, generation: u64, user: &UserId, orgs: Arc<[OrgId]>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut st = self.state();
        if st.generation != generation {
            return;
        }
        if st.orgs.len() >= MAX_ENTRIES {
            st.orgs.clear();
        }
        st.orgs.insert(user.clone(), (Instant::now(), orgs));
    }

    /// Drops everything and starts a new generation.
    pub(crate) fn clear(&self) {
        let mut st = self.state();
        st.generation += 1;
        st.keys.clear();
        st.orgs.clear();
    }
}

impl ControlPlane {
    /// The orgs a user is a member of (any role).
    pub(crate) async fn member_org_ids(&self, user: &UserId) -> Result<Arc<[OrgId]>> {
        let cache = &self.inner.auth_cache;
        if let Some(orgs) = cache.orgs(user) {
            return Ok(orgs);
        }
        let generation = cache.generation();
        let orgs: Arc<[OrgId]> = self
            .store_ref()
            .list_orgs_for_user(user)
            .await?
            .into_iter()
            .map(|o| o.org.id)
            .collect();
        cache.put_orgs(generation, user, orgs.clone());
        Ok(orgs)
    }

    /// Users, API keys or memberships changed: drops cached principals here and tells
    /// the other replicas to do the same.
    pub(crate) fn auth_changed(&self) {
        self.inner.auth_cache.clear();
        self.publish_control(crate::events::ControlEvent::AuthChanged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ApiKeyId;

    fn key_and_user() -> (ApiKey, User) {
        let user = User {
            id: UserId::new(),
            email: "a@example.com".into(),
            name: "a".into(),
            is_admin: false,
            created_at: Utc::now(),
        };
        let key = ApiKey {
            id: ApiKeyId::new(),
            user_id: user.id.clone(),
            name: "k".into(),
            prefix: "hx_".into(),
            created_at: Utc::now(),
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
            requests_per_minute: None,
            tokens_per_minute: None,
        };
        (key, user)
    }

    #[test]
    fn a_read_from_before_a_change_is_not_cached_after_it() {
        let cache = AuthCache::new(Duration::from_secs(60));
        let (key, user) = key_and_user();
        let before = cache.generation();
        cache.clear(); // the key was revoked while the read was in flight
        cache.put_key(before, "h", key.clone(), user.clone());
        assert!(cache.key("h").is_none());
        cache.put_key(cache.generation(), "h", key, user);
        assert!(cache.key("h").is_some());
        cache.clear();
        assert!(cache.key("h").is_none());
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_caches_nothing() {
        let (key, user) = key_and_user();
        let off = AuthCache::new(Duration::ZERO);
        off.put_key(off.generation(), "h", key.clone(), user.clone());
        off.put_orgs(off.generation(), &user.id, Arc::from(vec![]));
        assert!(off.key("h").is_none() && off.orgs(&user.id).is_none());

        let short = AuthCache::new(Duration::from_millis(20));
        short.put_key(short.generation(), "h", key, user);
        assert!(short.key("h").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(short.key("h").is_none());
    }

    #[test]
    fn a_touch_updates_the_cached_last_use() {
        let cache = AuthCache::new(Duration::from_secs(60));
        let (key, user) = key_and_user();
        cache.put_key(cache.generation(), "h", key, user);
        let at = Utc::now();
        cache.touched("h", at);
        assert_eq!(cache.key("h").unwrap().0.last_used_at, Some(at));
    }
}

#[cfg(test)]
#[path = "auth_cache_tests.rs"]
mod cp_tests;
