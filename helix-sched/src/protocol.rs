//! The runner protocol: what a runner and the control plane say to each other over one
//! WebSocket at `/api/v1/runners/connect` (spec: `docs/runner-protocol.md`).
//!
//! - **Text frames** carry one JSON message each: [`RunnerMessage`] from the runner,
//!   [`ControlMessage`] from the control plane, tagged by `"type"`.
//! - **Binary frames** carry response bodies: byte 0 is [`DATA_FRAME`], bytes 1..5 the
//!   stream id (big-endian `u32`), the rest the payload ([`DataFrame`]).
//!
//! The runner authenticates the upgrade with its token (`Authorization: Bearer hxr-...`),
//! then sends [`Hello`] first; the control plane answers [`ControlMessage::Welcome`] or
//! closes with a [`CloseCode`]. Decoding is strict and bounded: unknown types, missing
//! fields, oversized frames and stream id 0 are errors, never panics.

use crate::types::{GpuInfo, InstanceId, InstanceSpec, InstanceStatus, ModelOffer, RunnerId};
use crate::RuntimeKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// First byte of a binary data frame.
pub const DATA_FRAME: u8 = 0x01;

/// Largest text frame either side accepts (a hello with many models fits easily).
pub const MAX_TEXT_FRAME: usize = 1 << 20;

/// Largest payload of one data frame.
pub const MAX_DATA_PAYLOAD: usize = 256 << 10;

/// Bytes a runner may send on one stream before the control plane grants more with
/// [`ControlMessage::Window`] (the value announced in `Welcome`).
pub const DEFAULT_STREAM_WINDOW: u32 = 1 << 20;

/// The runner's first message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// The protocol version the runner speaks.
    pub protocol: u32,
    /// The runner id its token is bound to.
    pub runner_id: RunnerId,
    /// A display name (host name by default).
    pub name: String,
    /// The runner's software version.
    pub version: String,
    /// Engines the runner can start.
    pub runtimes: Vec<RuntimeKind>,
    /// Its GPUs (a CPU-only runner declares one pseudo-GPU for its RAM).
    pub gpus: Vec<GpuInfo>,
    /// Models it can serve.
    pub models: Vec<ModelOffer>,
    /// Instances already running (after a reconnect: the control plane adopts them).
    pub instances: Vec<InstanceStatus>,
}

/// An error carried on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// Stable machine-readable code (`engine_unavailable`, `instance_not_found`, ...).
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// Runner → control plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunnerMessage {
    /// First message of a connection.
    Hello(Hello),
    /// Sent every `heartbeat_interval_ms`: current GPUs and instances.
    Heartbeat {
        /// GPUs as probed now.
        gpus: Vec<GpuInfo>,
        /// Every instance and its state.
        instances: Vec<InstanceStatus>,
    },
    /// An instance changed state.
    InstanceStatus(InstanceStatus),
    /// The engine answered a request: status and content type; the body follows in
    /// data frames.
    ResponseHead {
        /// The request's stream.
        stream: u32,
        /// HTTP status from the engine.
        status: u16,
        /// The engine's content type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
    },
    /// The stream is over: the whole body was sent (no error), or it failed.
    ResponseEnd {
        /// The request's stream.
        stream: u32,
        /// Why it failed, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<WireError>,
    },
}

/// Control plane → runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlMessage {
    /// The answer to `Hello`: the connection is accepted.
    Welcome {
        /// The protocol version both sides now speak.
        protocol: u32,
        /// How often the runner sends `Heartbeat`.
        heartbeat_interval_ms: u64,
        /// Initial flow-control window per stream, in bytes.
        stream_window_bytes: u32,
    },
    /// Start a model instance.
    StartInstance(InstanceSpec),
    /// Stop a model instance (its engine process tree is killed).
    StopInstance {
        /// The instance.
        instance: InstanceId,
    },
    /// Forward an OpenAI request to an instance's engine.
    Request {
        /// A new stream id (non-zero, unique on this connection while open).
        stream: u32,
        /// The instance to send it to.
        instance: InstanceId,
        /// HTTP method (`POST`, `GET`).
        method: String,
        /// Path under the engine, starting with `/v1/`.
        path: String,
        /// JSON body (`null` for none).
        #[serde(default)]
        body: Value,
    },
    /// The caller went away: abort the stream.
    Cancel {
        /// The stream.
        stream: u32,
    },
    /// Flow control: the runner may send `bytes` more on `stream`.
    Window {
        /// The stream.
        stream: u32,
        /// Bytes granted.
        bytes: u32,
    },
}

/// A chunk of a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFrame {
    /// The request's stream.
    pub stream: u32,
    /// Body bytes.
    pub payload: Vec<u8>,
}

