//! Ways for a runner to reach the control plane: a WebSocket ([`WsConnector`]), or an
//! in-memory pipe ([`Duplex`]) for a runner inside the control plane's own process.

use super::agent::{Connected, Connector};
use crate::protocol::Frame;
use async_trait::async_trait;
use futures::channel::mpsc;
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio_tungstenite::tungstenite::{
    self, client::IntoClientRequest, protocol::CloseFrame, Message,
};

/// The path runners connect to.
pub const CONNECT_PATH: &str = "/api/v1/runners/connect";

/// Response header of the upgrade naming the runner id the token is bound to.
pub const RUNNER_ID_HEADER: &str = "x-helix-runner-id";

/// Dials `ws(s)://<server>/api/v1/runners/connect` with the runner token as a bearer.
#[derive(Clone)]
pub struct WsConnector {
    url: String,
    token: String,
}

impl std::fmt::Debug for WsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConnector")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WsConnector {
    /// A connector for the control plane at `server` (`http(s)://host:port`, the
    /// address users open; `ws(s)://` works too).
    pub fn new(server: &str, token: impl Into<String>) -> crate::Result<Self> {
        Self::with_path(server, CONNECT_PATH, token)
    }

    /// A connector for another endpoint of the control plane that takes the same kind of
    /// node token (sandbox hosts dial `/api/v1/sandbox-hosts/connect`).
    pub fn with_path(server: &str, path: &str, token: impl Into<String>) -> crate::Result<Self> {
        let base = server.trim_end_matches('/');
        let url = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if base.starts_with("ws://") || base.starts_with("wss://") {
            base.to_owned()
        } else {
            return Err(crate::SchedError::InvalidConfig {
                what: format!("server {server:?}"),
                reason: "must be an http(s):// or ws(s):// url".into(),
            });
        };
        Ok(Self {
            url: format!("{url}{path}"),
            token: token.into(),
        })
    }

    /// The URL it dials.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl Connector for WsConnector {
    async fn connect(&self) -> Result<Connected, String> {
        let mut req = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let auth = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| "token is not a valid header value".to_owned())?;
        req.headers_mut().insert("authorization", auth);
        let (ws, resp) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| match e {
                tungstenite::Error::Http(resp) => format!(
                    "control plane refused the connection: {} {}",
                    resp.status(),
                    resp.body()
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default()
                ),
                e => e.to_string(),
            })?;
        let frames = ws
            .filter_map(|m| async move {
                match m {
                    Ok(Message::Text(t)) => Some(Frame::Text(t.to_string())),
                    Ok(Message::Binary(b)) => Some(Frame::Binary(b.to_vec())),
                    Ok(Message::Close(c)) => Some(match c {
                        Some(c) => Frame::Close(c.code.into(), c.reason.to_string()),
                        None => Frame::Close(1005, String::new()),
                    }),
                    Ok(_) => None,
                    Err(e) => Some(Frame::Close(1006, e.to_string())),
                }
            })
            .sink_map_err(|e| e.to_string())
            .with(|f: Frame| async move {
                Ok::<_, String>(match f {
                    Frame::Text(t) => Message::text(t),
                    Frame::Binary(b) => Message::binary(b),
                    Frame::Close(code, reason) => Message::Close(Some(CloseFrame {
                        code: code.into(),
                        reason: reason.into(),
                    })),
                })
            });
        let runner_id = resp
            .headers()
            .get(RUNNER_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(crate::RunnerId::from);
        Ok(Connected {
            transport: Box::pin(frames),
            runner_id,
        })
    }
}

/// One end of an in-memory connection: a stream of the frames the other end sends and
/// a sink for frames to it.
#[derive(Debug)]
pub struct Duplex {
    rx: mpsc::UnboundedReceiver<Frame>,
    tx: mpsc::UnboundedSender<Frame>,
}

impl Duplex {
    /// Two connected ends.
    pub fn pair() -> (Duplex, Duplex) {
        let (a_tx, a_rx) = mpsc::unbounded();
        let (b_tx, b_rx) = mpsc::unbounded();
        (Duplex { rx: a_rx, tx: b_tx }, Duplex { rx: b_rx, tx: a_tx })
    }
}

impl Stream for Duplex {
    type Item = Frame;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        self.rx.poll_next_unpin(cx)
    }
}

impl Sink<Frame> for Duplex {
    type Error = String;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.tx.poll_ready(cx).map_err(|e| e.to_string())
    }

    fn start_send(mut self: Pin<&mut Self>, item: Frame) -> Result<(), String> {
        self.tx.start_send(item).map_err(|e| e.to_string())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.tx)
            .poll_flush(cx)
            .map_err(|e| e.to_string())
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.tx)
            .poll_close(cx)
            .map_err(|e| e.to_string())
    }
}
