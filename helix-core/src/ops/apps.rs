//! Apps (assistants): CRUD inside an org.

use super::validate;
use crate::auth::Principal;
use crate::authz::{self, AppAction, OrgAction};
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::id::{AppId, OrgId};
use crate::model::App;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const MAX_PROMPT_BYTES: usize = 100 * 1024;
const MAX_SETTINGS_BYTES: usize = 16 * 1024;

/// Creates an app in an org.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    /// The org that will own it.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// System prompt.
    #[serde(default)]
    pub system_prompt: String,
    /// Model name.
    pub model: String,
    /// Settings object (temperature, max_tokens, ...).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

/// Changes some fields of an app.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppRequest {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// System prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Model name.
    #[serde(default)]
    pub model: Option<String>,
    /// Settings object, replacing the old one.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

fn settings(value: serde_json::Value) -> Result<serde_json::Value> {
    let Some(obj) = value.as_object() else {
        return Err(CoreError::invalid("settings", "must be a JSON object"));
    };
    // Settings add sampling parameters; they may not replace what a turn sends.
    for reserved in ["model", "messages", "stream", "stream_options"] {
        if obj.contains_key(reserved) {
            return Err(CoreError::invalid(
                "settings",
                format!("must not set {reserved:?}"),
            ));
        }
    }
    if value.to_string().len() > MAX_SETTINGS_BYTES {
        return Err(CoreError::invalid(
            "settings",
            format!("must be at most {MAX_SETTINGS_BYTES} bytes"),
        ));
    }
    Ok(value)
}

impl ControlPlane {
    /// Creates an app (any member of the org).
    pub async fn create_app(&self, p: &Principal, req: CreateAppRequest) -> Result<App> {
        authz::authorize_org(self.store_ref(), p, &req.org_id, OrgAction::Create).await?;
        let now = self.now();
        let app = App {
            id: AppId::new(),
            org_id: req.org_id,
            created_by: p.user.id.clone(),
            name: validate::name("name", &req.name, 200)?,
            description: validate::text("description", &req.description, 4096)?,
            system_prompt: validate::text("system_prompt", &req.system_prompt, MAX_PROMPT_BYTES)?,
            model: validate::name("model", &req.model, 200)?,
            settings: settings(req.settings.unwrap_or_else(|| serde_json::json!({})))?,
            created_at: now,
            updated_at: now,
        };
        self.store_ref().create_app(&app).await?;
        Ok(app)
    }

    /// The apps of one org, or of every org the caller belongs to.
    pub async fn list_apps(&self, p: &Principal, org: Option<&OrgId>) -> Result<Vec<App>> {
        let store = self.store_ref();
        let orgs = match org {
            Some(org) => {
                authz::authorize_org(store, p, org, OrgAction::Read).await?;
                vec![org.clone()]
            }
            None => store
                .list_orgs_for_user(&p.user.id)
                .await?
                .into_iter()
                .map(|o| o.org.id)
                .collect(),
        };
        let mut apps = Vec::new();
        for org in &orgs {
            apps.extend(store.list_apps(org).await?);
        }
        apps.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(apps)
    }

    /// One app, if the caller may see it.
    pub async fn get_app(&self, p: &Principal, id: &AppId) -> Result<App> {
        let app = self
            .store_ref()
            .get_app(id)
            .await?
            .ok_or_else(|| CoreError::not_found("app", id))?;
        authz::authorize_app(self.store_ref(), p, &app, AppAction::Read).await?;
        Ok(app)
    }

    /// Changes an app (its creator or an org admin).
    pub async fn update_app(
        &self,
        p: &Principal,
        id: &AppId,
        req: UpdateAppRequest,
    ) -> Result<App> {
        let mut app = self.get_app(p, id).await?;
        authz::authorize_app(self.store_ref(), p, &app, AppAction::Write).await?;
        if let Some(v) = req.name {
            app.name = validate::name("name", &v, 200)?;
        }
        if let Some(v) = req.description {
            app.description = validate::text("description", &v, 4096)?;
        }
        if let Some(v) = req.system_prompt {
            app.system_prompt = validate::text("system_prompt", &v, MAX_PROMPT_BYTES)?;
        }
        if let Some(v) = req.model {
            app.model = validate::name("model", &v, 200)?;
        }
        if let Some(v) = req.settings {
            app.settings = settings(v)?;
        }
        app.updated_at = self.now();
        self.store_ref().update_app(&app).await?;
        Ok(app)
    }

    /// Deletes an app (its creator or an org admin).
    pub async fn delete_app(&self, p: &Principal, id: &AppId) -> Result<()> {
        let app = self.get_app(p, id).await?;
        authz::authorize_app(self.store_ref(), p, &app, AppAction::Write).await?;
        self.store_ref().delete_app(id).await?;
        Ok(())
    }
}