impl DataFrame {
    /// The binary frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.payload.len());
        out.push(DATA_FRAME);
        out.extend(self.stream.to_be_bytes());
        out.extend(&self.payload);
        out
    }

    /// Parses a binary frame.
    pub fn decode(frame: &[u8]) -> Result<Self, ProtocolError> {
        let (&kind, rest) = frame
            .split_first()
            .ok_or(ProtocolError::Malformed("empty binary frame".into()))?;
        if kind != DATA_FRAME {
            return Err(ProtocolError::Malformed(format!(
                "unknown binary frame kind {kind:#04x}"
            )));
        }
        if rest.len() < 4 {
            return Err(ProtocolError::Malformed(
                "binary frame shorter than its header".into(),
            ));
        }
        let (id, payload) = rest.split_at(4);
        let stream = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        check_stream(stream)?;
        if payload.len() > MAX_DATA_PAYLOAD {
            return Err(ProtocolError::TooLarge {
                size: payload.len(),
                limit: MAX_DATA_PAYLOAD,
            });
        }
        Ok(Self {
            stream,
            payload: payload.to_vec(),
        })
    }
}

/// Why a connection is closed, as a WebSocket close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCode {
    /// A frame could not be decoded or broke the protocol's rules (4000).
    ProtocolError,
    /// The runner speaks a protocol version the control plane does not (4001).
    UnsupportedVersion,
    /// The token is revoked, or the hello names another runner id (4003).
    Unauthorized,
    /// No message for too long (4008).
    Timeout,
    /// A newer connection of the same runner took over; do not reconnect (4009).
    Superseded,
    /// The control plane is shutting down; reconnect later (1001).
    GoingAway,
}

impl CloseCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            CloseCode::ProtocolError => 4000,
            CloseCode::UnsupportedVersion => 4001,
            CloseCode::Unauthorized => 4003,
            CloseCode::Timeout => 4008,
            CloseCode::Superseded => 4009,
            CloseCode::GoingAway => 1001,
        }
    }

    /// The code from its number, when it is one of ours.
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            4000 => CloseCode::ProtocolError,
            4001 => CloseCode::UnsupportedVersion,
            4003 => CloseCode::Unauthorized,
            4008 => CloseCode::Timeout,
            4009 => CloseCode::Superseded,
            1001 => CloseCode::GoingAway,
            _ => return None,
        })
    }

    /// Whether a runner closed with this code should try again (with backoff).
    pub fn should_reconnect(self) -> bool {
        !matches!(
            self,
            CloseCode::Superseded | CloseCode::UnsupportedVersion | CloseCode::Unauthorized
        )
    }
}

/// A frame either side could not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Not valid JSON, an unknown message type, a missing field, a bad binary header.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Above [`MAX_TEXT_FRAME`] or [`MAX_DATA_PAYLOAD`].
    #[error("frame of {size} bytes is above the limit of {limit}")]
    TooLarge {
        /// Size received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Stream id 0 is reserved.
    #[error("stream id 0 is reserved")]
    ZeroStream,
}

impl ProtocolError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::Malformed(_) => "malformed_frame",
            ProtocolError::TooLarge { .. } => "frame_too_large",
            ProtocolError::ZeroStream => "zero_stream_id",
        }
    }
}

fn check_stream(stream: u32) -> Result<(), ProtocolError> {
    if stream == 0 {
        Err(ProtocolError::ZeroStream)
    } else {
        Ok(())
    }
}

fn decode_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, ProtocolError> {
    if text.len() > MAX_TEXT_FRAME {
        return Err(ProtocolError::TooLarge {
            size: text.len(),
            limit: MAX_TEXT_FRAME,
        });
    }
    serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

impl RunnerMessage {
    /// Parses a text frame from a runner.
    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        let msg: Self = decode_json(text)?;
        match &msg {
            RunnerMessage::ResponseHead { stream, .. }
            | RunnerMessage::ResponseEnd { stream, .. } => check_stream(*stream)?,
            _ => {}
        }
        Ok(msg)
    }

    /// The text frame.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("runner messages serialize")
    }
}

impl ControlMessage {
    /// Parses a text frame from the control plane.
    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        let msg: Self = decode_json(text)?;
        match &msg {
            ControlMessage::Request { stream, .. }
            | ControlMessage::Cancel { stream }
            | ControlMessage::Window { stream, .. } => check_stream(*stream)?,
            _ => {}
        }
        Ok(msg)
    }

    /// The text frame.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("control messages serialize")
    }
}

/// A WebSocket frame, independent of the WebSocket library each host uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (one JSON message).
    Text(String),
    /// A binary frame (a [`DataFrame`]).
    Binary(Vec<u8>),
    /// The peer closes, with a code and reason.
    Close(u16, String),
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
