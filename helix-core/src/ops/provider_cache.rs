//! The provider configuration the gateway reads on every call, served from a snapshot
//! that lives a few seconds, so a model call does not re-read it from the database. A
//! change drops it at once, here and (through the event bus) on other replicas;
//! [`PROVIDERS_TTL`] bounds a missed notification.

use crate::control_plane::ControlPlane;
use crate::error::Result;
use crate::id::ProviderEndpointId;
use crate::model::{Model, ProviderEndpoint};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a snapshot of the provider configuration is used.
pub const PROVIDERS_TTL: Duration = Duration::from_secs(5);

/// Endpoints and registered models, as read at one moment.
#[derive(Debug, Default)]
pub(crate) struct ProviderSnapshot {
    pub(crate) endpoints: Vec<ProviderEndpoint>,
    pub(crate) models: Vec<Model>,
    /// Sealed API keys, read the first time an endpoint is called.
    keys: Mutex<HashMap<ProviderEndpointId, Option<Vec<u8>>>>,
}

/// The cache slot in the control plane.
pub(crate) type ProviderCache = super::cache_slot::CacheSlot<Arc<ProviderSnapshot>>;

impl ControlPlane {
    /// The current snapshot.
    pub(crate) async fn providers(&self) -> Result<Arc<ProviderSnapshot>> {
        let generation = match self.inner.providers.get(PROVIDERS_TTL) {
            Ok(snap) => return Ok(snap),
            Err(generation) => generation,
        };
        let snap = Arc::new(ProviderSnapshot {
            endpoints: self.store_ref().list_provider_endpoints().await?,
            models: self.store_ref().list_models(None).await?,
            keys: Mutex::default(),
        });
        self.inner.providers.put(generation, snap.clone());
        Ok(snap)
    }

    /// Drops the snapshot (the configuration changed, here or on another replica).
    pub(crate) fn forget_providers(&self) {
        self.inner.providers.clear();
        self.inner
            .model_lists
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// An endpoint's sealed API key.
    pub(crate) async fn sealed_key(
        &self,
        snap: &ProviderSnapshot,
        id: &ProviderEndpointId,
    ) -> Result<Option<Vec<u8>>> {
        if let Some(k) = snap.keys.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(k.clone());
        }
        let key = self
            .store_ref()
            .get_provider_endpoint(id)
            .await?
            .and_then(|(_, k)| k);
        snap.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), key.clone());
        Ok(key)
    }
}
