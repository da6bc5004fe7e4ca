//! [`UsageStore`] for [`SqlStore`].

use super::rows::{self, ms};
use super::sql::map_rows;
use super::{SqlStore, UsageStore};
use crate::error::Result;
use crate::id::UserId;
use crate::model::{UsageRecord, UsageSummaryRow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

#[async_trait]
impl UsageStore for SqlStore {
    async fn record_usage(&self, u: &UsageRecord) -> Result<()> {
        insert_usage(&self.pool, u).await
    }

    async fn record_usage_batch(&self, records: &[UsageRecord]) -> Result<()> {
        if let [one] = records {
            // Alone, a statement commits by itself: BEGIN and COMMIT would only add
            // round trips.
            return insert_usage(&self.pool, one).await;
        }
        let mut tx = self.pool.begin().await?;
        for u in records {
            insert_usage(&mut *tx, u).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn usage_summary(
        &self,
        user: Option<&UserId>,
        since: DateTime<Utc>,
    ) -> Result<Vec<UsageSummaryRow>> {
        // Portable aggregates: integer day buckets, sums cast to BIGINT (PostgreSQL
        // would otherwise answer NUMERIC).
        let sql =
            format!(
            "SELECT created_at / 86400000 AS day, model, COALESCE(api_key_id, '') AS api_key_id, \
             COUNT(*) AS calls, \
             CAST(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END) AS BIGINT) AS errors, \
             CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, \
             CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, \
             CAST(AVG(latency_ms) AS BIGINT) AS avg_latency_ms \
             FROM usage_events WHERE created_at >= $1 {} \
             GROUP BY created_at / 86400000, model, COALESCE(api_key_id, '') \
             ORDER BY day, model, api_key_id",
            if user.is_some() { "AND user_id = $2" } else { "" }
        );
        let mut q = sqlx::query(&sql).bind(ms(since));
        if let Some(u) = user {
            q = q.bind(u.as_str());
        }
        map_rows(q.fetch_all(&self.pool).await?, |r| {
            let day = r.try_get::<i64, _>("day")?;
            let key = rows::text(r, "api_key_id")?;
            Ok(UsageSummaryRow {
                day: crate::clock::ms_to_time(day * 86_400_000).date_naive(),
                model: rows::text(r, "model")?,
                api_key_id: if key.is_empty() {
                    None
                } else {
                    Some(key.parse()?)
                },
                calls: r.try_get::<i64, _>("calls")?,
                errors: r.try_get::<i64, _>("errors")?,
                prompt_tokens: r.try_get::<i64, _>("prompt_tokens")?,
                completion_tokens: r.try_get::<i64, _>("completion_tokens")?,
                avg_latency_ms: r.try_get::<i64, _>("avg_latency_ms")?,
            })
        })
    }

    async fn tokens_used_since(&self, user: &UserId, since: DateTime<Utc>) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) AS n \
             FROM usage_events WHERE user_id = $1 AND created_at >= $2",
        )
        .bind(user.as_str())
        .bind(ms(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}

async fn insert_usage<'e, E>(exec: E, u: &UsageRecord) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO usage_events (id, user_id, api_key_id, provider_endpoint_id, model, \
         upstream_model, kind, prompt_tokens, completion_tokens, latency_ms, ttft_ms, status, \
         error_code, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(u.id.as_str())
    .bind(u.user_id.as_str())
    .bind(u.api_key_id.as_ref().map(|k| k.as_str().to_owned()))
    .bind(u.provider_endpoint_id.as_ref().map(|e| e.as_str().to_owned()))
    .bind(&u.model)
    .bind(&u.upstream_model)
    .bind(&u.kind)
    .bind(u.prompt_tokens)
    .bind(u.completion_tokens)
    .bind(u.latency_ms)
    .bind(u.ttft_ms)
    .bind(&u.status)
    .bind(u.error_code.as_deref())
    .bind(ms(u.created_at))
    .execute(exec)
    .await?;
    Ok(())
}
