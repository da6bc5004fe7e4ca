//! Request streams multiplexed on a runner's socket, with flow control: the runner
//! may have at most one window of unread bytes in flight per stream; the hub grants
//! more as the caller reads.

use super::{Lease, Outgoing, RunnerHub};
use crate::protocol::{ControlMessage, WireError};
use futures::Stream;
use serde_json::Value;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};

/// Why a request through a runner failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The runner's connection ended before the answer was complete. Before any
    /// byte of the answer was read the request can go to another instance.
    #[error("runner {0} disconnected")]
    RunnerGone(String),
    /// The runner answered the stream with an error.
    #[error("runner error {}: {}", .0.code, .0.message)]
    Runner(WireError),
}

impl HubError {
    /// Stable code.
    pub fn code(&self) -> &str {
        match self {
            HubError::RunnerGone(_) => "runner_disconnected",
            HubError::Runner(e) => &e.code,
        }
    }
}

/// The head of an engine's answer.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
}

/// The hub's end of one stream.
#[derive(Debug)]
pub(crate) struct StreamTx {
    pub(crate) head: Option<oneshot::Sender<Result<Head, HubError>>>,
    pub(crate) body: mpsc::UnboundedSender<Result<Vec<u8>, HubError>>,
    /// Bytes the runner may still send before it needs more window.
    pub(crate) credit: u64,
}

impl StreamTx {
    /// Ends the stream with an error (whatever part is waiting sees it).
    pub(crate) fn fail(mut self, err: HubError) {
        if let Some(h) = self.head.take() {
            let _ = h.send(Err(err));
        } else {
            let _ = self.body.send(Err(err));
        }
    }
}

/// An engine's answer, streaming.
#[derive(Debug)]
pub struct RunnerResponse {
    /// HTTP status from the engine.
    pub status: u16,
    /// Content type from the engine.
    pub content_type: Option<String>,
    /// The body.
    pub body: RunnerBody,
}

/// The body of an answer. Holds the slot until dropped; dropping it before the end
/// cancels the request on the runner.
#[derive(Debug)]
pub struct RunnerBody {
    lease: Lease,
    stream: u32,
    generation: u64,
    rx: mpsc::UnboundedReceiver<Result<Vec<u8>, HubError>>,
    unacked: u32,
    window: u32,
    finished: bool,
}

impl RunnerBody {
    /// Whether the whole body has been read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Reads the rest of the body into one buffer.
    pub async fn collect(mut self) -> Result<Vec<u8>, HubError> {
        use futures::StreamExt;
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            out.extend(chunk?);
        }
        Ok(out)
    }
}

impl Stream for RunnerBody {
    type Item = Result<Vec<u8>, HubError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                self.unacked = self
                    .unacked
                    .saturating_add(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
                if self.unacked >= self.window / 2 {
                    let grant = std::mem::take(&mut self.unacked);
                    self.grant(grant);
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl RunnerBody {
    fn grant(&self, bytes: u32) {
        let mut st = self.lease.hub().lock();
        if let Some(conn) = st
            .conns
            .get_mut(self.lease.runner())
            .filter(|c| c.generation == self.generation)
        {
            if let Some(s) = conn.streams.get_mut(&self.stream) {
                s.credit += u64::from(bytes);
                let _ = conn.tx.send(Outgoing::Message(ControlMessage::Window {
                    stream: self.stream,
                    bytes,
                }));
            }
        }
    }
}

impl Drop for RunnerBody {
    fn drop(&mut self) {
        let mut st = self.lease.hub().lock();
        if let Some(conn) = st
            .conns
            .get_mut(self.lease.runner())
            .filter(|c| c.generation == self.generation)
        {
            // Still registered: the runner has not ended it, so the caller left early.
            if conn.streams.remove(&self.stream).is_some() {
                let _ = conn.tx.send(Outgoing::Message(ControlMessage::Cancel {
                    stream: self.stream,
                }));
            }
        }
    }
}

impl RunnerHub {
    /// Sends one request to the lease's instance and waits for the head of the answer.
    /// The lease moves into the answer's body and is held until the body is dropped.
    pub async fn send(
        &self,
        lease: Lease,
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<RunnerResponse, HubError> {
        let (head_tx, head_rx) = oneshot::channel();
        let (body_tx, body_rx) = mpsc::unbounded_channel();
        let window = self.inner.cfg.stream_window;
        let (stream, generation) = {
            let mut st = self.lock();
            let conn = st
                .conns
                .get_mut(lease.runner())
                .ok_or_else(|| HubError::RunnerGone(lease.runner().to_string()))?;
            let stream = next_free_stream(conn);
            conn.streams.insert(
                stream,
                StreamTx {
                    head: Some(head_tx),
                    body: body_tx,
                    credit: u64::from(window),
                },
            );
            let _ = conn.tx.send(Outgoing::Message(ControlMessage::Request {
                stream,
                instance: lease.instance().clone(),
                method: method.to_owned(),
                path: path.to_owned(),
                body,
            }));
            (stream, conn.generation)
        };
        let body = RunnerBody {
            lease,
            stream,
            generation,
            rx: body_rx,
            unacked: 0,
            window,
            finished: false,
        };
        // Dropping `body` on the error paths unregisters the stream and cancels it.
        let head = match head_rx.await {
            Ok(Ok(head)) => head,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(HubError::RunnerGone(body.lease.runner().to_string())),
        };
        Ok(RunnerResponse {
            status: head.status,
            content_type: head.content_type,
            body,
        })
    }
}

fn next_free_stream(conn: &mut super::Conn) -> u32 {
    loop {
        let id = conn.next_stream;
        conn.next_stream = conn.next_stream.checked_add(1).unwrap_or(1);
        if id != 0 && !conn.streams.contains_key(&id) {
            return id;
        }
    }
}
