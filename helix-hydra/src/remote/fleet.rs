//! The control plane's side: [`SandboxFleet`] is one [`SandboxRuntime`] over the
//! in-process host (if any) and every connected sandbox host. `create` places a sandbox
//! on the host with the most free capacity; every other call goes to the host that runs
//! the sandbox.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::StreamExt;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, RwLock};

use super::protocol::{CallResult, ControlMessage, HostMessage, Op, RemoteError, PROTOCOL_VERSION};
use crate::sandbox::{
    ExecEvent, ExecSpec, ExecStream, FileEntry, LogStream, SandboxId, SandboxInfo, SandboxRuntime,
    SandboxSpec,
};
use crate::{HydraError, Result};

const LOCAL: &str = "local";
const HELLO_TIMEOUT: Duration = Duration::from_secs(15);
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

enum Pending {
    Call(oneshot::Sender<CallResult>),
    Stream {
        reply: Option<oneshot::Sender<CallResult>>,
        events: mpsc::Sender<Result<ExecEvent>>,
    },
}

struct RemoteHost {
    id: String,
    generation: u64,
    tx: mpsc::Sender<String>,
    next: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    max: usize,
    running: AtomicUsize,
    connected_at: DateTime<Utc>,
}

impl std::fmt::Debug for RemoteHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteHost")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn remote_err(e: RemoteError) -> HydraError {
    HydraError::remote(&e.code, e.message)
}

impl RemoteHost {
    fn unavailable(&self) -> HydraError {
        HydraError::HostUnavailable {
            host: self.id.clone(),
        }
    }

    fn send(&self, msg: &ControlMessage) -> Result<()> {
        let text = serde_json::to_string(msg).expect("control messages serialise");
        self.tx.try_send(text).map_err(|_| self.unavailable())
    }

    async fn call(&self, op: Op) -> Result<serde_json::Value> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending lock")
            .insert(id, Pending::Call(tx));
        if let Err(e) = self.send(&ControlMessage::Call { id, op }) {
            self.pending.lock().expect("pending lock").remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(CallResult::Ok { value })) => Ok(value),
            Ok(Ok(CallResult::Err { error })) => Err(remote_err(error)),
            Ok(Err(_)) => Err(self.unavailable()),
            Err(_) => {
                self.pending.lock().expect("pending lock").remove(&id);
                Err(self.unavailable())
            }
        }
    }

    async fn stream(self: &Arc<Self>, op: Op) -> Result<ExecStream> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (reply_tx, reply_rx) = oneshot::channel();
        let (events_tx, events_rx) = mpsc::channel(64);
        self.pending.lock().expect("pending lock").insert(
            id,
            Pending::Stream {
                reply: Some(reply_tx),
                events: events_tx,
            },
        );
        if let Err(e) = self.send(&ControlMessage::Call { id, op }) {
            self.pending.lock().expect("pending lock").remove(&id);
            return Err(e);
        }
        // From here, dropping this future or the stream cancels the call on the host.
        let guard = CancelOnDrop {
            host: self.clone(),
            id,
        };
        match tokio::time::timeout(CALL_TIMEOUT, reply_rx).await {
            Ok(Ok(CallResult::Ok { .. })) => {}
            Ok(Ok(CallResult::Err { error })) => return Err(remote_err(error)),
            _ => return Err(self.unavailable()),
        }

        let events = futures::stream::unfold((events_rx, guard), |(mut rx, guard)| async move {
            rx.recv().await.map(|ev| (ev, (rx, guard)))
        });
        Ok(events.boxed())
    }

    async fn dispatch(&self, msg: HostMessage) {
        match msg {
            HostMessage::Reply { id, result } => {
                let mut pending = self.pending.lock().expect("pending lock");
                match pending.remove(&id) {
                    Some(Pending::Call(tx)) => {
                        let _ = tx.send(result);
                    }
                    Some(Pending::Stream { reply, events }) => {
                        if let Some(tx) = reply {
                            let _ = tx.send(result);
                        }
                        pending.insert(
                            id,
                            Pending::Stream {
                                reply: None,
                                events,
                            },
                        );
                    }
                    None => {}
                }
            }
            HostMessage::Event { id, event } => {
                let events = match self.pending.lock().expect("pending lock").get(&id) {
                    Some(Pending::Stream { events, .. }) => Some(events.clone()),
                    _ => None,
                };
                if let Some(events) = events {
                    // Back-pressure: a slow reader slows this host's link (no flow
                    // control per stream yet); output is never dropped or reordered.
                    let _ = events.send(Ok(event)).await;
                }
            }
            HostMessage::End { id, error } => {
                if let Some(Pending::Stream { events, .. }) =
                    self.pending.lock().expect("pending lock").remove(&id)
                {
                    if let Some(e) = error {
                        let _ = events.try_send(Err(remote_err(e)));
                    }
                }
            }
            HostMessage::Load { running } => self.running.store(running, Ordering::Relaxed),
            HostMessage::Hello { .. } => {}
        }
    }

    fn fail_all(&self) {
        let pending: Vec<Pending> = self
            .pending
            .lock()
            .expect("pending lock")
            .drain()
            .map(|(_, p)| p)
            .collect();
        for p in pending {
            match p {
                Pending::Call(tx) => {
                    let _ = tx.send(CallResult::Err {
                        error: RemoteError::from_error(&self.unavailable()),
                    });
                }
                Pending::Stream { reply, events } => {
                    if let Some(tx) = reply {
                        let _ = tx.send(CallResult::Err {
                            error: RemoteError::from_error(&self.unavailable()),
                        });
                    }
                    let _ = events.try_send(Err(self.unavailable()));
                }
            }
        }
    }
}

