//! Orgs and their members.

use super::validate;
use crate::auth::Principal;
use crate::authz::{self, OrgAction};
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::id::{OrgId, UserId};
use crate::model::{Member, Org, OrgWithRole, Role};
use serde::Deserialize;
use utoipa::ToSchema;

/// Creates an org; the caller becomes its owner.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// Display name.
    pub name: String,
}

/// Renames an org.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    /// New display name.
    pub name: String,
}

/// Adds an existing user to an org by email.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// The user's email.
    pub email: String,
    /// Their role.
    pub role: Role,
}

/// Changes a member's role.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    /// The new role.
    pub role: Role,
}

impl ControlPlane {
    /// The orgs the caller belongs to.
    pub async fn list_orgs(&self, p: &Principal) -> Result<Vec<OrgWithRole>> {
        self.store_ref().list_orgs_for_user(&p.user.id).await
    }

    /// Creates an org owned by the caller.
    pub async fn create_org(&self, p: &Principal, req: CreateOrgRequest) -> Result<OrgWithRole> {
        let org = Org {
            id: OrgId::new(),
            name: validate::name("name", &req.name, 200)?,
            created_at: self.now(),
        };
        self.store_ref().create_org(&org, &p.user.id).await?;
        self.auth_changed();
        Ok(OrgWithRole {
            org,
            role: Role::Owner,
        })
    }

    /// One org, if the caller may see it.
    pub async fn get_org(&self, p: &Principal, id: &OrgId) -> Result<OrgWithRole> {
        let role = authz::authorize_org(self.store_ref(), p, id, OrgAction::Read).await?;
        let org = self
            .store_ref()
            .get_org(id)
            .await?
            .ok_or_else(|| CoreError::not_found("org", id))?;
        Ok(OrgWithRole { org, role })
    }

    /// Renames an org (admins and owners).
    pub async fn update_org(
        &self,
        p: &Principal,
        id: &OrgId,
        req: UpdateOrgRequest,
    ) -> Result<OrgWithRole> {
        let role = authz::authorize_org(self.store_ref(), p, id, OrgAction::Manage).await?;
        let mut org = self
            .store_ref()
            .get_org(id)
            .await?
            .ok_or_else(|| CoreError::not_found("org", id))?;
        org.name = validate::name("name", &req.name, 200)?;
        self.store_ref().update_org(&org).await?;
        Ok(OrgWithRole { org, role })
    }

    /// Deletes an org and everything in it (owners).
    pub async fn delete_org(&self, p: &Principal, id: &OrgId) -> Result<()> {
        authz::authorize_org(self.store_ref(), p, id, OrgAction::Own).await?;
        self.store_ref().delete_org(id).await?;
        self.auth_changed();
        self.providers_changed();
        Ok(())
    }

    /// The members of an org.
    pub async fn list_members(&self, p: &Principal, id: &OrgId) -> Result<Vec<Member>> {
        authz::authorize_org(self.store_ref(), p, id, OrgAction::Read).await?;
        self.store_ref().list_members(id).await
    }

    /// Adds a user to an org (admins; only owners may add owners).
    pub async fn add_member(
        &self,
        p: &Principal,
        org: &OrgId,
        req: AddMemberRequest,
    ) -> Result<Member> {
        let action = if req.role == Role::Owner {
            OrgAction::Own
        } else {
            OrgAction::Manage
        };
        authz::authorize_org(self.store_ref(), p, org, action).await?;
        let email = validate::email(&req.email)?;
        let user = self
            .store_ref()
            .get_user_by_email(&email)
            .await?
            .ok_or_else(|| CoreError::not_found("user with email", &email))?;
        if self.store_ref().get_role(org, &user.id).await?.is_some() {
            return Err(CoreError::Conflict(format!(
                "user {} is already a member of org {org}",
                user.id
            )));
        }
        self.store_ref()
            .put_member(org, &user.id, req.role, self.now())
            .await?;
        self.auth_changed();
        self.member(org, &user.id).await
    }

    /// Changes a member's role. Admins manage members and admins; only owners grant
    /// or take away ownership; the last owner cannot be demoted.
    pub async fn update_member(
        &self,
        p: &Principal,
        org: &OrgId,
        user: &UserId,
        req: UpdateMemberRequest,
    ) -> Result<Member> {
        authz::authorize_org(self.store_ref(), p, org, OrgAction::Manage).await?;
        let current = self.member(org, user).await?;
        if current.role == Role::Owner || req.role == Role::Owner {
            authz::authorize_org(self.store_ref(), p, org, OrgAction::Own).await?;
        }
        if current.role == Role::Owner && req.role != Role::Owner {
            self.ensure_other_owner(org).await?;
        }
        self.store_ref()
            .put_member(org, user, req.role, current.created_at)
            .await?;
        self.auth_changed();
        self.member(org, user).await
    }

    /// Removes a member (admins; owners for owners; members may remove themselves).
    pub async fn remove_member(&self, p: &Principal, org: &OrgId, user: &UserId) -> Result<()> {
        let leaving = user == &p.user.id;
        let action = if leaving {
            OrgAction::Read
        } else {
            OrgAction::Manage
        };
        authz::authorize_org(self.store_ref(), p, org, action).await?;
        let current = self.member(org, user).await?;
        if current.role == Role::Owner {
            if !leaving {
                authz::authorize_org(self.store_ref(), p, org, OrgAction::Own).await?;
            }
            self.ensure_other_owner(org).await?;
        }
        self.store_ref().remove_member(org, user).await?;
        self.auth_changed();
        Ok(())
    }

    async fn member(&self, org: &OrgId, user: &UserId) -> Result<Member> {
        self.store_ref()
            .list_members(org)
            .await?
            .into_iter()
            .find(|m| &m.user_id == user)
            .ok_or_else(|| CoreError::not_found("member", user))
    }

    async fn ensure_other_owner(&self, org: &OrgId) -> Result<()> {
        if self.store_ref().count_owners(org).await? <= 1 {
            return Err(CoreError::Conflict(format!(
                "org {org} must keep at least one owner"
            )));
        }
        Ok(())
    }
}
