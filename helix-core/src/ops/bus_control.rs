//! What a control plane does with the bus's control events, whichever replica
//! published them: drop what it caches, stop an answer it runs.

use crate::control_plane::{ControlPlane, Inner};
use crate::events::{BusEvent, ControlEvent};
use crate::id::{InteractionId, SessionId};
use std::sync::{Arc, Weak};
use tokio::sync::broadcast::error::RecvError;

/// Starts listening (when there is a runtime). The task holds the control plane
/// weakly and ends with it.
pub(crate) fn spawn(inner: &Arc<Inner>) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let mut rx = inner.events.subscribe();
    let weak: Weak<Inner> = Arc::downgrade(inner);
    rt.spawn(async move {
        loop {
            let ev = rx.recv().await;
            let Some(inner) = weak.upgrade() else { return };
            let cp = ControlPlane { inner };
            match ev {
                Ok(ev) => cp.apply(&ev),
                // Events were missed: any of them could have been a change.
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "control events missed; dropping caches");
                    cp.drop_caches();
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

impl ControlPlane {
    fn apply(&self, ev: &BusEvent) {
        let BusEvent::Control { origin, change } = ev else {
            return;
        };
        // This control plane applied its own changes before publishing them.
        if origin == &self.inner.instance_id {
            return;
        }
        match change {
            ControlEvent::StopAnswer {
                session_id,
                interaction_id,
            } => {
                self.ring_stop(session_id, Some(interaction_id));
            }
            ControlEvent::AuthChanged => self.inner.auth_cache.clear(),
            ControlEvent::ProvidersChanged => self.forget_providers(),
            ControlEvent::LimitsChanged => self.forget_limit_settings(),
        }
    }

    /// Tells the other control planes on the bus.
    pub(crate) fn publish_control(&self, change: ControlEvent) {
        self.inner.events.publish(BusEvent::Control {
            origin: self.inner.instance_id.clone(),
            change,
        });
    }

    fn drop_caches(&self) {
        self.inner.auth_cache.clear();
        self.forget_providers();
        self.forget_limit_settings();
    }

    /// Stops the session's answer if it runs in this process (and, given `only`, is that
    /// interaction); whether it did.
    pub(crate) fn ring_stop(&self, id: &SessionId, only: Option<&InteractionId>) -> bool {
        let running = self
            .inner
            .answering
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned();
        let Some(running) = running else {
            return false;
        };
        if let Some(only) = only {
            let answer = running.answer.lock().unwrap_or_else(|e| e.into_inner());
            if answer.as_ref() != Some(only) {
                return false;
            }
        }
        // notify_one keeps the permit when the answer is not waiting at this instant.
        running.stop.notify_one();
        true
    }

    /// Provider configuration changed here: drops the snapshot here and in the other
    /// replicas.
    pub(crate) fn providers_changed(&self) {
        self.forget_providers();
        self.publish_control(ControlEvent::ProvidersChanged);
    }

    /// Limit settings changed here: the same.
    pub(crate) fn limits_changed(&self) {
        self.forget_limit_settings();
        self.publish_control(ControlEvent::LimitsChanged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::chat::RunningTurn;

    #[tokio::test]
    async fn a_relayed_stop_ends_only_the_answer_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqlStore::open_sqlite_dir(dir.path()).await.unwrap();
        let (secrets, _) = crate::SecretBox::load_or_generate(None, dir.path()).unwrap();
        let cp = ControlPlane::builder()
            .store(Arc::new(store))
            .secrets(secrets)
            .build()
            .unwrap();
        let session = SessionId::new();
        let (old, new) = (InteractionId::new(), InteractionId::new());
        let running = Arc::new(RunningTurn::default());
        *running.answer.lock().unwrap() = Some(new.clone());
        cp.inner
            .answering
            .lock()
            .unwrap()
            .insert(session.clone(), running.clone());
        let rung = || futures::FutureExt::now_or_never(running.stop.notified()).is_some();
        // A late stop for the session's previous answer.
        assert!(!cp.ring_stop(&session, Some(&old)));
        assert!(!rung());
        assert!(!cp.ring_stop(&SessionId::new(), None));
        assert!(cp.ring_stop(&session, Some(&new)));
        assert!(rung());
        // A local stop (no name) ends whatever runs.
        assert!(cp.ring_stop(&session, None));
        assert!(rung());
    }
}
