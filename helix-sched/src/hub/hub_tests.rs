//! The hub against scripted runners speaking the protocol over in-memory sockets.

use super::*;
use crate::protocol::{CloseCode, DataFrame, Frame, Hello, RunnerMessage};
use crate::types::{GpuInfo, InstanceState, InstanceStatus, ModelOffer, RuntimeKind};
use futures::channel::mpsc as fmpsc;
use futures::{SinkExt, StreamExt};
use helix_core::providers::{ChatRequest, ProviderPool};
use serde_json::json;

/// The runner's end of an in-memory socket.
struct FakeRunner {
    rx: fmpsc::UnboundedReceiver<Frame>,
    tx: fmpsc::UnboundedSender<Frame>,
}

/// The hub's end.
struct HubEnd {
    rx: fmpsc::UnboundedReceiver<Frame>,
    tx: fmpsc::UnboundedSender<Frame>,
}

impl futures::Stream for HubEnd {
    type Item = Frame;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Frame>> {
        self.rx.poll_next_unpin(cx)
    }
}

impl futures::Sink<Frame> for HubEnd {
    type Error = String;
    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), String>> {
        self.tx.poll_ready(cx).map_err(|e| e.to_string())
    }
    fn start_send(mut self: std::pin::Pin<&mut Self>, item: Frame) -> Result<(), String> {
        self.tx.start_send(item).map_err(|e| e.to_string())
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), String>> {
        std::pin::Pin::new(&mut self.tx)
            .poll_flush(cx)
            .map_err(|e| e.to_string())
    }
    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), String>> {
        std::pin::Pin::new(&mut self.tx)
            .poll_close(cx)
            .map_err(|e| e.to_string())
    }
}

fn connect(hub: &RunnerHub, token_runner: &str) -> FakeRunner {
    let (a_tx, a_rx) = fmpsc::unbounded();
    let (b_tx, b_rx) = fmpsc::unbounded();
    let end = HubEnd { rx: a_rx, tx: b_tx };
    let hub = hub.clone();
    let id = RunnerId::from(token_runner);
    tokio::spawn(async move { hub.serve_connection(id, end).await });
    FakeRunner { rx: b_rx, tx: a_tx }
}

fn offer(name: &str) -> ModelOffer {
    ModelOffer {
        name: name.into(),
        runtime: RuntimeKind::LlamaCpp,
        memory_bytes: 1 << 30,
        context_len: 2048,
        parallel: 2,
        embeddings: false,
        max_gpus: 1,
    }
}

fn hello(id: &str) -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        runner_id: id.into(),
        name: id.into(),
        version: "test".into(),
        runtimes: vec![RuntimeKind::LlamaCpp],
        gpus: vec![GpuInfo {
            index: 0,
            name: "test".into(),
            total_bytes: 8 << 30,
            free_bytes: 8 << 30,
        }],
        models: vec![offer("tiny")],
        instances: vec![],
    }
}

use crate::protocol::PROTOCOL_VERSION;

impl FakeRunner {
    async fn send(&mut self, m: RunnerMessage) {
        self.tx.send(Frame::Text(m.encode())).await.expect("send");
    }

    async fn data(&mut self, stream: u32, payload: &[u8]) {
        let f = DataFrame {
            stream,
            payload: payload.to_vec(),
        };
        self.tx.send(Frame::Binary(f.encode())).await.expect("send");
    }