struct CancelOnDrop {
    host: Arc<RemoteHost>,
    id: u64,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self
            .host
            .pending
            .lock()
            .expect("pending lock")
            .remove(&self.id)
            .is_some()
        {
            let _ = self.host.send(&ControlMessage::Cancel { id: self.id });
        }
    }
}

struct Registered {
    inner: Arc<FleetInner>,
    host: Arc<RemoteHost>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.host.fail_all();
        let mut hosts = self.inner.hosts.write().expect("hosts lock");
        if hosts
            .get(&self.host.id)
            .is_some_and(|h| h.generation == self.host.generation)
        {
            hosts.remove(&self.host.id);
        }
    }
}

/// A host as site admins see it (`GET /api/v1/sandbox-hosts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostStatus {
    /// `local` for the in-process host, else the node id of its token.
    pub id: String,
    /// Most sandboxes it takes.
    pub max_sandboxes: usize,
    /// Sandboxes it runs.
    pub running: usize,
    /// When it connected (`None` for the in-process host).
    pub connected_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct FleetInner {
    local: Option<(Arc<dyn SandboxRuntime>, usize)>,
    hosts: std::sync::RwLock<HashMap<String, Arc<RemoteHost>>>,
    placement: RwLock<HashMap<SandboxId, String>>,
    generation: AtomicU64,
}

/// Every sandbox host of a control plane, as one runtime.
#[derive(Clone, Default)]
pub struct SandboxFleet {
    inner: Arc<FleetInner>,
}

impl std::fmt::Debug for SandboxFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxFleet").finish_non_exhaustive()
    }
}

enum Target {
    Local(Arc<dyn SandboxRuntime>),
    Remote(Arc<RemoteHost>),
}

impl SandboxFleet {
    /// A fleet with an in-process host taking up to `max` sandboxes, or none.
    pub fn new(local: Option<(Arc<dyn SandboxRuntime>, usize)>) -> Self {
        SandboxFleet {
            inner: Arc::new(FleetInner {
                local,
                ..Default::default()
            }),
        }
    }

