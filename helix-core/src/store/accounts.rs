//! [`AccountStore`] for [`SqlStore`].

use super::rows::{self, ms, opt_ms};
use super::sql::{map_rows, map_write_err};
use super::{AccountStore, AdminRule, LoginSessionRecord, NewUser, OidcFlowRecord, SqlStore};
use crate::error::Result;
use crate::id::*;
use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(&self, user: &NewUser) -> Result<User> {
        // The admin flag of the first user is decided in the same statement as the
        // insert, so two racing first registrations cannot both skip it.
        let admin_expr = match user.admin {
            AdminRule::IfFirst => "CASE WHEN EXISTS (SELECT 1 FROM users) THEN 0 ELSE 1 END",
            AdminRule::Yes => "1",
            AdminRule::No => "0",
        };
        let sql = format!(
            "INSERT INTO users (id, email, name, password_hash, is_admin, created_at) \
             SELECT $1, $2, $3, $4, {admin_expr}, $5 RETURNING {}",
            rows::USER_COLS
        );
        let mut tx = self.pool.begin().await?;
        if user.admin == AdminRule::IfFirst
            && super::Store::backend(self) == super::Backend::Postgres
        {
            // Under READ COMMITTED two concurrent first registrations would both see an
            // empty table; SQLite serializes writers already.
            sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query(&sql)
            .bind(user.id.as_str())
            .bind(&user.email)
            .bind(&user.name)
            .bind(user.password_hash.as_deref())
            .bind(ms(user.created_at))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_write_err(e, "user with email", &user.email))?;
        tx.commit().await?;
        rows::user(&row)
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE id = $1", rows::USER_COLS);
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn get_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE email = $1", rows::USER_COLS);
        let row = sqlx::query(&sql)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn get_password_hash(&self, id: &UserId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => rows::opt_text(&row, "password_hash"),
            None => Ok(None),
        }
    }

    async fn has_users(&self) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM (SELECT 1 FROM users LIMIT 1) t")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {} FROM users ORDER BY id", rows::USER_COLS);
        map_rows(sqlx::query(&sql).fetch_all(&self.pool).await?, rows::user)
    }

    async fn set_user_admin(&self, id: &UserId, is_admin: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
            .bind(i64::from(is_admin))
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (issuer, subject) DO NOTHING",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user.as_str())
        .bind(ms(now))
        .execute(&self.pool)
        .await
        .map_err(|e| map_write_err(e, "user", user.as_str()))?;
        Ok(())
    }

    async fn find_identity(&self, issuer: &str, subject: &str) -> Result<Option<UserId>> {
        let row = sqlx::query("SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| rows::id(&r, "user_id")).transpose()
    }

    async fn create_login_session(&self, s: &LoginSessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_sessions (token_hash, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id.as_str())
        .bind(&s.csrf_token)
        .bind(ms(s.created_at))
        .bind(ms(s.expires_at))
        .execute(&self.pool)
        .await
        .map_err(|e| map_write_err(e, "user", s.user_id.as_str()))?;
        Ok(())
    }

    async fn get_login_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<(LoginSessionRecord, User)>> {
        let sql = format!(
            "SELECT s.token_hash, s.user_id, s.csrf_token, s.created_at, s.expires_at, {} \
             FROM login_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
            rows::JOINED_USER_COLS
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let session = LoginSessionRecord {
                token_hash: rows::text(&r, "token_hash")?,
                user_id: rows::id(&r, "user_id")?,
                csrf_token: rows::text(&r, "csrf_token")?,
                created_at: rows::time(&r, "created_at")?,
                expires_at: rows::time(&r, "expires_at")?,
            };
            Ok((session, rows::user_at(&r, "u_")?))
        })
        .transpose()
    }

    async fn delete_login_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_expired_login_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM login_sessions WHERE expires_at <= $1")
            .bind(ms(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn put_oidc_flow(&self, f: &OidcFlowRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO oidc_flows (state, nonce, pkce_verifier, return_to, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&f.state)
        .bind(&f.nonce)
        .bind(&f.pkce_verifier)
        .bind(&f.return_to)
        .bind(ms(f.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| map_write_err(e, "oidc flow", "state"))?;
        Ok(())
    }

    async fn delete_oidc_flows_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM oidc_flows WHERE created_at < $1")
            .bind(ms(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn take_oidc_flow(&self, state: &str) -> Result<Option<OidcFlowRecord>> {
        let row = sqlx::query(
            "DELETE FROM oidc_flows WHERE state = $1 \
             RETURNING state, nonce, pkce_verifier, return_to, created_at",
        )
        .bind(state)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(OidcFlowRecord {
                state: rows::text(&r, "state")?,
                nonce: rows::text(&r, "nonce")?,
                pkce_verifier: rows::text(&r, "pkce_verifier")?,
                return_to: rows::text(&r, "return_to")?,
                created_at: rows::time(&r, "created_at")?,
            })
        })
        .transpose()
    }

    async fn create_api_key(&self, key: &ApiKey, key_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, expires_at, \
             requests_per_minute, tokens_per_minute) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(key.id.as_str())
        .bind(key.user_id.as_str())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(key_hash)
        .bind(ms(key.created_at))
        .bind(opt_ms(key.expires_at))
        .bind(key.requests_per_minute)
        .bind(key.tokens_per_minute)
        .execute(&self.pool)
        .await
        .map_err(|e| map_write_err(e, "user", key.user_id.as_str()))?;
        Ok(())
    }

    async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<(ApiKey, User)>> {
        let sql = format!(
            "SELECT {}, {} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1",
            rows::JOINED_API_KEY_COLS,
            rows::JOINED_USER_COLS
        );
        let row = sqlx::query(&sql)
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((rows::api_key(&r)?, rows::user_at(&r, "u_")?)))
            .transpose()
    }

    async fn get_api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {} FROM api_keys WHERE id = $1", rows::API_KEY_COLS);
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::api_key).transpose()
    }

    async fn list_api_keys(&self, user: &UserId) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {} FROM api_keys WHERE user_id = $1 ORDER BY id DESC",
            rows::API_KEY_COLS
        );
        let found = sqlx::query(&sql)
            .bind(user.as_str())
            .fetch_all(&self.pool)
            .await?;
        map_rows(found, rows::api_key)
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(ms(now))
                .bind(id.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_api_key(&self, id: &ApiKeyId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>("value")).transpose()?)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
