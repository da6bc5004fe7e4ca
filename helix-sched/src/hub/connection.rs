//! One runner connection: handshake, then frames in both directions until it ends.

use super::stream::{Head, HubError};
use super::{Conn, HubState, Outgoing, RunnerHub};
use crate::protocol::{
    CloseCode, ControlMessage, DataFrame, Frame, Hello, RunnerMessage, WireError, PROTOCOL_VERSION,
};
use crate::scheduler::RunnerReport;
use crate::types::RunnerId;
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::collections::HashMap;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::Instrument;

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// We close with this code and reason.
    Close(CloseCode, String),
    /// The runner closed or the socket failed.
    Gone(String),
}

fn close(code: CloseCode, reason: impl Into<String>) -> End {
    End::Close(code, reason.into())
}

impl RunnerHub {
    /// Serves one runner connection until it ends. `runner_id` is the id the runner's
    /// token is bound to (the host authenticated the upgrade); the runner's `Hello`
    /// must name the same id. Bad frames close the connection with a
    /// [`CloseCode`] and a reason, and are logged.
    pub async fn serve_connection<S, E>(&self, runner_id: RunnerId, socket: S)
    where
        S: Stream<Item = Frame> + Sink<Frame, Error = E> + Send + Unpin,
        E: std::fmt::Display,
    {
        let span = tracing::info_span!("runner_connection", runner = %runner_id);
        self.serve_inner(runner_id, socket).instrument(span).await
    }

    async fn serve_inner<S, E>(&self, runner_id: RunnerId, mut socket: S)
    where
        S: Stream<Item = Frame> + Sink<Frame, Error = E> + Send + Unpin,
        E: std::fmt::Display,
    {
        let hello = match self.handshake(&runner_id, &mut socket).await {
            Ok(h) => h,
            Err(end) => return finish(&mut socket, end).await,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let generation = self.register(&runner_id, hello, tx);
        tracing::info!("runner connected");
        let welcome = ControlMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            heartbeat_interval_ms: u64::try_from(self.inner.cfg.heartbeat_interval.as_millis())
                .unwrap_or(u64::MAX),
            stream_window_bytes: self.inner.cfg.stream_window,
        };
        let end = match socket.send(Frame::Text(welcome.encode())).await {
            Ok(()) => {
                self.pump(&runner_id, generation, &mut socket, &mut rx)
                    .await
            }
            Err(e) => End::Gone(e.to_string()),
        };
        self.unregister(&runner_id, generation);
        finish(&mut socket, end).await;
    }

    async fn handshake<S>(&self, runner_id: &RunnerId, socket: &mut S) -> Result<Hello, End>
    where
        S: Stream<Item = Frame> + Unpin,
    {
        let first = tokio::time::timeout(self.inner.cfg.hello_timeout, socket.next())
            .await
            .map_err(|_| close(CloseCode::Timeout, "no hello in time"))?;
        let text = match first {
            Some(Frame::Text(t)) => t,
            Some(Frame::Close(code, reason)) => {
                return Err(End::Gone(format!("closed before hello: {code} {reason}")))
            }
            None => return Err(End::Gone("closed before hello".into())),
            Some(Frame::Binary(_)) => {
                return Err(close(
                    CloseCode::ProtocolError,
                    "expected hello, got a binary frame",
                ))
            }
        };
        // The version is checked before the rest, so a newer runner learns why.
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("protocol").and_then(serde_json::Value::as_u64));
        if let Some(v) = version.filter(|v| *v != u64::from(PROTOCOL_VERSION)) {
            return Err(close(
                CloseCode::UnsupportedVersion,
                format!("unsupported protocol version {v}; this control plane speaks {PROTOCOL_VERSION}"),
            ));
        }
        let hello = match RunnerMessage::decode(&text) {
            Ok(RunnerMessage::Hello(h)) => h,
            Ok(_) => return Err(close(CloseCode::ProtocolError, "expected hello first")),
            Err(e) => return Err(close(CloseCode::ProtocolError, format!("bad hello: {e}"))),
        };
        if &hello.runner_id != runner_id {
            return Err(close(
                CloseCode::Unauthorized,
                format!(
                    "token is bound to runner {runner_id}, hello names {}",
                    hello.runner_id
                ),
            ));
        }
        Ok(hello)
    }

    /// Makes this connection the runner's current one (closing an older one with
    /// 4009) and tells the scheduler, which adopts the instances it reports.
    fn register(
        &self,
        runner_id: &RunnerId,
        hello: Hello,
        tx: mpsc::UnboundedSender<Outgoing>,
    ) -> u64 {
        let mut st = self.lock();
        let generation = st.next_generation;
        st.next_generation += 1;
        let old = st.conns.insert(
            runner_id.clone(),
            Conn {
                generation,
                tx,
                streams: HashMap::new(),
                next_stream: 1,
            },
        );
        if let Some(old) = old {
            tracing::warn!("a newer connection of this runner takes over");
            let _ = old.tx.send(Outgoing::Close(
                CloseCode::Superseded,
                "a newer connection of this runner took over".into(),
            ));
            fail_streams(old.streams, runner_id);
        }
        let now = Instant::now();
        st.sched.runner_connected(
            now,
            RunnerReport {
                id: runner_id.clone(),
                name: hello.name,
                gpus: hello.gpus,
                offers: hello.models,
                instances: hello.instances,
            },
        );
        st.run_tick(now);
        generation
    }

    fn unregister(&self, runner_id: &RunnerId, generation: u64) {
        let mut st = self.lock();
        if st
            .conns
            .get(runner_id)
            .is_some_and(|c| c.generation == generation)
        {
            if let Some(conn) = st.conns.remove(runner_id) {
                fail_streams(conn.streams, runner_id);
            }
            let now = Instant::now();
            st.sched.runner_disconnected(now, runner_id);
            st.run_tick(now);
            tracing::info!("runner disconnected");
        }
    }

    async fn pump<S, E>(
        &self,
        runner_id: &RunnerId,
        generation: u64,
        socket: &mut S,
        rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    ) -> End
    where
        S: Stream<Item = Frame> + Sink<Frame, Error = E> + Unpin,
        E: std::fmt::Display,
    {
        let idle = self.inner.cfg.idle_timeout;
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(Outgoing::Message(m)) => {
                        if let Err(e) = socket.send(Frame::Text(m.encode())).await {
                            return End::Gone(e.to_string());
                        }
                    }
                    Some(Outgoing::Close(code, reason)) => return End::Close(code, reason),
                    None => return close(CloseCode::GoingAway, "hub dropped"),
                },
                frame = tokio::time::timeout(idle, socket.next()) => {
                    let frame = match frame {
                        Err(_) => return close(CloseCode::Timeout, format!("no message for {} s", idle.as_secs())),
                        Ok(None) => return End::Gone("socket closed".into()),
                        Ok(Some(Frame::Close(code, reason))) => {
                            return End::Gone(format!("runner closed: {code} {reason}"))
                        }
                        Ok(Some(f)) => f,
                    };
                    let handled = {
                        let mut st = self.lock();
                        handle_frame(&mut st, runner_id, generation, frame)
                    };
                    if let Err(reason) = handled {
                        return close(CloseCode::ProtocolError, reason);
                    }
                }
            }
        }
    }
}

