//! The provider configuration the gateway reads on every call, served from a snapshot
//! that lives a few seconds (and is dropped at once when this process changes an
//! endpoint or model), so a model call does not re-read it from the database.
//! Another replica's change shows here within [`PROVIDERS_TTL`].

use crate::control_plane::ControlPlane;
use crate::error::Result;
use crate::id::ProviderEndpointId;
use crate::model::{Model, ProviderEndpoint};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
pub(crate) type ProviderCache = Mutex<Option<(Instant, Arc<ProviderSnapshot>)>>;

impl ControlPlane {
    /// The current snapshot.
    pub(crate) async fn providers(&self) -> Result<Arc<ProviderSnapshot>> {
        {
            let cache = self
                .inner
                .providers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((_, snap)) = cache
                .as_ref()
                .filter(|(at, _)| at.elapsed() < PROVIDERS_TTL)
            {
                return Ok(snap.clone());
            }
        }
        let snap = Arc::new(ProviderSnapshot {
            endpoints: self.store_ref().list_provider_endpoints().await?,
            models: self.store_ref().list_models(None).await?,
            keys: Mutex::default(),
        });
        *self
            .inner
            .providers
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), snap.clone()));
        Ok(snap)
    }

    /// Drops the snapshot (this process changed the configuration).
    pub(crate) fn forget_providers(&self) {
        *self
            .inner
            .providers
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
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
