//! The fleet and a host agent over in-memory channels, with a fake runtime: routing,
//! streaming and cancellation, error codes across the link, malformed frames, host loss
//! and superseding. (The real thing, over WebSockets with real engines, is
//! `helix-server/tests/sandboxes_e2e.rs`.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::*;
use crate::sandbox::*;
use crate::{HydraError, Result};

#[derive(Debug, Default)]
struct Fake {
    sandboxes: Mutex<Vec<SandboxInfo>>,
    stream_dropped: Arc<AtomicBool>,
}

fn info(id: SandboxId) -> SandboxInfo {
    SandboxInfo {
        id,
        image: "img".into(),
        state: SandboxState::Running,
        labels: Default::default(),
        limits: Default::default(),
        created_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now(),
    }
}

struct Flag(Arc<AtomicBool>);
impl Drop for Flag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl SandboxRuntime for Fake {
    async fn create(&self, _spec: SandboxSpec) -> Result<SandboxInfo> {
        let i = info(SandboxId::generate());
        self.sandboxes.lock().unwrap().push(i.clone());
        Ok(i)
    }
    async fn get(&self, id: &SandboxId) -> Result<SandboxInfo> {
        self.sandboxes
            .lock()
            .unwrap()
            .iter()
            .find(|s| &s.id == id)
            .cloned()
            .ok_or_else(|| HydraError::SandboxNotFound { id: id.to_string() })
    }
    async fn list(&self) -> Result<Vec<SandboxInfo>> {
        Ok(self.sandboxes.lock().unwrap().clone())
    }
    async fn exec(&self, id: &SandboxId, spec: ExecSpec) -> Result<ExecStream> {
        self.get(id).await?;
        let first = ExecEvent::Stdout {
            data: Bytes::from(spec.cmd.join(" ")),
        };
        if spec.cmd[0] == "forever" {
            let flag = Flag(self.stream_dropped.clone());
            let s = futures::stream::iter(vec![Ok(first)]).chain(futures::stream::pending());
            return Ok(s
                .map(move |e| {
                    let _ = &flag;
                    e
                })
                .boxed());
        }
        let exit = ExecEvent::Exit {
            code: 3,
            timed_out: false,
        };
        Ok(futures::stream::iter(vec![Ok(first), Ok(exit)]).boxed())
    }
    async fn write_file(&self, _: &SandboxId, _: &str, _: Bytes) -> Result<()> {
        Ok(())
    }
    async fn read_file(&self, _: &SandboxId, path: &str) -> Result<Bytes> {
        Err(HydraError::FileNotFound { path: path.into() })
    }
    async fn list_dir(&self, _: &SandboxId, _: &str) -> Result<Vec<FileEntry>> {
        Ok(Vec::new())
    }
    async fn port_target(&self, _: &SandboxId, _: u16) -> Result<std::net::SocketAddr> {
        Err(HydraError::Unsupported {
            what: "ports".into(),
        })
    }
    async fn logs(&self, _: &SandboxId, _: bool) -> Result<LogStream> {
        Ok(futures::stream::empty().boxed())
    }
    async fn set_timeout(&self, id: &SandboxId, _: Duration) -> Result<SandboxInfo> {
        self.get(id).await
    }
    async fn kill(&self, id: &SandboxId) -> Result<()> {
        let mut s = self.sandboxes.lock().unwrap();
        let before = s.len();
        s.retain(|i| &i.id != id);
        if s.len() == before {
            return Err(HydraError::SandboxNotFound { id: id.to_string() });
        }
        Ok(())
    }
}

/// Connects `runtime` to `fleet` as host `id`; returns the link task.
fn link(fleet: &SandboxFleet, id: &str, runtime: Arc<Fake>) -> tokio::task::JoinHandle<()> {
    let (to_host_tx, to_host_rx) = mpsc::channel(64);
    let (to_cp_tx, to_cp_rx) = mpsc::channel(64);
    let fleet = fleet.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        let cp = fleet.serve_host(id, to_cp_rx, to_host_tx);
        let host = serve_link(runtime, 2, to_host_rx, to_cp_tx);
        tokio::select! { _ = cp => {}, _ = host => {} }
    })
}

