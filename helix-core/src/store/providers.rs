//! [`ProviderStore`] for [`SqlStore`].

use super::rows::{self, ms, scope_parts};
use super::sql::{map_rows, map_write_err};
use super::{ProviderStore, SqlStore};
use crate::error::Result;
use crate::id::*;
use crate::model::*;
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl ProviderStore for SqlStore {
    async fn create_provider_endpoint(
        &self,
        ep: &ProviderEndpoint,
        api_key_encrypted: Option<&[u8]>,
    ) -> Result<()> {
        let (scope, scope_id) = scope_parts(&ep.scope);
        let sql = format!(
            "INSERT INTO provider_endpoints ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            rows::ENDPOINT_COLS
        );
        sqlx::query(&sql)
            .bind(ep.id.as_str())
            .bind(&ep.name)
            .bind(ep.kind.as_str())
            .bind(&ep.base_url)
            .bind(scope)
            .bind(scope_id)
            .bind(api_key_encrypted.map(<[u8]>::to_vec))
            .bind(ms(ep.created_at))
            .execute(&self.pool)
            .await
            .map_err(|e| map_write_err(e, "provider endpoint named", &ep.name))?;
        Ok(())
    }

    async fn get_provider_endpoint(
        &self,
        id: &ProviderEndpointId,
    ) -> Result<Option<(ProviderEndpoint, Option<Vec<u8>>)>> {
        let sql = format!(
            "SELECT {} FROM provider_endpoints WHERE id = $1",
            rows::ENDPOINT_COLS
        );
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let key = r.try_get::<Option<Vec<u8>>, _>("api_key_encrypted")?;
            Ok((rows::endpoint(&r)?, key))
        })
        .transpose()
    }

    async fn list_provider_endpoints(&self) -> Result<Vec<ProviderEndpoint>> {
        let sql = format!(
            "SELECT {} FROM provider_endpoints ORDER BY id",
            rows::ENDPOINT_COLS
        );
        map_rows(
            sqlx::query(&sql).fetch_all(&self.pool).await?,
            rows::endpoint,
        )
    }

    async fn delete_provider_endpoint(&self, id: &ProviderEndpointId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM provider_endpoints WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_model(&self, m: &Model) -> Result<()> {
        sqlx::query(
            "INSERT INTO models (id, provider_endpoint_id, name, is_default, context_length, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(m.id.as_str())
        .bind(m.provider_endpoint_id.as_str())
        .bind(&m.name)
        .bind(i64::from(m.is_default))
        .bind(m.context_length)
        .bind(ms(m.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| map_write_err(e, "model", &m.name))?;
        Ok(())
    }

    async fn list_models(&self, endpoint: Option<&ProviderEndpointId>) -> Result<Vec<Model>> {
        let cols = "id, provider_endpoint_id, name, is_default, context_length, created_at";
        let found = match endpoint {
            Some(ep) => {
                let sql = format!(
                    "SELECT {cols} FROM models WHERE provider_endpoint_id = $1 ORDER BY name"
                );
                sqlx::query(&sql)
                    .bind(ep.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {cols} FROM models ORDER BY name, id");
                sqlx::query(&sql).fetch_all(&self.pool).await?
            }
        };
        map_rows(found, rows::model)
    }
}
