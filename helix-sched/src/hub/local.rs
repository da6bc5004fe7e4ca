//! A runner inside the control plane's own process, connected through memory.

use super::RunnerHub;
use crate::runner::agent::{Connected, Connector};
use crate::runner::connect::Duplex;
use crate::types::RunnerId;
use async_trait::async_trait;

/// Connects an in-process runner agent to the hub without a socket or a token: the
/// one-machine setup of `helix serve`. It speaks the same protocol as a remote runner.
#[derive(Debug, Clone)]
pub struct LocalConnector {
    hub: RunnerHub,
    runner_id: RunnerId,
}

impl LocalConnector {
    /// A connector for the runner `runner_id`.
    pub fn new(hub: RunnerHub, runner_id: RunnerId) -> Self {
        Self { hub, runner_id }
    }
}

#[async_trait]
impl Connector for LocalConnector {
    async fn connect(&self) -> Result<Connected, String> {
        let (runner_end, hub_end) = Duplex::pair();
        let hub = self.hub.clone();
        let id = self.runner_id.clone();
        tokio::spawn(async move { hub.serve_connection(id, hub_end).await });
        Ok(Connected {
            transport: Box::pin(runner_end),
            runner_id: Some(self.runner_id.clone()),
        })
    }
}
