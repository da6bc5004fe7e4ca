//! Waiting for a slot, and holding it.

use super::{GrantResult, RunnerHub};
use crate::scheduler::TicketId;
use crate::types::{InstanceId, RunnerId};
use crate::SchedError;
use std::time::Instant;
use tokio::sync::oneshot;

/// A queued request; dropped before its grant, it leaves the queue, and a grant that
/// arrives after the caller went away is handed back at once.
#[derive(Debug)]
pub(crate) struct Pending {
    hub: RunnerHub,
    ticket: TicketId,
    rx: oneshot::Receiver<GrantResult>,
    done: bool,
}

impl Pending {
    pub(crate) fn new(
        hub: RunnerHub,
        ticket: TicketId,
        rx: oneshot::Receiver<GrantResult>,
    ) -> Self {
        Self {
            hub,
            ticket,
            rx,
            done: false,
        }
    }

    pub(crate) async fn wait(&mut self) -> Result<Lease, SchedError> {
        let got = (&mut self.rx).await;
        self.done = true;
        match got {
            Ok(Ok((runner, instance))) => Ok(Lease {
                hub: self.hub.clone(),
                ticket: self.ticket,
                runner,
                instance,
            }),
            Ok(Err(e)) => Err(e),
            // The hub dropped the waiter: it is shutting down.
            Err(_) => Err(SchedError::Shutdown),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut st = self.hub.lock();
        let now = Instant::now();
        if st.waiters.remove(&self.ticket).is_some() {
            st.sched.cancel(now, self.ticket);
        } else if let Ok(Ok(_)) = self.rx.try_recv() {
            // Granted, never taken: give the slot back.
            st.sched.release(now, self.ticket);
        }
        st.run_tick(now);
    }
}

/// A slot on one model instance, held until dropped.
#[derive(Debug)]
pub struct Lease {
    hub: RunnerHub,
    ticket: TicketId,
    runner: RunnerId,
    instance: InstanceId,
}

impl Lease {
    /// The runner that serves it.
    pub fn runner(&self) -> &RunnerId {
        &self.runner
    }

    /// The instance.
    pub fn instance(&self) -> &InstanceId {
        &self.instance
    }

    /// The scheduler's ticket.
    pub fn ticket(&self) -> TicketId {
        self.ticket
    }

    pub(crate) fn hub(&self) -> &RunnerHub {
        &self.hub
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut st = self.hub.lock();
        let now = Instant::now();
        st.sched.release(now, self.ticket);
        // Hand the slot to whoever waits for it now, not at the next tick.
        st.run_tick(now);
    }
}
