//! User operations of the [`ControlPlane`](crate::ControlPlane), one file per area.
//! Each operation authenticates nothing itself: it takes a [`Principal`]
//! (crate::auth::Principal) and asks [`authz`](crate::authz) before acting.

pub mod accounts;
pub mod api_keys;
pub mod apps;
pub mod auth_cache;
pub(crate) mod bus_control;
pub(crate) mod cache_slot;
pub mod chat;
pub mod gateway;
pub mod live;
pub mod orgs;
pub mod provider_cache;
pub mod providers;
pub mod runner_tokens;
pub mod sso;
#[cfg(test)]
mod test_users;
pub mod upstream_policy;
pub mod usage;
mod validate;
