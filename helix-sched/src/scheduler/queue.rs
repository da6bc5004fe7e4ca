//! The request queue and the order in which a tick considers it.
//!
//! Order: priority first (Interactive, Normal, Background); within a priority, owners
//! take turns, the owner served least recently first (never served before anyone
//! served; ties to whoever queued first); within an owner, first in first out. Every
//! request is considered on every tick, so a request that must wait never blocks the
//! ones after it.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use crate::scheduler::{Priority, TicketId};

/// A request waiting for a slot.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) ticket: TicketId,
    pub(crate) owner: String,
    pub(crate) model: String,
    pub(crate) priority: Priority,
    pub(crate) deadline: Option<Instant>,
    pub(crate) enqueued_at: Instant,
    /// What it waited for at the last tick.
    pub(crate) waiting_for: String,
}

/// Queued requests by ticket (tickets grow, so ticket order is arrival order).
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: BTreeMap<TicketId, Queued>,
    per_owner: HashMap<String, usize>,
}

impl Queue {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn owner_len(&self, owner: &str) -> usize {
        self.per_owner.get(owner).copied().unwrap_or(0)
    }

    pub(crate) fn push(&mut self, item: Queued) {
        *self.per_owner.entry(item.owner.clone()).or_default() += 1;
        self.items.insert(item.ticket, item);
    }

    pub(crate) fn remove(&mut self, ticket: TicketId) -> Option<Queued> {
        let item = self.items.remove(&ticket)?;
        if let Some(n) = self.per_owner.get_mut(&item.owner) {
            *n -= 1;
            if *n == 0 {
                self.per_owner.remove(&item.owner);
            }
        }
        Some(item)
    }

    pub(crate) fn get(&self, ticket: TicketId) -> Option<&Queued> {
        self.items.get(&ticket)
    }

    pub(crate) fn get_mut(&mut self, ticket: TicketId) -> Option<&mut Queued> {
        self.items.get_mut(&ticket)
    }

    /// Queued requests in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Queued> {
        self.items.values()
    }

    /// Tickets in the order a tick considers them. `last_served` maps an owner to
    /// the sequence number of its latest grant (higher = more recent).
    pub(crate) fn order(&self, last_served: &HashMap<String, u64>) -> Vec<TicketId> {
        let mut out = Vec::with_capacity(self.items.len());
        for priority in [
            Priority::Interactive,
            Priority::Normal,
            Priority::Background,
        ] {
            // Owner -> its tickets of this priority in FIFO order.
            let mut owners: Vec<(&str, Vec<TicketId>)> = Vec::new();
            let mut at: HashMap<&str, usize> = HashMap::new();
            for item in self.items.values().filter(|i| i.priority == priority) {
                let slot = *at.entry(item.owner.as_str()).or_insert_with(|| {
                    owners.push((item.owner.as_str(), Vec::new()));
                    owners.len() - 1
                });
                owners[slot].1.push(item.ticket);
            }
            // Never served (None) sorts before served; then least recently; the sort
            // is stable, so ties keep first-queued order.
            owners.sort_by_key(|(owner, _)| last_served.get(*owner).copied());
            let rounds = owners.iter().map(|(_, t)| t.len()).max().unwrap_or(0);
            for round in 0..rounds {
                for (_, tickets) in &owners {
                    if let Some(t) = tickets.get(round) {
                        out.push(*t);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(ticket: u64, owner: &str, priority: Priority, now: Instant) -> Queued {
        Queued {
            ticket: TicketId(ticket),
            owner: owner.into(),
            model: "m".into(),
            priority,
            deadline: None,
            enqueued_at: now,
            waiting_for: String::new(),
        }
    }

    #[test]
    fn order_is_priority_then_owner_turns_then_fifo() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.push(item(1, "a", Priority::Normal, now));
        q.push(item(2, "a", Priority::Normal, now));
        q.push(item(3, "a", Priority::Normal, now));
        q.push(item(4, "b", Priority::Normal, now));
        q.push(item(5, "c", Priority::Background, now));
        q.push(item(6, "c", Priority::Interactive, now));
        let order: Vec<u64> = q.order(&HashMap::new()).iter().map(|t| t.0).collect();
        assert_eq!(order, [6, 1, 4, 2, 3, 5]);

        // "a" was served most recently: "b" goes first.
        let served = HashMap::from([("a".to_owned(), 7)]);
        let order: Vec<u64> = q.order(&served).iter().map(|t| t.0).collect();
        assert_eq!(order, [6, 4, 1, 2, 3, 5]);

        assert_eq!(q.owner_len("a"), 3);
        q.remove(TicketId(2));
        assert_eq!(q.owner_len("a"), 2);
        assert_eq!(q.len(), 5);
    }
}