/// Applies one frame from the runner. An `Err` is a protocol violation.
fn handle_frame(
    st: &mut HubState,
    runner_id: &RunnerId,
    generation: u64,
    frame: Frame,
) -> Result<(), String> {
    let now = Instant::now();
    let msg = match frame {
        Frame::Binary(bytes) => {
            let data = DataFrame::decode(&bytes).map_err(|e| e.to_string())?;
            let Some(conn) = current(st, runner_id, generation) else {
                return Ok(());
            };
            // A stream the caller already left: the bytes were in flight.
            let Some(s) = conn.streams.get_mut(&data.stream) else {
                return Ok(());
            };
            if s.head.is_some() {
                return Err(format!("data on stream {} before its head", data.stream));
            }
            let len = data.payload.len() as u64;
            if len > s.credit {
                return Err(format!("stream {} exceeded its window", data.stream));
            }
            s.credit -= len;
            let _ = s.body.send(Ok(data.payload));
            return Ok(());
        }
        Frame::Text(text) => RunnerMessage::decode(&text).map_err(|e| e.to_string())?,
        Frame::Close(..) => return Ok(()),
    };
    match msg {
        RunnerMessage::Hello(_) => return Err("hello sent twice".into()),
        RunnerMessage::Heartbeat { gpus, instances } => {
            st.sched.runner_heartbeat(now, runner_id, gpus, instances);
        }
        RunnerMessage::InstanceStatus(status) => {
            tracing::info!(instance = %status.instance, state = status.state.as_str(), message = ?status.message, "instance status");
            st.sched.instance_status(now, runner_id, status);
        }
        RunnerMessage::ResponseHead {
            stream,
            status,
            content_type,
        } => {
            let Some(conn) = current(st, runner_id, generation) else {
                return Ok(());
            };
            if let Some(s) = conn.streams.get_mut(&stream) {
                let head = s
                    .head
                    .take()
                    .ok_or_else(|| format!("second head on stream {stream}"))?;
                let _ = head.send(Ok(Head {
                    status,
                    content_type,
                }));
            }
            return Ok(());
        }
        RunnerMessage::ResponseEnd { stream, error } => {
            let Some(conn) = current(st, runner_id, generation) else {
                return Ok(());
            };
            if let Some(s) = conn.streams.remove(&stream) {
                match error {
                    Some(e) => s.fail(HubError::Runner(e)),
                    None if s.head.is_some() => s.fail(HubError::Runner(WireError {
                        code: "no_response".into(),
                        message: "the runner ended the stream without an answer".into(),
                    })),
                    // Dropping `s` (its sender) ends the body cleanly.
                    None => {}
                }
            }
            return Ok(());
        }
    }
    st.run_tick(now);
    Ok(())
}

fn current<'a>(
    st: &'a mut HubState,
    runner_id: &RunnerId,
    generation: u64,
) -> Option<&'a mut Conn> {
    st.conns
        .get_mut(runner_id)
        .filter(|c| c.generation == generation)
}

fn fail_streams(streams: HashMap<u32, super::stream::StreamTx>, runner_id: &RunnerId) {
    for (_, s) in streams {
        s.fail(HubError::RunnerGone(runner_id.to_string()));
    }
}

async fn finish<S, E>(socket: &mut S, end: End)
where
    S: Sink<Frame, Error = E> + Unpin,
{
    match end {
        End::Close(code, reason) => {
            tracing::warn!(code = code.code(), %reason, "closing runner connection");
            let _ = socket.send(Frame::Close(code.code(), reason)).await;
        }
        End::Gone(why) => tracing::info!(%why, "runner connection ended"),
    }
    let _ = socket.close().await;
}
