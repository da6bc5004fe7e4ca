//! Live session feeds: a snapshot, then only what the snapshot does not already hold.
//!
//! Ordering that makes this gap- and duplicate-free:
//! 1. a running answer's text is updated in [`LiveAnswers`] BEFORE its delta is
//!    published;
//! 2. a feed subscribes to the bus BEFORE it reads the snapshot, and the snapshot
//!    takes running answers' text from [`LiveAnswers`] (the store lags by up to a
//!    second);
//!
//! So every delta is either in the snapshot or arrives after it, and the feed drops
//! those at offsets the snapshot already covers.

use super::chat::{ChatEvent, SessionWithInteractions};
use crate::auth::Principal;
use crate::control_plane::ControlPlane;
use crate::error::Result;
use crate::events::BusEvent;
use crate::id::{InteractionId, SessionId};
use crate::model::InteractionState;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

/// Text of answers being generated in this process.
#[derive(Debug, Default)]
pub(crate) struct LiveAnswers(Mutex<HashMap<InteractionId, String>>);

impl LiveAnswers {
    pub(crate) fn append(&self, id: &InteractionId, text: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id.clone()).or_default().push_str(text);
    }

    pub(crate) fn remove(&self, id: &InteractionId) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    fn get(&self, id: &InteractionId) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }
}

/// What a live feed yields.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FeedItem {
    /// The whole session as it is now; replace any local copy with it.
    Snapshot {
        /// The session and its log.
        session: SessionWithInteractions,
    },
    /// Something happened after the snapshot.
    Event {
        /// The session.
        session_id: SessionId,
        /// What happened.
        event: ChatEvent,
    },
}

enum Admit {
    Emit,
    Drop,
    Gap,
    Reset,
}

/// A subscription to one session.
#[derive(Debug)]
pub struct SessionFeed {
    cp: ControlPlane,
    principal: Principal,
    session_id: SessionId,
    rx: tokio::sync::broadcast::Receiver<Arc<BusEvent>>,
    /// Characters each interaction holds on the subscriber's side.
    known: HashMap<InteractionId, usize>,
    pending_snapshot: Option<SessionWithInteractions>,
}

impl ControlPlane {
    /// Opens a live feed of one of the caller's sessions (access checked now).
    pub async fn subscribe_session(&self, p: &Principal, id: &SessionId) -> Result<SessionFeed> {
        let rx = self.inner.events.subscribe();
        let mut feed = SessionFeed {
            cp: self.clone(),
            principal: p.clone(),
            session_id: id.clone(),
            rx,
            known: HashMap::new(),
            pending_snapshot: None,
        };
        feed.pending_snapshot = Some(feed.snapshot().await?);
        Ok(feed)
    }
}

impl SessionFeed {
    async fn snapshot(&mut self) -> Result<SessionWithInteractions> {
        let mut s = self
            .cp
            .get_session(&self.principal, &self.session_id)
            .await?;
        for i in &mut s.interactions {
            if i.state == InteractionState::Waiting {
                if let Some(live) = self
                    .cp
                    .inner
                    .live
                    .get(&i.id)
                    .filter(|l| l.len() > i.content.len())
                {
                    i.content = live;
                }
            }
        }
        self.known = s
            .interactions
            .iter()
            .map(|i| (i.id.clone(), i.content.chars().count()))
            .collect();
        Ok(s)
    }

    /// The next item: the snapshot first, then new events. `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<Result<FeedItem>> {
        if let Some(session) = self.pending_snapshot.take() {
            return Some(Ok(FeedItem::Snapshot { session }));
        }
        loop {
            let ev = match self.rx.recv().await {
                Ok(ev) => ev,
                // Too slow to keep up: start over from a fresh snapshot.
                Err(RecvError::Lagged(_)) => return Some(self.resnapshot().await),
                Err(RecvError::Closed) => return None,
            };
            let BusEvent::Chat { session_id, event } = &*ev else {
                continue;
            };
            if session_id != &self.session_id {
                continue;
            }
            match self.admit(event) {
                Admit::Emit => {
                    return Some(Ok(FeedItem::Event {
                        session_id: session_id.clone(),
                        event: event.clone(),
                    }));
                }
                Admit::Drop => {}
                // Interactions were removed: start over now.
                Admit::Reset => return Some(self.resnapshot().await),
                // The answer runs in another process, whose live text this one cannot
                // see: wait until the store has caught up, then start over.
                Admit::Gap => {
                    tokio::time::sleep(
                        super::chat::PERSIST_EVERY + std::time::Duration::from_millis(200),
                    )
                    .await;
                    return Some(self.resnapshot().await);
                }
            }
        }
    }

    async fn resnapshot(&mut self) -> Result<FeedItem> {
        self.snapshot()
            .await
            .map(|session| FeedItem::Snapshot { session })
    }

    /// Drops what the subscriber already has, tracks what it will have, and notices
    /// text it can never get from the events alone.
    fn admit(&mut self, event: &ChatEvent) -> Admit {
        match event {
            ChatEvent::InteractionCreated { interaction } => {
                if self.known.contains_key(&interaction.id) {
                    return Admit::Drop;
                }
                self.known
                    .insert(interaction.id.clone(), interaction.content.chars().count());
            }
            ChatEvent::Delta {
                interaction_id,
                offset,
                text,
            } => {
                let have = self.known.entry(interaction_id.clone()).or_insert(0);
                if *offset < *have {
                    return Admit::Drop;
                }
                if *offset > *have {
                    return Admit::Gap;
                }
                *have = offset + text.chars().count();
            }
            ChatEvent::Reset => return Admit::Reset,
            ChatEvent::Completed { interaction } | ChatEvent::Failed { interaction } => {
                self.known
                    .insert(interaction.id.clone(), interaction.content.chars().count());
            }
        }
        Admit::Emit
    }
}