async fn wait_hosts(fleet: &SandboxFleet, n: usize) {
    for _ in 0..200 {
        if fleet.hosts().await.len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("expected {n} hosts, have {:?}", fleet.hosts().await);
}

#[tokio::test]
async fn calls_route_to_the_host_and_errors_keep_their_codes() {
    let fleet = SandboxFleet::new(None);
    assert_eq!(
        fleet
            .create(SandboxSpec::new("img"))
            .await
            .unwrap_err()
            .code(),
        "at_capacity"
    );
    let fake = Arc::new(Fake::default());
    let task = link(&fleet, "box-1", fake.clone());
    wait_hosts(&fleet, 1).await;
    let sbx = fleet.create(SandboxSpec::new("img")).await.unwrap();
    assert_eq!(fake.list().await.unwrap().len(), 1);
    let events: Vec<ExecEvent> = fleet
        .exec(&sbx.id, ExecSpec::new(["echo", "hi"]))
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        ExecEvent::Exit {
            code: 3,
            timed_out: false
        }
    );
    let err = fleet.read_file(&sbx.id, "/x").await.unwrap_err();
    assert_eq!(err.code(), "file_not_found");
    assert_eq!(
        fleet.get(&SandboxId::generate()).await.unwrap_err().code(),
        "sandbox_not_found"
    );
    assert_eq!(fleet.hosts().await[0].running, 1);
    // Full: max_sandboxes is 2.
    fleet.create(SandboxSpec::new("img")).await.unwrap();
    assert_eq!(
        fleet
            .create(SandboxSpec::new("img"))
            .await
            .unwrap_err()
            .code(),
        "at_capacity"
    );
    fleet.kill(&sbx.id).await.unwrap();
    assert_eq!(
        fleet.get(&sbx.id).await.unwrap_err().code(),
        "sandbox_not_found"
    );

    // A dropped stream is cancelled on the host.
    let other = fake.list().await.unwrap()[0].id.clone();
    let mut s = fleet
        .exec(&other, ExecSpec::new(["forever"]))
        .await
        .unwrap();
    assert!(s.next().await.unwrap().is_ok());
    drop(s);
    for _ in 0..200 {
        if fake.stream_dropped.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        fake.stream_dropped.load(Ordering::SeqCst),
        "the host's stream was cancelled"
    );

    // The host goes away: its sandboxes are unavailable, then forgotten on a reconnect
    // that no longer has them.
    task.abort();
    let _ = task.await;
    wait_hosts(&fleet, 0).await;
    assert_eq!(
        fleet.get(&other).await.unwrap_err().code(),
        "host_unavailable"
    );
    let _task = link(&fleet, "box-1", Arc::new(Fake::default()));
    wait_hosts(&fleet, 1).await;
    assert_eq!(
        fleet.get(&other).await.unwrap_err().code(),
        "sandbox_not_found"
    );
}

#[tokio::test]
async fn malformed_frames_end_the_link() {
    let fleet = SandboxFleet::new(None);
    // Not a hello first.
    let (tx, rx) = mpsc::channel(4);
    let (out_tx, _out_rx) = mpsc::channel(4);
    tx.send(r#"{"type":"load","running":1}"#.into())
        .await
        .unwrap();
    let why = fleet.serve_host("h".into(), rx, out_tx).await;
    assert!(why.contains("hello"), "{why}");
    // Another version.
    let (tx, rx) = mpsc::channel(4);
    let (out_tx, _out_rx) = mpsc::channel(4);
    tx.send(r#"{"type":"hello","version":99,"max_sandboxes":1,"sandboxes":[]}"#.into())
        .await
        .unwrap();
    let why = fleet.serve_host("h".into(), rx, out_tx).await;
    assert!(why.contains("version"), "{why}");
    // Junk after the hello.
    let (tx, rx) = mpsc::channel(4);
    let (out_tx, _out_rx) = mpsc::channel(4);
    tx.send(r#"{"type":"hello","version":2,"max_sandboxes":1,"sandboxes":[]}"#.into())
        .await
        .unwrap();
    tx.send("{not json".into()).await.unwrap();
    let why = fleet.serve_host("h".into(), rx, out_tx).await;
    assert!(why.contains("malformed"), "{why}");
    assert!(fleet.hosts().await.is_empty());
    // The reserved id.
    let (_tx, rx) = mpsc::channel(4);
    let (out_tx, _out_rx) = mpsc::channel(4);
    assert!(fleet
        .serve_host("local".into(), rx, out_tx)
        .await
        .contains("reserved"));

    // The host side refuses a control plane that breaks the protocol.
    let (cp_tx, host_rx) = mpsc::channel(4);
    let (host_tx, mut cp_rx) = mpsc::channel(4);
    let agent = tokio::spawn(serve_link(Arc::new(Fake::default()), 1, host_rx, host_tx));
    assert!(cp_rx.recv().await.unwrap().contains("hello"));
    cp_tx
        .send(r#"{"type":"welcome","host_id":"h"}"#.into())
        .await
        .unwrap();
    cp_tx
        .send(r#"{"type":"call","id":1,"op":{"op":"nope"}}"#.into())
        .await
        .unwrap();
    assert!(matches!(agent.await.unwrap(), LinkEnd::Refused(_)));
}
