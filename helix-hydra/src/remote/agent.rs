//! The sandbox host's side of the link: answers the control plane's calls with a local
//! [`SandboxRuntime`] (the Docker host). Transport-free: text messages in, text out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::protocol::{CallResult, ControlMessage, HostMessage, Op, RemoteError, PROTOCOL_VERSION};
use crate::sandbox::{SandboxId, SandboxRuntime};
use crate::{HydraError, Result};

const WELCOME_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEnd {
    /// The control plane closed it or the transport failed: reconnect.
    Closed(String),
    /// The control plane broke the protocol or refused the host: reconnecting will not
    /// help without a change.
    Refused(String),
}

fn send(tx: &mpsc::Sender<String>, msg: &HostMessage) -> bool {
    let text = serde_json::to_string(msg).expect("host messages serialise");
    tx.try_send(text).is_ok()
}

async fn send_wait(tx: &mpsc::Sender<String>, msg: &HostMessage) -> bool {
    let text = serde_json::to_string(msg).expect("host messages serialise");
    tx.send(text).await.is_ok()
}

/// Serves one connection until it ends: sends the hello, waits for the welcome, then
/// runs every call (each in its own task; streamed calls can be cancelled).
pub async fn serve_link(
    runtime: Arc<dyn SandboxRuntime>,
    max_sandboxes: usize,
    mut rx: mpsc::Receiver<String>,
    tx: mpsc::Sender<String>,
) -> LinkEnd {
    let sandboxes = runtime.list().await.unwrap_or_default();
    let hello = HostMessage::Hello {
        version: PROTOCOL_VERSION,
        max_sandboxes,
        sandboxes,
    };
    if !send_wait(&tx, &hello).await {
        return LinkEnd::Closed("transport closed before hello".into());
    }
    match tokio::time::timeout(WELCOME_TIMEOUT, rx.recv()).await {
        Ok(Some(text)) => match serde_json::from_str::<ControlMessage>(&text) {
            Ok(ControlMessage::Welcome { host_id }) => {
                tracing::info!(host_id, "sandbox host connected to the control plane")
            }
            _ => return LinkEnd::Refused(format!("expected welcome, got {text:.200}")),
        },
        Ok(None) => return LinkEnd::Closed("closed before welcome".into()),
        Err(_) => return LinkEnd::Closed("no welcome in time".into()),
    }
    let streams: Arc<Mutex<HashMap<u64, AbortHandle>>> = Arc::default();
    while let Some(text) = rx.recv().await {
        let msg = match serde_json::from_str::<ControlMessage>(&text) {
            Ok(m) => m,
            Err(e) => return LinkEnd::Refused(format!("malformed control message: {e}")),
        };
        match msg {
            ControlMessage::Welcome { .. } => {}
            ControlMessage::Cancel { id } => {
                if let Some(h) = streams.lock().expect("streams lock").remove(&id) {
                    h.abort();
                }
            }
            ControlMessage::Call { id, op } => {
                let (runtime, tx2, streams2) = (runtime.clone(), tx.clone(), streams.clone());
                // Registered before it runs, so its own removal always finds it.
                let (go, ready) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(async move {
                    let _ = ready.await;
                    run_call(&*runtime, max_sandboxes, id, op, &tx2).await;
                    streams2.lock().expect("streams lock").remove(&id);
                });
                streams
                    .lock()
                    .expect("streams lock")
                    .insert(id, task.abort_handle());
                let _ = go.send(());
            }
        }
    }
    for (_, h) in streams.lock().expect("streams lock").drain() {
        h.abort();
    }
    LinkEnd::Closed("control plane closed the link".into())
}

fn sandbox(id: &str) -> Result<SandboxId> {
    SandboxId::parse(id)
}

fn ok(value: serde_json::Value) -> CallResult {
    CallResult::Ok { value }
}

fn err(e: &HydraError) -> CallResult {
    CallResult::Err {
        error: RemoteError::from_error(e),
    }
}

fn to_value<T: serde::Serialize>(v: Result<T>) -> CallResult {
    match v {
        Ok(v) => ok(serde_json::to_value(v).expect("values serialise")),
        Err(e) => err(&e),
    }
}

