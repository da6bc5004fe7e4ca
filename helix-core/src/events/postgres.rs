//! [`EventBus`] over PostgreSQL LISTEN/NOTIFY, for several control-plane replicas on
//! one database.
//!
//! Local subscribers get an event at once; other processes get it through
//! `NOTIFY helix_events`. Publishing goes through one connection in order, so events
//! of a session arrive everywhere in the order they were published. Payloads over the
//! NOTIFY limit are stored in `event_payloads` and notified by id.

use super::{BusEvent, ControlEvent, EventBus, WireEvent};
use crate::error::{CoreError, Result};
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

const CHANNEL: &str = "helix_events";
/// NOTIFY payloads must stay under 8000 bytes.
const INLINE_LIMIT: usize = 7000;
const REF_PREFIX: &str = "ref:";
/// Events waiting to be published before new ones are dropped.
const OUTBOX: usize = 10_000;

/// The PostgreSQL event bus.
#[derive(Debug, Clone)]
pub struct PgEventBus {
    local: broadcast::Sender<Arc<BusEvent>>,
    outbox: mpsc::Sender<WireEvent>,
    origin: String,
}

impl PgEventBus {
    /// Connects, starts listening and publishing. The database must have Helix's
    /// migrations (open a `SqlStore` on it first).
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let (local, _) = broadcast::channel(4096);
        let (outbox, rx) = mpsc::channel(OUTBOX);
        let origin = ulid::Ulid::new().to_string();
        tokio::spawn(publish_loop(pool.clone(), rx));
        tokio::spawn(listen_loop(
            pool.clone(),
            listener,
            local.clone(),
            origin.clone(),
        ));
        tokio::spawn(sweep_loop(pool));
        Ok(PgEventBus {
            local,
            outbox,
            origin,
        })
    }
}

impl EventBus for PgEventBus {
    fn publish(&self, event: BusEvent) {
        let wire = WireEvent {
            origin: self.origin.clone(),
            event: event.clone(),
        };
        let _ = self.local.send(Arc::new(event));
        if let Err(e) = self.outbox.try_send(wire) {
            // Full (the database is slow or gone) or stopped: other replicas miss this
            // event; their feeds recover from gaps through the store.
            tracing::warn!(error = %e, "event not published to other replicas");
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.local.subscribe()
    }
}

async fn notify(pool: &PgPool, wire: &WireEvent) -> Result<()> {
    let payload = serde_json::to_string(wire).map_err(CoreError::internal)?;
    let message = if payload.len() <= INLINE_LIMIT {
        payload
    } else {
        let id = ulid::Ulid::new().to_string();
        sqlx::query("INSERT INTO event_payloads (id, payload, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(&payload)
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(pool)
            .await?;
        format!("{REF_PREFIX}{id}")
    };
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(message)
        .execute(pool)
        .await?;
    Ok(())
}

/// One task, one event at a time: order is kept.
async fn publish_loop(pool: PgPool, mut rx: mpsc::Receiver<WireEvent>) {
    while let Some(wire) = rx.recv().await {
        let mut delay = Duration::from_millis(100);
        // Retry through a database blip; give up on one event after ~10 s.
        for _ in 0..7 {
            match notify(&pool, &wire).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot publish event; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
}

async fn listen_loop(
    pool: PgPool,
    mut listener: PgListener,
    local: broadcast::Sender<Arc<BusEvent>>,
    origin: String,
) {
    loop {
        // After a lost connection the next try_recv() reconnects. Events in between are
        // lost: live feeds recover through their gap detection, and every cache a
        // missed control event might have dropped is dropped now.
        let note = match listener.try_recv().await {
            Ok(Some(n)) => n,
            Ok(None) => {
                tracing::warn!("event listener lost its connection; reconnecting");
                missed_events(&local);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "event listener error");
                missed_events(&local);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let payload = match note.payload().strip_prefix(REF_PREFIX) {
            None => note.payload().to_owned(),
            Some(id) => match sqlx::query_scalar::<_, String>(
                "SELECT payload FROM event_payloads WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&pool)
            .await
            {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read event payload");
                    continue;
                }
            },
        };
        match serde_json::from_str::<WireEvent>(&payload) {
            Ok(w) if w.origin == origin => {}
            Ok(w) => {
                let _ = local.send(Arc::new(w.event));
            }
            Err(e) => tracing::warn!(error = %e, "malformed event payload"),
        }
    }
}

/// Tells this process's subscribers that control events may have been missed.
fn missed_events(local: &broadcast::Sender<Arc<BusEvent>>) {
    for change in [
        ControlEvent::AuthChanged,
        ControlEvent::ProvidersChanged,
        ControlEvent::LimitsChanged,
    ] {
        let _ = local.send(Arc::new(BusEvent::Control {
            origin: "event-bus".into(),
            change,
        }));
    }
}

/// Deletes stored payloads every listener has had time to read.
async fn sweep_loop(pool: PgPool) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let cutoff = chrono::Utc::now().timestamp_millis() - 5 * 60 * 1000;
        if let Err(e) = sqlx::query("DELETE FROM event_payloads WHERE created_at < $1")
            .bind(cutoff)
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "cannot sweep event payloads");
        }
    }
}
