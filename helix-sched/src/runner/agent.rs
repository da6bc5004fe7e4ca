//! The runner's side of the protocol: dial out to the control plane, say hello with the
//! GPUs, models and running instances, then start and stop instances and proxy
//! requests to their engines as told, until shut down. A dropped connection is
//! retried with jittered exponential backoff; instances keep running meanwhile and are
//! reported again on reconnect, so the control plane resyncs after its own restart.

use super::gpu::GpuProbe;
use super::instances::InstanceManager;
use crate::protocol::{
    CloseCode, ControlMessage, DataFrame, Frame, Hello, RunnerMessage, WireError, MAX_DATA_PAYLOAD,
    PROTOCOL_VERSION,
};
use crate::types::{InstanceState, InstanceStatus, ModelOffer, RunnerId, RuntimeKind};
use crate::{Result, SchedError};
use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::AbortHandle;

/// A connection to the control plane, as frames.
pub trait Transport: Stream<Item = Frame> + Sink<Frame, Error = String> + Send {}
impl<T: Stream<Item = Frame> + Sink<Frame, Error = String> + Send> Transport for T {}

/// A boxed [`Transport`].
pub type BoxTransport = Pin<Box<dyn Transport>>;

/// A new connection, and the runner id the control plane says the token is bound to
/// (the `x-helix-runner-id` header of the upgrade), when it said.
pub struct Connected {
    /// The connection.
    pub transport: BoxTransport,
    /// The runner id bound to the token.
    pub runner_id: Option<RunnerId>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("runner_id", &self.runner_id)
            .finish_non_exhaustive()
    }
}

/// Opens connections to the control plane: over WebSocket ([`WsConnector`]), or in
/// memory for a runner inside the control plane's own process.
#[async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// One new connection.
    async fn connect(&self) -> std::result::Result<Connected, String>;
}

/// How the agent behaves.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The runner id the token is bound to; when `None`, the id the control plane
    /// names on connect.
    pub runner_id: Option<RunnerId>,
    /// Display name.
    pub name: String,
    /// First reconnect delay; doubles up to `backoff_max`, with full jitter.
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