    /// The hosts and their load.
    pub async fn hosts(&self) -> Vec<HostStatus> {
        let mut out = Vec::new();
        if let Some((rt, max)) = &self.inner.local {
            out.push(HostStatus {
                id: LOCAL.into(),
                max_sandboxes: *max,
                running: rt.list().await.map(|l| l.len()).unwrap_or(0),
                connected_at: None,
            });
        }
        let hosts: Vec<Arc<RemoteHost>> = self
            .inner
            .hosts
            .read()
            .expect("hosts lock")
            .values()
            .cloned()
            .collect();
        for h in hosts {
            out.push(HostStatus {
                id: h.id.clone(),
                max_sandboxes: h.max,
                running: h.running.load(Ordering::Relaxed),
                connected_at: Some(h.connected_at),
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Serves one sandbox host's connection until it ends. `rx` yields the host's text
    /// messages, `tx` takes the control plane's. Returns why it ended.
    pub async fn serve_host(
        &self,
        host_id: String,
        mut rx: mpsc::Receiver<String>,
        tx: mpsc::Sender<String>,
    ) -> String {
        if host_id == LOCAL {
            return "the id `local` is reserved for the in-process host".into();
        }
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, rx.recv()).await {
            Ok(Some(text)) => serde_json::from_str::<HostMessage>(&text),
            _ => return "no hello".into(),
        };
        let (max, sandboxes) = match hello {
            Ok(HostMessage::Hello {
                version,
                max_sandboxes,
                sandboxes,
            }) if version == PROTOCOL_VERSION => (max_sandboxes, sandboxes),
            Ok(HostMessage::Hello { version, .. }) => {
                return format!("protocol version {version} is not {PROTOCOL_VERSION}")
            }
            _ => return "the first message must be a hello".into(),
        };
        let welcome = ControlMessage::Welcome {
            host_id: host_id.clone(),
        };
        if tx
            .send(serde_json::to_string(&welcome).expect("serialises"))
            .await
            .is_err()
        {
            return "closed".into();
        }
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed);
        let host = Arc::new(RemoteHost {
            id: host_id.clone(),
            generation,
            tx,
            next: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            max,
            running: AtomicUsize::new(sandboxes.len()),
            connected_at: Utc::now(),
        });
        if let Some(old) = self
            .inner
            .hosts
            .write()
            .expect("hosts lock")
            .insert(host_id.clone(), host.clone())
        {
            // A newer connection of the same host supersedes the old one.
            old.fail_all();
        }
        {
            let mut placement = self.inner.placement.write().await;
            placement.retain(|_, h| h != &host_id);
            for s in &sandboxes {
                // A host cannot claim a sandbox that runs elsewhere.
                placement
                    .entry(s.id.clone())
                    .or_insert_with(|| host_id.clone());
            }
        }
        tracing::info!(host = %host_id, max, running = sandboxes.len(), "sandbox host connected");
        // Unregisters the host however this ends, even if this future is dropped.
        let _registered = Registered {
            inner: self.inner.clone(),
            host: host.clone(),
        };
        let reason = loop {
            let Some(text) = rx.recv().await else {
                break "closed".to_owned();
            };
            match serde_json::from_str::<HostMessage>(&text) {
                Ok(msg) => host.dispatch(msg).await,
                Err(e) => break format!("malformed host message: {e}"),
            }
        };
        tracing::info!(host = %host_id, reason, "sandbox host disconnected");
        reason
    }

    async fn target_of(&self, id: &SandboxId) -> Result<Target> {
        let placed = self.inner.placement.read().await.get(id).cloned();
        match placed.as_deref() {
            Some(LOCAL) | None => match &self.inner.local {
                Some((rt, _)) => Ok(Target::Local(rt.clone())),
                None => Err(HydraError::SandboxNotFound { id: id.to_string() }),
            },
            Some(host) => self
                .inner
                .hosts
                .read()
                .expect("hosts lock")
                .get(host)
                .cloned()
                .map(Target::Remote)
                .ok_or_else(|| HydraError::HostUnavailable {
                    host: host.to_owned(),
                }),
        }
    }

    async fn forget_if_gone<T>(&self, id: &SandboxId, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if e.code() == "sandbox_not_found" {
                self.inner.placement.write().await.remove(id);
            }
        }
        r
    }
}

fn from_value<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| HydraError::remote("remote_error", format!("bad reply: {e}")))
}

