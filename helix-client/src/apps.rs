//! Apps (assistants), the orgs that own them, the models the caller may use, usage.

use crate::client::{path_id, Client};
use crate::error::{Error, Result, INVALID_ARGUMENT};
use helix_core::model::{App, OrgWithRole, UsageSummaryRow};
use helix_core::ops::apps::CreateAppRequest;
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// A model the caller may use, as `GET /v1/models` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The name to ask for.
    pub id: String,
    /// Who serves it (a provider's name, or `helix` for the platform's runners).
    #[serde(default)]
    pub owned_by: String,
}

/// A new app.
#[derive(Debug, Clone, Default)]
pub struct NewApp {
    /// The org that will own it.
    pub org_id: String,
    /// Display name.
    pub name: String,
    /// Model name.
    pub model: String,
    /// System prompt.
    pub system_prompt: String,
    /// Description.
    pub description: String,
    /// Settings (temperature, max_tokens, ...).
    pub settings: Option<serde_json::Value>,
}

impl Client {
    /// The models the caller may use.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>> {
        #[derive(Deserialize)]
        struct List {
            data: Vec<ModelInfo>,
        }
        let list: List = self.json(self.request(Method::GET, "v1/models")).await?;
        Ok(list.data)
    }

    /// Calls, tokens and latency per day, model and key over the last `days` (1-366,
    /// default 30): the caller's own.
    pub async fn usage(&self, days: Option<u32>) -> Result<Vec<UsageSummaryRow>> {
        let mut req = self.request(Method::GET, "api/v1/usage");
        if let Some(d) = days {
            req = req.query(&[("days", d)]);
        }
        self.json(req).await
    }

    /// The orgs the caller belongs to, with their role.
    pub async fn list_orgs(&self) -> Result<Vec<OrgWithRole>> {
        self.json(self.request(Method::GET, "api/v1/orgs")).await
    }

    /// The apps of the caller's orgs (or of one org).
    pub async fn list_apps(&self, org_id: Option<&str>) -> Result<Vec<App>> {
        let mut req = self.request(Method::GET, "api/v1/apps");
        if let Some(o) = org_id {
            req = req.query(&[("org_id", path_id("org_id", o)?)]);
        }
        self.json(req).await
    }

    /// Creates an app in an org.
    pub async fn create_app(&self, new: NewApp) -> Result<App> {
        let org_id = path_id("org_id", &new.org_id)?
            .parse()
            .map_err(|e| Error::new(INVALID_ARGUMENT, format!("org_id: {e}")))?;
        let body = CreateAppRequest {
            org_id,
            name: new.name,
            description: new.description,
            system_prompt: new.system_prompt,
            model: new.model,
            settings: new.settings,
        };
        self.json(self.request(Method::POST, "api/v1/apps").json(&body))
            .await
    }

    /// One app.
    pub async fn get_app(&self, app_id: &str) -> Result<App> {
        let id = path_id("app_id", app_id)?;
        self.json(self.request(Method::GET, &format!("api/v1/apps/{id}")))
            .await
    }

    /// Deletes an app.
    pub async fn delete_app(&self, app_id: &str) -> Result<()> {
        let id = path_id("app_id", app_id)?;
        self.empty(self.request(Method::DELETE, &format!("api/v1/apps/{id}")))
            .await
    }
}
