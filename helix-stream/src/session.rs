//! One viewer's connection: the protocol's session, over any WebSocket library.
//!
//! Hosts (helix-server's axum route, `helix stream`) adapt their socket to a stream of
//! [`WsIn`] and a sink of [`WsOut`] and call [`serve_viewer`].

use crate::hub::{CloseReason, Desktop, ViewerEvent};
use crate::input::InputEvent;
use crate::protocol::{
    close_code, error_code, ClientMessage, ServerMessage, TouchPhase, PROTOCOL_VERSION,
};
use crate::source::VideoFormat;
use crate::StreamError;
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A message from the viewer's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsIn {
    /// A binary message: one protocol frame.
    Binary(Vec<u8>),
    /// A text message (not part of the protocol; refused).
    Text(String),
    /// The viewer closed the socket.
    Close,
}

/// A message for the viewer's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOut {
    /// A binary message: one protocol frame.
    Binary(Vec<u8>),
    /// Close the socket with this code and reason.
    Close {
        /// One of [`close_code`].
        code: u16,
        /// A short reason.
        reason: String,
    },
}

/// How a viewer may use the desktop.
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    /// A connection with the same id supersedes this one (a reloaded tab).
    pub client_id: Option<String>,
    /// Whether the viewer's input is injected (otherwise refused with an error).
    pub can_input: bool,
    /// How long the viewer has to say `Hello`.
    pub hello_timeout: Duration,
}

impl Default for ViewerOptions {
    fn default() -> Self {
        ViewerOptions {
            client_id: None,
            can_input: true,
            hello_timeout: Duration::from_secs(10),
        }
    }
}

/// Microseconds since the Unix epoch: the clock of `capture_ts_us` and `Pong`.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Serves one viewer until either side ends the session. Never panics on what the
/// viewer sends: bad frames get an `Error` message and the session goes on.
pub async fn serve_viewer<I, O>(desktop: &Desktop, options: ViewerOptions, incoming: I, outgoing: O)
where
    I: Stream<Item = WsIn> + Unpin,
    O: Sink<WsOut> + Unpin,
{
    let mut conn = Conn {
        out: outgoing,
        pressed_keys: BTreeSet::new(),
        pressed_buttons: BTreeSet::new(),
        touches: BTreeSet::new(),
        told_view_only: false,
    };
    let mut incoming = incoming;
    let span = tracing::info_span!("viewer", desktop = %desktop.id(), client = ?options.client_id);

    // 1. Hello.
    let hello = tokio::time::timeout(options.hello_timeout, incoming.next()).await;
    let version = match hello {
        Ok(Some(WsIn::Binary(frame))) => match ClientMessage::decode(&frame) {
            Ok(ClientMessage::Hello { version }) if version >= 1 => version.min(PROTOCOL_VERSION),
            Ok(ClientMessage::Hello { version }) => {
                let err = StreamError::UnsupportedVersion {
                    version,
                    supported: PROTOCOL_VERSION,
                };
                conn.fail(&ServerMessage::error_for(&err), close_code::PROTOCOL_ERROR)
                    .await;
                return;
            }
            Ok(other) => {
                let message = ServerMessage::Error {
                    code: error_code::MALFORMED_MESSAGE,
                    message: format!("expected hello, got {}", other.name()),
                };
                conn.fail(&message, close_code::PROTOCOL_ERROR).await;
                return;
            }
            Err(e) => {
                conn.fail(&ServerMessage::error_for(&e), close_code::PROTOCOL_ERROR)
                    .await;
                return;
            }
        },
        Ok(Some(WsIn::Text(_))) => {
            let message = ServerMessage::Error {
                code: error_code::MALFORMED_MESSAGE,
                message: "frames are binary".into(),
            };
            conn.fail(&message, close_code::PROTOCOL_ERROR).await;
            return;
        }
        Ok(Some(WsIn::Close)) | Ok(None) => return,
        Err(_) => {
            let message = ServerMessage::Error {
                code: error_code::MALFORMED_MESSAGE,
                message: "no hello in time".into(),
            };
            conn.fail(&message, close_code::PROTOCOL_ERROR).await;
            return;
        }
    };

    // 2. Join the desktop's stream.
    let mut viewer = match desktop.subscribe(options.client_id.clone()) {
        Ok(v) => v,
        Err(e) => {
            let message = ServerMessage::Error {
                code: error_code::STREAM_UNAVAILABLE,
                message: e.to_string(),
            };
            conn.fail(&message, close_code::UNAVAILABLE).await;
            return;
        }
    };
    tracing::debug!(parent: &span, version, "viewer joined");

    // 3. Frames out, input in. A viewer that says nothing for IDLE_TIMEOUT is gone (a
    // half-open connection): it stops holding the stream and its queue.
    let mut last_heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(last_heard + IDLE_TIMEOUT) => {
                conn.close(close_code::IDLE, "nothing heard from the viewer").await;
                break;
            }
            event = viewer.next() => {
                let sent = match event {
                    ViewerEvent::Format(f) => {
                        conn.send(&init(version, &f)).await && conn.send(&info(&f)).await
                    }
                    ViewerEvent::Info(f) => conn.send(&info(&f)).await,
                    ViewerEvent::Clipboard(text) => conn.send(&ServerMessage::Clipboard { text: text.to_string() }).await,
                    ViewerEvent::Frame(frame) => conn.send(&ServerMessage::VideoFrame {
                        keyframe: frame.keyframe,
                        capture_ts_us: frame.capture_ts_us,
                        data: frame.data.clone(),
                    }).await,
                    ViewerEvent::Closed(CloseReason::Superseded) => {
                        conn.close(close_code::SUPERSEDED, "superseded by a newer connection").await;
                        false
                    }
                    ViewerEvent::Closed(CloseReason::Unavailable(reason)) => {
                        let message = ServerMessage::Error { code: error_code::STREAM_UNAVAILABLE, message: reason };
                        conn.fail(&message, close_code::UNAVAILABLE).await;
                        false
                    }
                };
                if !sent {
                    break;
                }
            }
            message = incoming.next() => {
                last_heard = tokio::time::Instant::now();
                let frame = match message {
                    Some(WsIn::Binary(frame)) => frame,
                    Some(WsIn::Text(_)) => {
                        let message = ServerMessage::Error { code: error_code::MALFORMED_MESSAGE, message: "frames are binary".into() };
                        if !conn.send(&message).await { break; }
                        continue;
                    }
                    Some(WsIn::Close) | None => break,
                };
                let reply = match ClientMessage::decode(&frame) {
                    Err(e) => {
                        tracing::debug!(parent: &span, error = %e, "malformed viewer frame");
                        Some(ServerMessage::error_for(&e))
                    }
                    Ok(message) => conn.handle(desktop, &viewer, &options, message),
                };
                if let Some(reply) = reply {
                    if !conn.send(&reply).await { break; }
                }
            }
        }
    }
    conn.release_input(desktop);
    drop(viewer);
    tracing::debug!(parent: &span, "viewer left");
}