#[async_trait]
impl SandboxRuntime for SandboxFleet {
    async fn create(&self, spec: SandboxSpec) -> Result<SandboxInfo> {
        spec.validate()?;
        // The host with the most free places; the in-process host wins ties.
        let mut best: Option<(usize, Target)> = None;
        if let Some((rt, max)) = &self.inner.local {
            let running = rt.list().await.map(|l| l.len()).unwrap_or(*max);
            best = Some((max.saturating_sub(running), Target::Local(rt.clone())));
        }
        for h in self.inner.hosts.read().expect("hosts lock").values() {
            let free = h.max.saturating_sub(h.running.load(Ordering::Relaxed));
            if best.as_ref().is_none_or(|(f, _)| free > *f) {
                best = Some((free, Target::Remote(h.clone())));
            }
        }
        match best {
            None => Err(HydraError::AtCapacity {
                reason: "no sandbox host is connected".into(),
            }),
            Some((0, _)) => Err(HydraError::AtCapacity {
                reason: "every sandbox host is full".into(),
            }),
            Some((_, Target::Local(rt))) => {
                let info = rt.create(spec).await?;
                self.inner
                    .placement
                    .write()
                    .await
                    .insert(info.id.clone(), LOCAL.into());
                Ok(info)
            }
            Some((_, Target::Remote(h))) => {
                // Count it now, so concurrent creates spread out before the host reports.
                h.running.fetch_add(1, Ordering::Relaxed);
                // To the end even if the caller goes away: the sandbox is recorded where
                // it runs, so it can be listed, used and killed.
                let inner = self.inner.clone();
                let task = tokio::spawn(async move {
                    let info: SandboxInfo = match h.call(Op::Create { spec }).await {
                        Ok(v) => from_value(v)?,
                        Err(e) => {
                            h.running.fetch_sub(1, Ordering::Relaxed);
                            return Err(e);
                        }
                    };
                    inner
                        .placement
                        .write()
                        .await
                        .insert(info.id.clone(), h.id.clone());
                    Ok(info)
                });
                task.await.map_err(|e| HydraError::Engine {
                    message: format!("create task failed: {e}"),
                })?
            }
        }
    }

