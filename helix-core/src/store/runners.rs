//! [`RunnerStore`] for [`SqlStore`].

use super::rows::{self, ms, opt_ms};
use super::sql::{map_rows, map_write_err};
use super::{RunnerStore, SqlStore};
use crate::error::Result;
use crate::id::RunnerTokenId;
use crate::model::RunnerToken;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl RunnerStore for SqlStore {
    async fn create_runner_token(&self, t: &RunnerToken, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO runner_tokens (id, runner_id, description, token_hash, prefix, \
             created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(t.id.as_str())
        .bind(&t.runner_id)
        .bind(t.description.as_deref())
        .bind(token_hash)
        .bind(&t.prefix)
        .bind(t.created_by.as_str())
        .bind(ms(t.created_at))
        .bind(opt_ms(t.expires_at))
        .execute(&self.pool)
        .await
        .map_err(|e| map_write_err(e, "user", t.created_by.as_str()))?;
        Ok(())
    }

    async fn list_runner_tokens(&self) -> Result<Vec<RunnerToken>> {
        let sql = format!(
            "SELECT {} FROM runner_tokens ORDER BY id DESC",
            rows::RUNNER_TOKEN_COLS
        );
        map_rows(
            sqlx::query(&sql).fetch_all(&self.pool).await?,
            rows::runner_token,
        )
    }

    async fn get_runner_token(&self, id: &RunnerTokenId) -> Result<Option<RunnerToken>> {
        let sql = format!(
            "SELECT {} FROM runner_tokens WHERE id = $1",
            rows::RUNNER_TOKEN_COLS
        );
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::runner_token).transpose()
    }

    async fn find_active_runner_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<RunnerToken>> {
        let sql = format!(
            "SELECT {} FROM runner_tokens WHERE token_hash = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)",
            rows::RUNNER_TOKEN_COLS
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(ms(now))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::runner_token).transpose()
    }

    async fn revoke_runner_token(&self, id: &RunnerTokenId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE runner_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(ms(now))
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_runner_token(&self, id: &RunnerTokenId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE runner_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