fn init(version: u8, f: &VideoFormat) -> ServerMessage {
    ServerMessage::Init {
        version,
        width: f.width,
        height: f.height,
        codec: f.codec,
    }
}

fn info(f: &VideoFormat) -> ServerMessage {
    ServerMessage::StreamInfo {
        encoder: f.encoder.clone(),
        bitrate_kbps: f.bitrate_kbps,
        fps: f.fps,
    }
}

/// At most `max` bytes of `s`, cut on a character boundary (a close frame's reason
/// holds 123 bytes).
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn not_allowed() -> ServerMessage {
    ServerMessage::Error {
        code: error_code::INPUT_NOT_ALLOWED,
        message: "this viewer may not control the desktop".into(),
    }
}

fn unavailable(e: StreamError) -> ServerMessage {
    ServerMessage::Error {
        code: error_code::STREAM_UNAVAILABLE,
        message: e.to_string(),
    }
}

/// The longest a frame may wait for the viewer's socket before the viewer is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A viewer that sends nothing (not even a `Ping`) for this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Modifier keys (HID usages 0xE0-0xE7: control, shift, alt, meta, left and right).
const MODIFIERS: std::ops::RangeInclusive<u32> = 0xE0..=0xE7;

struct Conn<O> {
    out: O,
    /// Keys, buttons and fingers this viewer holds down, released when it leaves.
    pressed_keys: BTreeSet<u32>,
    pressed_buttons: BTreeSet<u8>,
    touches: BTreeSet<u32>,
    /// A view-only viewer is told once, not for every mouse move.
    told_view_only: bool,
}

