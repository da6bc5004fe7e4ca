//! [`ChatStore`] for [`SqlStore`].

use super::rows::{self, ms};
use super::sql::{map_rows, map_write_err};
use super::{ChatStore, NewInteraction, SqlStore};
use crate::error::{CoreError, Result};
use crate::id::*;
use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// How often appending retries when a concurrent append took the same position.
const APPEND_RETRIES: usize = 5;

#[async_trait]
impl ChatStore for SqlStore {
    async fn create_session(&self, s: &ChatSession) -> Result<()> {
        let sql = format!(
            "INSERT INTO sessions ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            rows::SESSION_COLS
        );
        sqlx::query(&sql)
            .bind(s.id.as_str())
            .bind(s.owner_id.as_str())
            .bind(s.org_id.as_ref().map(OrgId::as_str))
            .bind(s.app_id.as_ref().map(AppId::as_str))
            .bind(&s.name)
            .bind(&s.model)
            .bind(ms(s.created_at))
            .bind(ms(s.updated_at))
            .execute(&self.pool)
            .await
            .map_err(|e| map_write_err(e, "session owner, org or app", s.id.as_str()))?;
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<ChatSession>> {
        let sql = format!("SELECT {} FROM sessions WHERE id = $1", rows::SESSION_COLS);
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::session).transpose()
    }

    async fn list_sessions(&self, owner: &UserId) -> Result<Vec<ChatSession>> {
        let sql = format!(
            "SELECT {} FROM sessions WHERE owner_id = $1 ORDER BY updated_at DESC, id DESC",
            rows::SESSION_COLS
        );
        map_rows(
            sqlx::query(&sql)
                .bind(owner.as_str())
                .fetch_all(&self.pool)
                .await?,
            rows::session,
        )
    }

    async fn rename_session(&self, id: &SessionId, name: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query("UPDATE sessions SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name)
            .bind(ms(now))
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_session(&self, id: &SessionId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_interaction(&self, i: &NewInteraction) -> Result<Interaction> {
        let sql = format!(
            "INSERT INTO interactions (id, session_id, seq, role, content, tool_calls, \
             tool_call_id, state, created_at, updated_at) \
             SELECT $1, $2, COALESCE(MAX(seq) + 1, 0), $3, $4, $5, $6, $7, $8, $8 \
             FROM interactions WHERE session_id = $2 RETURNING {}",
            rows::INTERACTION_COLS
        );
        let mut last = None;
        for _ in 0..APPEND_RETRIES {
            let res = sqlx::query(&sql)
                .bind(i.id.as_str())
                .bind(i.session_id.as_str())
                .bind(i.role.as_str())
                .bind(&i.content)
                .bind(i.tool_calls.as_ref().map(|v| v.to_string()))
                .bind(i.tool_call_id.as_deref())
                .bind(i.state.as_str())
                .bind(ms(i.created_at))
                .fetch_one(&self.pool)
                .await;
            match res {
                Ok(row) => {
                    sqlx::query("UPDATE sessions SET updated_at = $1 WHERE id = $2")
                        .bind(ms(i.created_at))
                        .bind(i.session_id.as_str())
                        .execute(&self.pool)
                        .await?;
                    return rows::interaction(&row);
                }
                // A concurrent append took this position: try the next one.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    last = Some(CoreError::Conflict(format!(
                        "interaction {} could not be appended to session {}",
                        i.id, i.session_id
                    )));
                }
                Err(e) => return Err(map_write_err(e, "session", i.session_id.as_str())),
            }
        }
        Err(last.unwrap_or_else(|| CoreError::internal("append retries exhausted")))
    }

    async fn update_interaction(&self, i: &Interaction) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE interactions SET content = $1, tool_calls = $2, state = $3, error = $4, \
             prompt_tokens = $5, completion_tokens = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(&i.content)
        .bind(i.tool_calls.as_ref().map(|v| v.to_string()))
        .bind(i.state.as_str())
        .bind(i.error.as_deref())
        .bind(i.usage.map(|u| u.prompt_tokens))
        .bind(i.usage.map(|u| u.completion_tokens))
        .bind(ms(i.updated_at))
        .bind(i.id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_interactions(&self, session: &SessionId) -> Result<Vec<Interaction>> {
        let sql = format!(
            "SELECT {} FROM interactions WHERE session_id = $1 ORDER BY seq",
            rows::INTERACTION_COLS
        );
        map_rows(
            sqlx::query(&sql)
                .bind(session.as_str())
                .fetch_all(&self.pool)
                .await?,
            rows::interaction,
        )
    }

    async fn delete_interactions_from(&self, session: &SessionId, seq: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM interactions WHERE session_id = $1 AND seq >= $2")
            .bind(session.as_str())
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
