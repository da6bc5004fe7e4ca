//! Authorization: the ONE place that decides who may do what.
//!
//! Rules:
//! - A site admin acts as an owner of every org.
//! - Someone outside an org gets `NotFound` for it and everything in it: existence is
//!   not leaked.
//! - Inside an org, members read and create; admins and owners manage members and
//!   every resource; only owners delete the org or grant/revoke ownership.
//! - API keys are visible to their owner only (others get `NotFound`).
//! - Instance administration, runner tokens included, needs a site admin (`Forbidden`
//!   otherwise).

use crate::auth::Principal;
use crate::error::{CoreError, Result};
use crate::id::OrgId;
use crate::model::{ApiKey, App, Role};
use crate::store::Store;

/// Something one may do to an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrgAction {
    /// See the org, its members and its resources.
    Read,
    /// Create resources (apps, sessions) in the org.
    Create,
    /// Rename the org, add/remove members, change roles below owner.
    Manage,
    /// Delete the org, grant or revoke ownership.
    Own,
}

/// Something one may do to an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppAction {
    /// See and chat with it.
    Read,
    /// Change or delete it.
    Write,
}

fn allowed(role: Role, action: OrgAction) -> bool {
    match action {
        OrgAction::Read | OrgAction::Create => true,
        OrgAction::Manage => role.can_manage(),
        OrgAction::Own => role == Role::Owner,
    }
}

/// The caller's effective role in an org, or `NotFound` when they are not in it (or it
/// does not exist).
pub async fn org_role(store: &dyn Store, p: &Principal, org: &OrgId) -> Result<Role> {
    if p.is_admin() {
        return match store.get_org(org).await? {
            Some(_) => Ok(Role::Owner),
            None => Err(CoreError::not_found("org", org)),
        };
    }
    store
        .get_role(org, &p.user.id)
        .await?
        .ok_or_else(|| CoreError::not_found("org", org))
}

/// Checks an org action; returns the caller's effective role.
pub async fn authorize_org(
    store: &dyn Store,
    p: &Principal,
    org: &OrgId,
    action: OrgAction,
) -> Result<Role> {
    let role = org_role(store, p, org).await?;
    if allowed(role, action) {
        Ok(role)
    } else {
        Err(CoreError::Forbidden(format!(
            "role {} in org {org} may not do this",
            role.as_str()
        )))
    }
}

/// Checks an app action: members read; the creator and org admins write.
pub async fn authorize_app(
    store: &dyn Store,
    p: &Principal,
    app: &App,
    action: AppAction,
) -> Result<()> {
    let role = org_role(store, p, &app.org_id)
        .await
        .map_err(|_| CoreError::not_found("app", &app.id))?;
    match action {
        AppAction::Read => Ok(()),
        AppAction::Write if role.can_manage() || app.created_by == p.user.id => Ok(()),
        AppAction::Write => Err(CoreError::Forbidden(format!(
            "only the creator or an org admin may change app {}",
            app.id
        ))),
    }
}

/// API keys belong to their user alone.
pub fn authorize_api_key(p: &Principal, key: &ApiKey) -> Result<()> {
    if key.user_id == p.user.id {
        Ok(())
    } else {
        Err(CoreError::not_found("api key", &key.id))
    }
}

/// Instance administration.
pub fn require_site_admin(p: &Principal) -> Result<()> {
    if p.is_admin() {
        Ok(())
    } else {
        Err(CoreError::Forbidden("site administrators only".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table() {
        use OrgAction::*;
        let table = [
            (Role::Member, [true, true, false, false]),
            (Role::Admin, [true, true, true, false]),
            (Role::Owner, [true, true, true, true]),
        ];
        for (role, expect) in table {
            for (action, want) in [Read, Create, Manage, Own].into_iter().zip(expect) {
                assert_eq!(allowed(role, action), want, "{role:?} {action:?}");
            }
        }
    }
}
