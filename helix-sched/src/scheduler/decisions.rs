//! The ring of recent scheduling decisions, each with a human reason.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use serde::Serialize;

/// What kind of decision was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DecisionKind {
    /// An instance was started (placed, scaled out or prewarmed).
    Start,
    /// An instance was stopped (evicted or idle past keep-alive).
    Stop,
    /// A request was granted a slot.
    Grant,
    /// A queued request was rejected (timeout, failed model, model gone).
    Reject,
    /// A request (or prewarm) must wait, for a reason not logged just before.
    Wait,
    /// A request was refused at enqueue.
    Refuse,
    /// A runner connected, went stale, disconnected, or was forgotten.
    Runner,
    /// An instance changed state on its own (ready, failed, adopted, forgotten).
    Instance,
}

impl DecisionKind {
    /// Text form (`start`, `stop`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Start => "start",
            DecisionKind::Stop => "stop",
            DecisionKind::Grant => "grant",
            DecisionKind::Reject => "reject",
            DecisionKind::Wait => "wait",
            DecisionKind::Refuse => "refuse",
            DecisionKind::Runner => "runner",
            DecisionKind::Instance => "instance",
        }
    }
}

impl fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One logged decision.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub(crate) at: Instant,
    pub(crate) kind: DecisionKind,
    pub(crate) message: String,
}

/// The last `capacity` decisions, oldest first.
#[derive(Debug)]
pub(crate) struct DecisionLog {
    capacity: usize,
    items: VecDeque<Decision>,
}

impl DecisionLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            items: VecDeque::with_capacity(capacity.min(1024)),
        }
    }

    pub(crate) fn push(&mut self, at: Instant, kind: DecisionKind, message: String) {
        if self.capacity == 0 {
            return;
        }
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(Decision { at, kind, message });
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Decision> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_capacity_decisions() {
        let now = Instant::now();
        let mut log = DecisionLog::new(2);
        for n in 0..3 {
            log.push(now, DecisionKind::Wait, format!("d{n}"));
        }
        let kept: Vec<&str> = log.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(kept, ["d1", "d2"]);
        let mut none = DecisionLog::new(0);
        none.push(now, DecisionKind::Grant, "x".into());
        assert_eq!(none.iter().count(), 0);
    }
}