    async fn next(&mut self) -> Frame {
        tokio::time::timeout(Duration::from_secs(5), self.rx.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
    }

    async fn next_msg(&mut self) -> ControlMessage {
        match self.next().await {
            Frame::Text(t) => ControlMessage::decode(&t).expect("valid message"),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Says hello and reads the welcome.
    async fn join(hub: &RunnerHub, id: &str) -> Self {
        let mut r = connect(hub, id);
        r.send(RunnerMessage::Hello(hello(id))).await;
        assert!(matches!(r.next_msg().await, ControlMessage::Welcome { .. }));
        r
    }

    /// Answers the start of an instance with `ready`.
    async fn start_ready(&mut self) -> InstanceId {
        let ControlMessage::StartInstance(spec) = self.next_msg().await else {
            panic!("expected start_instance")
        };
        self.send(RunnerMessage::InstanceStatus(InstanceStatus {
            instance: spec.instance.clone(),
            model: spec.model,
            gpus: spec.gpus,
            state: InstanceState::Ready,
            message: None,
        }))
        .await;
        spec.instance
    }

    async fn expect_close(&mut self, code: CloseCode) -> String {
        loop {
            match self.next().await {
                Frame::Close(c, reason) => {
                    assert_eq!(c, code.code(), "{reason}");
                    return reason;
                }
                Frame::Text(_) => continue,
                other => panic!("expected close, got {other:?}"),
            }
        }
    }
}

/// Places a request for `tiny` on `r`'s new instance and answers it with a 200 head:
/// the stream id and the answer, whose body `r` writes next.
async fn open_stream(hub: &RunnerHub, r: &mut FakeRunner) -> (u32, RunnerResponse) {
    let h = hub.clone();
    let acquire = tokio::spawn(async move { h.acquire(work("tiny")).await });
    r.start_ready().await;
    let lease = acquire.await.expect("join").expect("granted");
    let h = hub.clone();
    let send = tokio::spawn(async move { h.send(lease, "POST", "/v1/x", json!(null)).await });
    let ControlMessage::Request { stream, .. } = r.next_msg().await else {
        panic!("expected request")
    };
    r.send(RunnerMessage::ResponseHead {
        stream,
        status: 200,
        content_type: None,
    })
    .await;
    (stream, send.await.expect("join").expect("head"))
}

fn work(model: &str) -> WorkRequest {
    WorkRequest::new("usr_a", model)
}

fn hub() -> RunnerHub {
    RunnerHub::new(HubConfig {
        hello_timeout: Duration::from_millis(300),
        ..HubConfig::default()
    })
}

#[tokio::test]
async fn bad_handshakes_are_closed_with_a_reason() {
    let hub = hub();
    let mut r = connect(&hub, "r1");
    let mut h = hello("r1");
    h.protocol = 2;
    r.send(RunnerMessage::Hello(h)).await;
    let reason = r.expect_close(CloseCode::UnsupportedVersion).await;
    assert!(reason.contains("version 2"), "{reason}");

    let mut r = connect(&hub, "r1");
    r.send(RunnerMessage::Hello(hello("someone-else"))).await;
    let reason = r.expect_close(CloseCode::Unauthorized).await;
    assert!(reason.contains("bound to runner r1"), "{reason}");

    let mut r = connect(&hub, "r1");
    r.tx.send(Frame::Text("{garbage".into()))
        .await
        .expect("send");
    r.expect_close(CloseCode::ProtocolError).await;

    let mut r = connect(&hub, "r1");
    r.tx.send(Frame::Binary(vec![1, 2, 3])).await.expect("send");
    r.expect_close(CloseCode::ProtocolError).await;

    let mut r = connect(&hub, "r1");
    r.send(RunnerMessage::ResponseEnd {
        stream: 1,
        error: None,
    })
    .await;
    r.expect_close(CloseCode::ProtocolError).await;

    let mut r = connect(&hub, "r1");
    r.expect_close(CloseCode::Timeout).await;
    assert!(hub.view().runners.is_empty(), "no runner was admitted");
}

#[tokio::test]
async fn garbage_after_the_handshake_closes_and_forgets_nothing_else() {
    let hub = hub();
    let mut r = FakeRunner::join(&hub, "r1").await;
    r.send(RunnerMessage::Hello(hello("r1"))).await;
    let reason = r.expect_close(CloseCode::ProtocolError).await;
    assert!(reason.contains("hello sent twice"), "{reason}");
    // The runner is disconnected but its state is kept for the grace period.
    let view = hub.view();
    assert_eq!(view.runners.len(), 1);
    assert_eq!(view.runners[0].state.as_str(), "disconnected");
}

#[tokio::test]
async fn a_request_is_placed_sent_and_streamed_back() {
    let hub = hub();
    let mut r = FakeRunner::join(&hub, "r1").await;
    let h = hub.clone();
    let acquire = tokio::spawn(async move { h.acquire(work("tiny")).await });
    let instance = r.start_ready().await;
    let lease = acquire.await.expect("join").expect("granted");
    assert_eq!(lease.instance(), &instance);
    let h = hub.clone();
    let send = tokio::spawn(async move {
        h.send(
            lease,
            "POST",
            "/v1/chat/completions",
            json!({"model": "tiny"}),
        )
        .await
    });
    let ControlMessage::Request {
        stream,
        instance: to,
        path,
        body,
        ..
    } = r.next_msg().await
    else {
        panic!("expected request")
    };
    assert_eq!(to, instance);
    assert_eq!(path, "/v1/chat/completions");
    assert_eq!(body["model"], "tiny");
    r.send(RunnerMessage::ResponseHead {
        stream,
        status: 200,
        content_type: Some("application/json".into()),
    })
    .await;
    r.data(stream, b"{\"ok\":").await;
    r.data(stream, b"true}").await;
    r.send(RunnerMessage::ResponseEnd {
        stream,
        error: None,
    })
    .await;
    let resp = send.await.expect("join").expect("answer");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.collect().await.expect("body"), b"{\"ok\":true}");
    // The slot is back: the view shows no granted request.
    assert!(hub.view().granted.is_empty());
}

#[tokio::test]
async fn flow_control_grants_more_as_the_caller_reads_and_polices_the_window() {
    let hub = RunnerHub::new(HubConfig {
        stream_window: 8,
        ..HubConfig::default()
    });
    let mut r = FakeRunner::join(&hub, "r1").await;
    let (stream, resp) = open_stream(&hub, &mut r).await;
    let mut body = resp.body;
    r.data(stream, b"1234").await;
    assert_eq!(body.next().await.expect("chunk").expect("ok"), b"1234");
    // Half the window was read: the hub grants it back.
    assert_eq!(
        r.next_msg().await,
        ControlMessage::Window { stream, bytes: 4 }
    );
    // 4 left + 4 granted = 8 allowed; 9 breaks the rules.
    r.data(stream, b"123456789").await;
    r.expect_close(CloseCode::ProtocolError).await;
    let err = body
        .next()
        .await
        .expect("an item")
        .expect_err("runner gone");
    assert_eq!(err.code(), "runner_disconnected");
}

#[tokio::test]
async fn dropping_the_body_cancels_on_the_runner_and_frees_the_slot() {
    let hub = hub();
    let mut r = FakeRunner::join(&hub, "r1").await;
    let (stream, resp) = open_stream(&hub, &mut r).await;
    assert_eq!(hub.view().granted.len(), 1);
    drop(resp);
    assert_eq!(r.next_msg().await, ControlMessage::Cancel { stream });
    assert!(hub.view().granted.is_empty());
}

#[tokio::test]
async fn a_cancelled_acquire_leaves_the_queue() {
    let hub = hub();
    let _r = FakeRunner::join(&hub, "r1").await;
    let h = hub.clone();
    // The instance never becomes ready, so the request waits.
    let waiting = tokio::spawn(async move { h.acquire(work("tiny")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hub.view().queue.len(), 1);
    waiting.abort();
    let _ = waiting.await;
    assert!(hub.view().queue.is_empty());
}

#[tokio::test]
async fn a_runner_dropping_mid_answer_ends_the_body_with_an_error() {
    let hub = hub();
    let mut r = FakeRunner::join(&hub, "r1").await;
    let (stream, resp) = open_stream(&hub, &mut r).await;
    r.data(stream, b"partial").await;
    let mut body = resp.body;
    assert_eq!(body.next().await.expect("chunk").expect("ok"), b"partial");
    drop(r);
    let err = body.next().await.expect("an item").expect_err("cut");
    assert_eq!(err.code(), "runner_disconnected");
    assert!(body.next().await.is_none());
}

#[tokio::test]
async fn a_newer_connection_supersedes_the_old_one_and_keeps_the_instances() {
    let hub = hub();
    let mut old = FakeRunner::join(&hub, "r1").await;
    let h = hub.clone();
    let acquire = tokio::spawn(async move { h.acquire(work("tiny")).await });
    let instance = old.start_ready().await;
    drop(acquire.await.expect("join").expect("granted"));
    // The runner reconnects (say its network flapped) and reports its instance.
    let mut new = connect(&hub, "r1");
    let mut h = hello("r1");
    h.instances = vec![InstanceStatus {
        instance: instance.clone(),
        model: "tiny".into(),
        gpus: vec![0],
        state: InstanceState::Ready,
        message: None,
    }];
    new.send(RunnerMessage::Hello(h)).await;
    assert!(matches!(
        new.next_msg().await,
        ControlMessage::Welcome { .. }
    ));
    old.expect_close(CloseCode::Superseded).await;
    // The instance is adopted: the next request is granted to it without a start.
    let lease = hub.acquire(work("tiny")).await.expect("granted");
    assert_eq!(lease.instance(), &instance);
}

#[tokio::test]
async fn the_pool_fails_over_when_a_runner_drops_before_answering() {
    let hub = hub();
    let pool = pool::RunnerPool::new(hub.clone(), Duration::from_secs(10));
    let mut r1 = FakeRunner::join(&hub, "r1").await;
    let provider = pool.provider("usr_a");
    let req: ChatRequest = serde_json::from_value(
        json!({"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .expect("request");
    let call = tokio::spawn(async move { provider.chat(&req).await });
    r1.start_ready().await;
    let ControlMessage::Request { .. } = r1.next_msg().await else {
        panic!("expected request")
    };
    // r2 joins; r1 dies before answering: the call goes to r2.
    let mut r2 = FakeRunner::join(&hub, "r2").await;
    drop(r1);
    let instance = r2.start_ready().await;
    let ControlMessage::Request {
        stream,
        instance: to,
        ..
    } = r2.next_msg().await
    else {
        panic!("expected request on r2")
    };
    assert_eq!(to, instance);
    r2.send(RunnerMessage::ResponseHead {
        stream,
        status: 200,
        content_type: Some("application/json".into()),
    })
    .await;
    r2.data(stream, br#"{"id":"x","choices":[]}"#).await;
    r2.send(RunnerMessage::ResponseEnd {
        stream,
        error: None,
    })
    .await;
    let answer = call.await.expect("join").expect("answer from r2");
    assert_eq!(answer["id"], "x");
    assert_eq!(pool.model_names(), vec!["tiny".to_owned()]);
}

#[tokio::test]
async fn engine_errors_and_unknown_models_map_to_gateway_errors() {
    let hub = hub();
    let pool = pool::RunnerPool::new(hub.clone(), Duration::from_secs(10));
    let provider = pool.provider("usr_a");
    let req: ChatRequest =
        serde_json::from_value(json!({"model": "nope", "messages": []})).expect("request");
    let err = provider.chat(&req).await.expect_err("nobody offers it");
    assert_eq!(err.code().as_str(), "not_found");

    let mut r = FakeRunner::join(&hub, "r1").await;
    let req: ChatRequest =
        serde_json::from_value(json!({"model": "tiny", "messages": []})).expect("request");
    let call = tokio::spawn(async move { provider.chat(&req).await });
    r.start_ready().await;
    let ControlMessage::Request { stream, .. } = r.next_msg().await else {
        panic!("expected request")
    };
    r.send(RunnerMessage::ResponseHead {
        stream,
        status: 400,
        content_type: Some("application/json".into()),
    })
    .await;
    r.data(stream, br#"{"error":{"message":"bad sampler"}}"#)
        .await;
    r.send(RunnerMessage::ResponseEnd {
        stream,
        error: None,
    })
    .await;
    let err = call.await.expect("join").expect_err("engine said no");
    assert_eq!(err.code().as_str(), "upstream_error");
    assert!(err.to_string().contains("bad sampler"), "{err}");
}
