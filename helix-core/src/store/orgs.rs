//! [`OrgStore`] for [`SqlStore`].

use super::rows::{self, ms};
use super::sql::{map_rows, map_write_err};
use super::{OrgStore, SqlStore};
use crate::error::Result;
use crate::id::*;
use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl OrgStore for SqlStore {
    async fn create_org(&self, org: &Org, owner: &UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org.id.as_str())
            .bind(&org.name)
            .bind(ms(org.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| map_write_err(e, "org", org.id.as_str()))?;
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(org.id.as_str())
        .bind(owner.as_str())
        .bind(Role::Owner.as_str())
        .bind(ms(org.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| map_write_err(e, "user", owner.as_str()))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_org(&self, id: &OrgId) -> Result<Option<Org>> {
        let row = sqlx::query("SELECT id, name, created_at FROM orgs WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::org).transpose()
    }

    async fn update_org(&self, org: &Org) -> Result<bool> {
        let done = sqlx::query("UPDATE orgs SET name = $1 WHERE id = $2")
            .bind(&org.name)
            .bind(org.id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_org(&self, id: &OrgId) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Org-scoped endpoints (and their sealed keys) go with the org.
        sqlx::query("DELETE FROM provider_endpoints WHERE scope = 'org' AND scope_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM orgs WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_orgs_for_user(&self, user: &UserId) -> Result<Vec<OrgWithRole>> {
        let found = sqlx::query(
            "SELECT o.id, o.name, o.created_at, m.role FROM orgs o \
             JOIN memberships m ON m.org_id = o.id WHERE m.user_id = $1 ORDER BY o.id",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        map_rows(found, |r| {
            Ok(OrgWithRole {
                org: rows::org(r)?,
                role: rows::role(r, "role")?,
            })
        })
    }

    async fn list_all_orgs(&self) -> Result<Vec<Org>> {
        let found = sqlx::query("SELECT id, name, created_at FROM orgs ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        map_rows(found, rows::org)
    }

    async fn get_role(&self, org: &OrgId, user: &UserId) -> Result<Option<Role>> {
        let row = sqlx::query("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| rows::role(&r, "role")).transpose()
    }

    async fn list_members(&self, org: &OrgId) -> Result<Vec<Member>> {
        let found = sqlx::query(
            "SELECT m.org_id, m.user_id, u.email, u.name, m.role, m.created_at \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 ORDER BY m.created_at, m.user_id",
        )
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await?;
        map_rows(found, |r| {
            Ok(Member {
                org_id: rows::id(r, "org_id")?,
                user_id: rows::id(r, "user_id")?,
                email: rows::text(r, "email")?,
                name: rows::text(r, "name")?,
                role: rows::role(r, "role")?,
                created_at: rows::time(r, "created_at")?,
            })
        })
    }

    async fn put_member(
        &self,
        org: &OrgId,
        user: &UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let was_owner = lock_owners(&mut tx, org, user).await?;
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(org.as_str())
        .bind(user.as_str())
        .bind(role.as_str())
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| map_write_err(e, "org or user", &format!("{org}/{user}")))?;
        if was_owner && role != Role::Owner {
            still_owned(&mut tx, org).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_member(&self, org: &OrgId, user: &UserId) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let was_owner = lock_owners(&mut tx, org, user).await?;
        let done = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        if was_owner {
            still_owned(&mut tx, org).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_owners(&self, org: &OrgId) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM memberships WHERE org_id = $1 AND role = 'owner'",
        )
        .bind(org.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(sqlx::Row::try_get::<i64, _>(&row, "n")?)
    }

    async fn create_app(&self, app: &App) -> Result<()> {
        let sql = format!(
            "INSERT INTO apps ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            rows::APP_COLS
        );
        sqlx::query(&sql)
            .bind(app.id.as_str())
            .bind(app.org_id.as_str())
            .bind(app.created_by.as_str())
            .bind(&app.name)
            .bind(&app.description)
            .bind(&app.system_prompt)
            .bind(&app.model)
            .bind(app.settings.to_string())
            .bind(ms(app.created_at))
            .bind(ms(app.updated_at))
            .execute(&self.pool)
            .await
            .map_err(|e| map_write_err(e, "org", app.org_id.as_str()))?;
        Ok(())
    }

    async fn get_app(&self, id: &AppId) -> Result<Option<App>> {
        let sql = format!("SELECT {} FROM apps WHERE id = $1", rows::APP_COLS);
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::app).transpose()
    }

    async fn list_apps(&self, org: &OrgId) -> Result<Vec<App>> {
        let sql = format!(
            "SELECT {} FROM apps WHERE org_id = $1 ORDER BY id DESC",
            rows::APP_COLS
        );
        map_rows(
            sqlx::query(&sql)
                .bind(org.as_str())
                .fetch_all(&self.pool)
                .await?,
            rows::app,
        )
    }

    async fn update_app(&self, app: &App) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE apps SET name = $1, description = $2, system_prompt = $3, model = $4, \
             settings = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&app.name)
        .bind(&app.description)
        .bind(&app.system_prompt)
        .bind(&app.model)
        .bind(app.settings.to_string())
        .bind(ms(app.updated_at))
        .bind(app.id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_app(&self, id: &AppId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM apps WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Starts a change of `user`'s membership: serialises it with every other change
/// of the org's members and says whether `user` is an owner now. A no-op write to
/// the org's row comes first: PostgreSQL locks that row until the transaction ends,
/// and SQLite takes its one write lock before anything is read, so two changes
/// cannot both count the other's owner as still there.
async fn lock_owners(tx: &mut Tx, org: &OrgId, user: &UserId) -> Result<bool> {
    sqlx::query("UPDATE orgs SET name = name WHERE id = $1")
        .bind(org.as_str())
        .execute(&mut **tx)
        .await?;
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.as_str())
            .bind(user.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(role.as_deref() == Some("owner"))
}

/// Refuses (the transaction is then dropped, so rolled back) a change that left the
/// org without an owner: checked in the same transaction as the change, so two owners
/// demoting each other at once cannot both succeed.
async fn still_owned(tx: &mut Tx, org: &OrgId) -> Result<()> {
    let owners: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
            .bind(org.as_str())
            .fetch_one(&mut **tx)
            .await?;
    if owners == 0 {
        return Err(crate::error::CoreError::Conflict(format!(
            "org {org} must keep at least one owner"
        )));
    }
    Ok(())
}
