//! The `Clock` seam: every "now" in helix-core comes from here, so tests can move time.

use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        // Millisecond precision: that is what storage keeps.
        ms_to_time(Utc::now().timestamp_millis())
    }
}

/// Converts stored milliseconds since the epoch to a time.
pub(crate) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A clock that only moves when told to (tests).
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<std::sync::Mutex<DateTime<Utc>>>);

#[cfg(any(test, feature = "test-util"))]
impl ManualClock {
    /// A manual clock starting at the system time.
    pub fn new() -> Self {
        Self(Arc::new(std::sync::Mutex::new(SystemClock.now())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;