async fn run_call(
    runtime: &dyn SandboxRuntime,
    _max: usize,
    id: u64,
    op: Op,
    tx: &mpsc::Sender<String>,
) {
    let reply = |result: CallResult| HostMessage::Reply { id, result };
    let result = match op {
        Op::Create { spec } => {
            let r = to_value(runtime.create(spec).await);
            report_load(runtime, tx).await;
            r
        }
        Op::List => to_value(runtime.list().await),
        Op::Get { sandbox: s } => to_value(async { runtime.get(&sandbox(&s)?).await }.await),
        Op::WriteFile {
            sandbox: s,
            path,
            data,
        } => {
            let r = async {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| HydraError::invalid(format!("file data is not base64: {e}")))?;
                runtime.write_file(&sandbox(&s)?, &path, bytes.into()).await
            }
            .await;
            to_value(r)
        }
        Op::ReadFile { sandbox: s, path } => {
            let r = async {
                let data = runtime.read_file(&sandbox(&s)?, &path).await?;
                if data.len() as u64 > super::protocol::MAX_FILE {
                    return Err(HydraError::TooLarge {
                        what: "file read through a remote host",
                        size: data.len() as u64,
                        limit: super::protocol::MAX_FILE,
                    });
                }
                Ok(data)
            }
            .await;
            to_value(r.map(|b| {
                serde_json::json!({"data": base64::engine::general_purpose::STANDARD.encode(b)})
            }))
        }
        Op::ListDir { sandbox: s, path } => {
            to_value(async { runtime.list_dir(&sandbox(&s)?, &path).await }.await)
        }
        Op::SetTimeout {
            sandbox: s,
            seconds,
        } => {
            let r = async {
                if !(seconds.is_finite() && seconds > 0.0 && seconds < 1e9) {
                    return Err(HydraError::invalid(
                        "timeout must be a positive number of seconds",
                    ));
                }
                runtime
                    .set_timeout(&sandbox(&s)?, Duration::from_secs_f64(seconds))
                    .await
            }
            .await;
            to_value(r)
        }
        Op::Http {
            sandbox: s,
            port,
            request,
        } => to_value(async { runtime.http(&sandbox(&s)?, port, request).await }.await),
        Op::Kill { sandbox: s } => {
            let r = to_value(async { runtime.kill(&sandbox(&s)?).await }.await);
            report_load(runtime, tx).await;
            r
        }
        Op::Exec { sandbox: s, spec } => {
            let started = async { runtime.exec(&sandbox(&s)?, spec).await }.await;
            return stream(id, started, tx).await;
        }
        Op::Logs { sandbox: s, follow } => {
            let started = async { runtime.logs(&sandbox(&s)?, follow).await }.await;
            return stream(id, started, tx).await;
        }
    };
    send_wait(tx, &reply(result)).await;
}

async fn stream(id: u64, started: Result<crate::ExecStream>, tx: &mpsc::Sender<String>) {
    let mut events = match started {
        Ok(s) => s,
        Err(e) => {
            send_wait(
                tx,
                &HostMessage::Reply {
                    id,
                    result: err(&e),
                },
            )
            .await;
            return;
        }
    };
    if !send_wait(
        tx,
        &HostMessage::Reply {
            id,
            result: ok(serde_json::Value::Null),
        },
    )
    .await
    {
        return;
    }
    while let Some(ev) = events.next().await {
        match ev {
            Ok(event) => {
                if !send_wait(tx, &HostMessage::Event { id, event }).await {
                    return;
                }
            }
            Err(e) => {
                send_wait(
                    tx,
                    &HostMessage::End {
                        id,
                        error: Some(RemoteError::from_error(&e)),
                    },
                )
                .await;
                return;
            }
        }
    }
    send_wait(tx, &HostMessage::End { id, error: None }).await;
}

async fn report_load(runtime: &dyn SandboxRuntime, tx: &mpsc::Sender<String>) {
    if let Ok(list) = runtime.list().await {
        send(
            tx,
            &HostMessage::Load {
                running: list.len(),
            },
        );
    }
}