impl<O: Sink<WsOut> + Unpin> Conn<O> {
    async fn send(&mut self, message: &ServerMessage) -> bool {
        match message.encode() {
            Ok(frame) => matches!(
                tokio::time::timeout(SEND_TIMEOUT, self.out.send(WsOut::Binary(frame))).await,
                Ok(Ok(()))
            ),
            Err(e) => {
                tracing::warn!(error = %e, "dropping a frame that cannot be encoded");
                true
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let close = self.out.send(WsOut::Close {
            code,
            reason: truncate(reason, 123),
        });
        let _ = tokio::time::timeout(SEND_TIMEOUT, close).await;
    }

    async fn fail(&mut self, message: &ServerMessage, code: u16) {
        let reason = match message {
            ServerMessage::Error { message, .. } => message.clone(),
            _ => String::new(),
        };
        if self.send(message).await {
            self.close(code, &reason).await;
        }
    }

    /// Handles a decoded viewer message; returns a reply, if any.
    fn handle(
        &mut self,
        desktop: &Desktop,
        viewer: &crate::hub::Viewer,
        options: &ViewerOptions,
        message: ClientMessage,
    ) -> Option<ServerMessage> {
        match message {
            ClientMessage::Ping { client_ts_us } => Some(ServerMessage::Pong {
                client_ts_us,
                server_ts_us: now_us(),
            }),
            ClientMessage::RequestKeyframe => {
                viewer.request_keyframe();
                None
            }
            ClientMessage::Hello { .. } => Some(ServerMessage::Error {
                code: error_code::MALFORMED_MESSAGE,
                message: "hello was already said".into(),
            }),
            ClientMessage::SetBitrate { .. } | ClientMessage::Clipboard { .. }
                if !options.can_input =>
            {
                Some(not_allowed())
            }
            ClientMessage::SetBitrate { kbps } => desktop.set_bitrate(kbps).err().map(unavailable),
            ClientMessage::Clipboard { text } => {
                desktop.write_clipboard(text).err().map(unavailable)
            }
            message => {
                let event = InputEvent::from_message(&message)?;
                if !options.can_input || !desktop.accepts_input() {
                    if self.told_view_only {
                        return None;
                    }
                    self.told_view_only = true;
                    return Some(not_allowed());
                }
                match &event {
                    InputEvent::Key { code, down: true } => {
                        self.pressed_keys.insert(*code);
                    }
                    InputEvent::Key { code, down: false } => {
                        self.pressed_keys.remove(code);
                    }
                    InputEvent::Button { button, down: true } => {
                        self.pressed_buttons.insert(*button);
                    }
                    InputEvent::Button {
                        button,
                        down: false,
                    } => {
                        self.pressed_buttons.remove(button);
                    }
                    InputEvent::Touch { id, phase, .. } => {
                        if matches!(phase, TouchPhase::End | TouchPhase::Cancel) {
                            self.touches.remove(id);
                        } else {
                            self.touches.insert(*id);
                        }
                    }
                    InputEvent::Text(_) => return self.type_text(desktop, event),
                    _ => {}
                }
                desktop.inject(event).err().map(|e| ServerMessage::Error {
                    code: error_code::INTERNAL,
                    message: e.to_string(),
                })
            }
        }
    }

    /// Types text with the viewer's modifiers lifted (a paste arrives while control or
    /// command is still down: typing it as it is would send shortcuts), then puts them
    /// back.
    fn type_text(&mut self, desktop: &Desktop, text: InputEvent) -> Option<ServerMessage> {
        let held: Vec<u32> = self
            .pressed_keys
            .iter()
            .copied()
            .filter(|c| MODIFIERS.contains(c))
            .collect();
        for &code in &held {
            let _ = desktop.inject(InputEvent::Key { code, down: false });
        }
        let result = desktop.inject(text);
        for &code in &held {
            let _ = desktop.inject(InputEvent::Key { code, down: true });
        }
        result.err().map(|e| ServerMessage::Error {
            code: error_code::INTERNAL,
            message: e.to_string(),
        })
    }

    /// Releases what the viewer still holds down, so no key stays stuck.
    fn release_input(&mut self, desktop: &Desktop) {
        for id in std::mem::take(&mut self.touches) {
            let _ = desktop.inject(InputEvent::Touch {
                id,
                phase: TouchPhase::Cancel,
                x: 0,
                y: 0,
            });
        }
        for code in std::mem::take(&mut self.pressed_keys) {
            let _ = desktop.inject(InputEvent::Key { code, down: false });
        }
        for button in std::mem::take(&mut self.pressed_buttons) {
            let _ = desktop.inject(InputEvent::Button {
                button,
                down: false,
            });
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