    async fn get(&self, id: &SandboxId) -> Result<SandboxInfo> {
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.get(id).await,
            Target::Remote(h) => h
                .call(Op::Get {
                    sandbox: id.to_string(),
                })
                .await
                .and_then(from_value),
        };
        self.forget_if_gone(id, r).await
    }

    async fn list(&self) -> Result<Vec<SandboxInfo>> {
        let mut all = match &self.inner.local {
            Some((rt, _)) => rt.list().await?,
            None => Vec::new(),
        };
        let hosts: Vec<Arc<RemoteHost>> = self
            .inner
            .hosts
            .read()
            .expect("hosts lock")
            .values()
            .cloned()
            .collect();
        for h in hosts {
            // A host that does not answer is left out rather than failing the list.
            match h
                .call(Op::List)
                .await
                .and_then(from_value::<Vec<SandboxInfo>>)
            {
                Ok(list) => all.extend(list),
                Err(e) => {
                    tracing::warn!(host = %h.id, error = %e, "cannot list a host's sandboxes")
                }
            }
        }
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn exec(&self, id: &SandboxId, spec: ExecSpec) -> Result<ExecStream> {
        spec.validate()?;
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.exec(id, spec).await,
            Target::Remote(h) => {
                h.stream(Op::Exec {
                    sandbox: id.to_string(),
                    spec,
                })
                .await
            }
        };
        self.forget_if_gone(id, r).await
    }

    async fn write_file(&self, id: &SandboxId, path: &str, data: Bytes) -> Result<()> {
        crate::paths::sandbox_path(path)?;
        if data.len() as u64 > super::protocol::MAX_FILE {
            // Through a remote host a file must fit in one message.
            if let Target::Remote(_) = self.target_of(id).await? {
                return Err(HydraError::TooLarge {
                    what: "upload through a remote host",
                    size: data.len() as u64,
                    limit: super::protocol::MAX_FILE,
                });
            }
        }
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.write_file(id, path, data).await,
            Target::Remote(h) => {
                let op = Op::WriteFile {
                    sandbox: id.to_string(),
                    path: path.to_owned(),
                    data: base64::engine::general_purpose::STANDARD.encode(&data),
                };
                h.call(op).await.map(drop)
            }
        };
        self.forget_if_gone(id, r).await
    }

    async fn read_file(&self, id: &SandboxId, path: &str) -> Result<Bytes> {
        crate::paths::sandbox_path(path)?;
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.read_file(id, path).await,
            Target::Remote(h) => {
                let v = h
                    .call(Op::ReadFile {
                        sandbox: id.to_string(),
                        path: path.to_owned(),
                    })
                    .await?;
                let b64 = v.get("data").and_then(|d| d.as_str()).unwrap_or("");
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map(Bytes::from)
                    .map_err(|e| HydraError::remote("remote_error", format!("bad file data: {e}")))
            }
        };
        self.forget_if_gone(id, r).await
    }

    async fn list_dir(&self, id: &SandboxId, path: &str) -> Result<Vec<FileEntry>> {
        crate::paths::sandbox_path(path)?;
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.list_dir(id, path).await,
            Target::Remote(h) => h
                .call(Op::ListDir {
                    sandbox: id.to_string(),
                    path: path.to_owned(),
                })
                .await
                .and_then(from_value),
        };
        self.forget_if_gone(id, r).await
    }

    async fn port_target(&self, id: &SandboxId, port: u16) -> Result<SocketAddr> {
        match self.target_of(id).await? {
            Target::Local(rt) => rt.port_target(id, port).await,
            Target::Remote(h) => {
                // Fail as not-found for ids the host does not know, like everywhere else.
                self.forget_if_gone(
                    id,
                    h.call(Op::Get {
                        sandbox: id.to_string(),
                    })
                    .await,
                )
                .await?;
                Err(HydraError::Unsupported {
                    what: "reaching the ports of a sandbox on a remote host".into(),
                })
            }
        }
    }

    async fn http(
        &self,
        id: &SandboxId,
        port: u16,
        request: crate::relay::HttpExchange,
    ) -> Result<crate::relay::HttpAnswer> {
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.http(id, port, request).await,
            Target::Remote(h) => h
                .call(Op::Http {
                    sandbox: id.to_string(),
                    port,
                    request,
                })
                .await
                .and_then(from_value),
        };
        self.forget_if_gone(id, r).await
    }

    async fn logs(&self, id: &SandboxId, follow: bool) -> Result<LogStream> {
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.logs(id, follow).await,
            Target::Remote(h) => {
                h.stream(Op::Logs {
                    sandbox: id.to_string(),
                    follow,
                })
                .await
            }
        };
        self.forget_if_gone(id, r).await
    }

    async fn set_timeout(&self, id: &SandboxId, timeout: Duration) -> Result<SandboxInfo> {
        crate::sandbox::check_timeout(timeout)?;
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.set_timeout(id, timeout).await,
            Target::Remote(h) => h
                .call(Op::SetTimeout {
                    sandbox: id.to_string(),
                    seconds: timeout.as_secs_f64(),
                })
                .await
                .and_then(from_value),
        };
        self.forget_if_gone(id, r).await
    }

    async fn kill(&self, id: &SandboxId) -> Result<()> {
        let r = match self.target_of(id).await? {
            Target::Local(rt) => rt.kill(id).await,
            Target::Remote(h) => h
                .call(Op::Kill {
                    sandbox: id.to_string(),
                })
                .await
                .map(drop),
        };
        let r = self.forget_if_gone(id, r).await;
        if r.is_ok() {
            self.inner.placement.write().await.remove(id);
        }
        r
    }
}
