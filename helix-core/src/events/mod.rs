//! Events between the parts of a control plane: the [`EventBus`] trait and its
//! in-process backend.
//!
//! Chat turns publish [`ChatEvent`]s per session; live-update connections subscribe.
//! Control events tell every replica that something it caches changed, or that an
//! answer it runs should stop. Chat events are idempotent (deltas carry interaction id and character offset), so a
//! subscriber that sees one twice can tell.

use crate::id::SessionId;
use crate::ops::chat::ChatEvent;
use std::sync::Arc;
use tokio::sync::broadcast;

/// One published event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BusEvent {
    /// Something happened in a chat session.
    Chat {
        /// The session it belongs to.
        session_id: SessionId,
        /// What happened.
        event: ChatEvent,
    },
    /// A control plane changed something the others may cache, or asks for something
    /// only the one running it can do.
    Control {
        /// The control plane that published it (it has applied the change itself).
        origin: String,
        /// What.
        change: ControlEvent,
    },
}

/// A control event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlEvent {
    /// Someone asked to stop the answer running in a session: whichever process runs
    /// it stops it.
    StopAnswer {
        /// The session.
        session_id: SessionId,
        /// The answer to stop (a later answer of the session is left alone).
        interaction_id: crate::id::InteractionId,
    },
    /// Users, API keys or org memberships changed: cached principals are stale.
    AuthChanged,
    /// Provider endpoints or registered models changed: the provider snapshot is stale.
    ProvidersChanged,
    /// Instance limit settings changed.
    LimitsChanged,
}

/// Carries events to every subscriber of this (and, for shared backends, every other)
/// control-plane process.
pub trait EventBus: Send + Sync + std::fmt::Debug + 'static {
    /// Publishes an event; never blocks, never fails the publisher.
    fn publish(&self, event: BusEvent);
    /// Receives every event published from now on.
    fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>>;
}

/// In-process broadcast: one process, no persistence.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    tx: broadcast::Sender<Arc<BusEvent>>,
}

impl InProcessBus {
    /// A bus buffering up to `capacity` events per slow subscriber before it lags.
    pub fn new(capacity: usize) -> Self {
        InProcessBus {
            tx: broadcast::channel(capacity).0,
        }
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, event: BusEvent) {
        // No subscribers is fine.
        let _ = self.tx.send(Arc::new(event));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.tx.subscribe()
    }
}

mod postgres;
pub use postgres::PgEventBus;

/// The wire form of an event between processes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct WireEvent {
    /// The publishing process, so it can skip its own events.
    pub(crate) origin: String,
    pub(crate) event: BusEvent,
}