impl AgentConfig {
    /// Defaults: backoff from 500 ms up to 30 s.
    pub fn new(runner_id: Option<RunnerId>, name: impl Into<String>) -> Self {
        Self {
            runner_id,
            name: name.into(),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// The runner agent.
#[derive(Debug)]
pub struct Agent {
    cfg: AgentConfig,
    gpus: Arc<dyn GpuProbe>,
    offers: Vec<ModelOffer>,
    instances: Arc<InstanceManager>,
}

/// How one session ended.
enum SessionEnd {
    /// Shut down as asked.
    Shutdown,
    /// The control plane closed with a code (ours or not).
    Closed(Option<CloseCode>, String),
    /// The connection broke.
    Broken(String),
}

impl Agent {
    /// An agent serving `offers` (from the model configs) with `instances`.
    pub fn new(
        cfg: AgentConfig,
        gpus: Arc<dyn GpuProbe>,
        offers: Vec<ModelOffer>,
        instances: Arc<InstanceManager>,
    ) -> Self {
        Self {
            cfg,
            gpus,
            offers,
            instances,
        }
    }

    /// Runs until `shutdown` resolves (then stops every instance) or the control
    /// plane refuses the runner for good (wrong token or version, superseded).
    pub async fn run(
        &self,
        connector: &dyn Connector,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<()> {
        let mut shutdown: BoxFuture<'_, ()> = Box::pin(shutdown);
        let mut attempt: u32 = 0;
        let result = loop {
            let end = tokio::select! {
                _ = &mut shutdown => break Ok(()),
                c = connector.connect() => match c {
                    Ok(c) => self.session(c, &mut shutdown, &mut attempt).await,
                    Err(e) => SessionEnd::Broken(format!("cannot connect: {e}")),
                },
            };
            match end {
                SessionEnd::Shutdown => break Ok(()),
                SessionEnd::Closed(Some(code), reason) if !code.should_reconnect() => {
                    tracing::error!(code = code.code(), %reason, "control plane refused this runner");
                    break Err(SchedError::Refused {
                        code: code.code(),
                        reason,
                    });
                }
                SessionEnd::Closed(_, why) | SessionEnd::Broken(why) => {
                    let delay = backoff(&self.cfg, attempt);
                    attempt = attempt.saturating_add(1);
                    tracing::warn!(%why, retry_in_ms = delay.as_millis() as u64, "disconnected from control plane");
                    tokio::select! {
                        _ = &mut shutdown => break Ok(()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        };
        self.instances.stop_all().await;
        result
    }

    async fn hello(&self, told: Option<RunnerId>) -> Result<Hello> {
        let runner_id =
            self.cfg
                .runner_id
                .clone()
                .or(told)
                .ok_or_else(|| SchedError::InvalidConfig {
                    what: "runner id".into(),
                    reason: "none configured and the control plane named none".into(),
                })?;
        Ok(Hello {
            protocol: PROTOCOL_VERSION,
            runner_id,
            name: self.cfg.name.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            runtimes: self.runtimes(),
            gpus: self.gpus.probe()?,
            models: self.offers.clone(),
            instances: self.instances.list(),
        })
    }

    fn runtimes(&self) -> Vec<RuntimeKind> {
        let mut kinds: Vec<_> = self.offers.iter().map(|o| o.runtime).collect();
        kinds.dedup();
        kinds
    }

    async fn session(
        &self,
        connected: Connected,
        shutdown: &mut BoxFuture<'_, ()>,
        attempt: &mut u32,
    ) -> SessionEnd {
        let mut t = connected.transport;
        let hello = match self.hello(connected.runner_id).await {
            Ok(h) => h,
            Err(e) => return SessionEnd::Broken(format!("cannot describe this runner: {e}")),
        };
        if let Err(e) = t
            .send(Frame::Text(RunnerMessage::Hello(hello).encode()))
            .await
        {
            return SessionEnd::Broken(e);
        }
        let (heartbeat, window) =
            match tokio::time::timeout(Duration::from_secs(15), t.next()).await {
                Err(_) => return SessionEnd::Broken("no welcome in time".into()),
                Ok(None) => return SessionEnd::Broken("closed before welcome".into()),
                Ok(Some(Frame::Close(code, reason))) => {
                    return SessionEnd::Closed(CloseCode::from_code(code), reason)
                }
                Ok(Some(Frame::Text(text))) => match ControlMessage::decode(&text) {
                    Ok(ControlMessage::Welcome {
                        heartbeat_interval_ms,
                        stream_window_bytes,
                        ..
                    }) => (
                        Duration::from_millis(heartbeat_interval_ms.max(100)),
                        stream_window_bytes,
                    ),
                    _ => return SessionEnd::Broken("expected welcome".into()),
                },
                Ok(Some(Frame::Binary(_))) => return SessionEnd::Broken("expected welcome".into()),
            };
        *attempt = 0;
        tracing::info!("connected to control plane");
        let mut session = Session::new(self, window);
        let end = session.pump(&mut t, heartbeat, shutdown).await;
        session.abort_all();
        if matches!(end, SessionEnd::Shutdown) {
            let _ = t
                .send(Frame::Close(1000, "runner shutting down".into()))
                .await;
        }
        let _ = t.close().await;
        end
    }
}

/// Full-jitter exponential backoff.
fn backoff(cfg: &AgentConfig, attempt: u32) -> Duration {
    let cap = cfg
        .backoff_base
        .saturating_mul(1u32 << attempt.min(16))
        .min(cfg.backoff_max);
    let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(rand::random::<u64>() % ms + 1)
}

/// Per-connection state: the request streams in flight.
struct Session<'a> {
    agent: &'a Agent,
    out_tx: mpsc::UnboundedSender<Frame>,
    out_rx: mpsc::UnboundedReceiver<Frame>,
    done_tx: mpsc::UnboundedSender<u32>,
    done_rx: mpsc::UnboundedReceiver<u32>,
    streams: HashMap<u32, (AbortHandle, Arc<Semaphore>)>,
    /// Initial flow-control window per stream, from `Welcome`.
    window: u32,
}

impl<'a> Session<'a> {
    fn new(agent: &'a Agent, window: u32) -> Self {
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            agent,
            out_tx,
            out_rx,
            done_tx,
            done_rx,
            streams: HashMap::new(),
            window,
        }
    }

    fn abort_all(&mut self) {
        for (_, (task, _)) in self.streams.drain() {
            task.abort();
        }
    }

    async fn pump(
        &mut self,
        t: &mut BoxTransport,
        heartbeat: Duration,
        shutdown: &mut BoxFuture<'_, ()>,
    ) -> SessionEnd {
        let mut beat = tokio::time::interval(heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut statuses = self.agent.instances.subscribe();
        loop {
            tokio::select! {
                _ = &mut *shutdown => return SessionEnd::Shutdown,
                _ = beat.tick() => {
                    let gpus = match self.agent.gpus.probe() {
                        Ok(g) => g,
                        Err(e) => {
                            tracing::warn!(error = %e, "gpu probe failed");
                            Vec::new()
                        }
                    };
                    let msg = RunnerMessage::Heartbeat { gpus, instances: self.agent.instances.list() };
                    if let Err(e) = t.send(Frame::Text(msg.encode())).await {
                        return SessionEnd::Broken(e);
                    }
                }
                status = statuses.recv() => match status {
                    Ok(status) => {
                        if let Err(e) = t.send(Frame::Text(RunnerMessage::InstanceStatus(status).encode())).await {
                            return SessionEnd::Broken(e);
                        }
                    }
                    // Missed updates: the next heartbeat carries every state.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "instance updates lagged");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        statuses = self.agent.instances.subscribe();
                    }
                },
                Some(frame) = self.out_rx.recv() => {
                    if let Err(e) = t.send(frame).await {
                        return SessionEnd::Broken(e);
                    }
                }
                Some(stream) = self.done_rx.recv() => {
                    self.streams.remove(&stream);
                }
                frame = t.next() => match frame {
                    None => return SessionEnd::Broken("connection closed".into()),
                    Some(Frame::Close(code, reason)) => {
                        return SessionEnd::Closed(CloseCode::from_code(code), reason)
                    }
                    Some(Frame::Binary(_)) => {
                        return SessionEnd::Broken("unexpected binary frame from control plane".into())
                    }
                    Some(Frame::Text(text)) => match ControlMessage::decode(&text) {
                        Ok(msg) => self.handle(msg),
                        Err(e) => {
                            tracing::warn!(error = %e, "bad message from control plane");
                            let _ = t.send(Frame::Close(CloseCode::ProtocolError.code(), e.to_string())).await;
                            return SessionEnd::Broken(format!("bad message: {e}"));
                        }
                    },
                },
            }
        }
    }

    fn handle(&mut self, msg: ControlMessage) {
        match msg {
            ControlMessage::StartInstance(spec) => {
                let instances = self.agent.instances.clone();
                let out = self.out_tx.clone();
                tokio::spawn(async move {
                    let id = spec.instance.clone();
                    let (model, gpus) = (spec.model.clone(), spec.gpus.clone());
                    if let Err(e) = instances.start(spec) {
                        tracing::warn!(instance = %id, error = %e, "cannot start instance");
                        let status = InstanceStatus {
                            instance: id,
                            model,
                            gpus,
                            state: InstanceState::Failed,
                            message: Some(e.to_string()),
                        };
                        let _ =
                            out.send(Frame::Text(RunnerMessage::InstanceStatus(status).encode()));
                    }
                });
            }
            ControlMessage::StopInstance { instance } => {
                let instances = self.agent.instances.clone();
                tokio::spawn(async move {
                    if let Err(e) = instances.stop(&instance).await {
                        tracing::warn!(%instance, error = %e, "cannot stop instance");
                    }
                });
            }
            ControlMessage::Request {
                stream,
                instance,
                method,
                path,
                body,
            } => {
                let window = Arc::new(Semaphore::new(self.window as usize));
                let job = RequestJob {
                    stream,
                    out: self.out_tx.clone(),
                    window: window.clone(),
                    instances: self.agent.instances.clone(),
                };
                let done = self.done_tx.clone();
                let task = tokio::spawn(async move {
                    job.run(instance, method, path, body).await;
                    let _ = done.send(stream);
                });
                self.streams.insert(stream, (task.abort_handle(), window));
            }
            ControlMessage::Cancel { stream } => {
                if let Some((task, _)) = self.streams.remove(&stream) {
                    task.abort();
                }
            }
            ControlMessage::Window { stream, bytes } => {
                if let Some((_, window)) = self.streams.get(&stream) {
                    window.add_permits(bytes as usize);
                }
            }
            ControlMessage::Welcome { .. } => tracing::warn!("second welcome ignored"),
        }
    }
}

/// One proxied request.
struct RequestJob {
    stream: u32,
    out: mpsc::UnboundedSender<Frame>,
    window: Arc<Semaphore>,
    instances: Arc<InstanceManager>,
}

impl RequestJob {
    fn send(&self, msg: RunnerMessage) {
        let _ = self.out.send(Frame::Text(msg.encode()));
    }

    fn end(&self, error: Option<(&str, String)>) {
        self.send(RunnerMessage::ResponseEnd {
            stream: self.stream,
            error: error.map(|(code, message)| WireError {
                code: code.into(),
                message,
            }),
        });
    }

    async fn run(
        self,
        instance: crate::types::InstanceId,
        method: String,
        path: String,
        body: serde_json::Value,
    ) {
        let stream = self.stream;
        let method = match reqwest::Method::from_bytes(method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return self.end(Some(("bad_method", format!("bad method {method:?}")))),
        };
        let body = if body.is_null() {
            bytes::Bytes::new()
        } else {
            bytes::Bytes::from(body.to_string())
        };
        let resp = match self.instances.forward(&instance, method, &path, body).await {
            Ok(r) => r,
            Err(e) => return self.end(Some((e.code(), e.to_string()))),
        };
        self.send(RunnerMessage::ResponseHead {
            stream,
            status: resp.status,
            content_type: resp.content_type.clone(),
        });
        let mut body = resp.body;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => return self.end(Some(("engine_stream_failed", e.to_string()))),
            };
            for piece in chunk.chunks(MAX_DATA_PAYLOAD) {
                let need = u32::try_from(piece.len()).unwrap_or(u32::MAX);
                match self.window.acquire_many(need).await {
                    Ok(p) => p.forget(),
                    Err(_) => return,
                }
                let frame = DataFrame {
                    stream,
                    payload: piece.to_vec(),
                };
                let _ = self.out.send(Frame::Binary(frame.encode()));
            }
        }
        self.end(None);
    }
}
