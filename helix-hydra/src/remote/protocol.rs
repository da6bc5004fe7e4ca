//! The sandbox-host protocol: JSON text messages over one WebSocket that the sandbox host
//! dials OUT to the control plane (`GET /api/v1/sandbox-hosts/connect`, node token as
//! bearer). One tagged enum per direction; spec in `docs/sandbox-host-protocol.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sandbox::{ExecEvent, ExecSpec, SandboxInfo, SandboxSpec};

/// Version spoken by this build; a peer with another version is refused.
pub const PROTOCOL_VERSION: u32 = 2;
/// Largest message accepted (a 16 MiB file, base64, plus framing).
pub const MAX_MESSAGE: usize = 24 * 1024 * 1024;
/// Largest file read or written through a remote host (it must fit in one message).
pub const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Host → control plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HostMessage {
    /// First message: who the host is and what it runs.
    Hello {
        /// Protocol version.
        version: u32,
        /// Most sandboxes it takes.
        max_sandboxes: usize,
        /// The sandboxes it runs now (after a reconnect, the control plane re-learns them).
        sandboxes: Vec<SandboxInfo>,
    },
    /// How many sandboxes run now (sent after each create and kill).
    Load {
        /// Running sandboxes.
        running: usize,
    },
    /// The answer to a call; for `exec` and `logs`, `Ok` means the stream started and
    /// `event`s follow until `end`.
    Reply {
        /// The call's id.
        id: u64,
        /// What came of it.
        result: CallResult,
    },
    /// One event of a streamed call.
    Event {
        /// The call's id.
        id: u64,
        /// The event.
        event: ExecEvent,
    },
    /// A streamed call ended (after its last event, or a mid-stream error).
    End {
        /// The call's id.
        id: u64,
        /// Set when the stream failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<RemoteError>,
    },
}

/// Control plane → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlMessage {
    /// The hello was accepted.
    Welcome {
        /// The host id the control plane knows this connection by.
        host_id: String,
    },
    /// Do something.
    Call {
        /// Unique per connection, chosen by the control plane.
        id: u64,
        /// What.
        op: Op,
    },
    /// Stop a streamed call (the caller went away).
    Cancel {
        /// The call.
        id: u64,
    },
}

/// An operation of [`crate::SandboxRuntime`], as a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// `create`.
    Create {
        /// The spec.
        spec: SandboxSpec,
    },
    /// `list`.
    List,
    /// `get`.
    Get {
        /// Sandbox id.
        sandbox: String,
    },
    /// `exec` (streamed).
    Exec {
        /// Sandbox id.
        sandbox: String,
        /// The command.
        spec: ExecSpec,
    },
    /// `write_file`.
    WriteFile {
        /// Sandbox id.
        sandbox: String,
        /// Path.
        path: String,
        /// Contents, base64.
        data: String,
    },
    /// `read_file`; the reply's value is `{"data": base64}`.
    ReadFile {
        /// Sandbox id.
        sandbox: String,
        /// Path.
        path: String,
    },
    /// `list_dir`.
    ListDir {
        /// Sandbox id.
        sandbox: String,
        /// Path.
        path: String,
    },
    /// `logs` (streamed).
    Logs {
        /// Sandbox id.
        sandbox: String,
        /// Keep streaming.
        follow: bool,
    },
    /// `set_timeout`.
    SetTimeout {
        /// Sandbox id.
        sandbox: String,
        /// Seconds from now.
        seconds: f64,
    },
    /// `http`: one buffered HTTP exchange with a port of the sandbox; the reply's value
    /// is an [`crate::relay::HttpAnswer`].
    Http {
        /// Sandbox id.
        sandbox: String,
        /// The port.
        port: u16,
        /// The request.
        request: crate::relay::HttpExchange,
    },
    /// `kill`.
    Kill {
        /// Sandbox id.
        sandbox: String,
    },
}

/// The result of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum CallResult {
    /// Done; `value` depends on the op (a sandbox, a list, `null`).
    Ok {
        /// The value.
        #[serde(default)]
        value: serde_json::Value,
    },
    /// Failed.
    Err {
        /// What went wrong.
        error: RemoteError,
    },
}

/// A [`crate::HydraError`] as it crosses the wire: its stable code and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteError {
    /// [`crate::HydraError::code`].
    pub code: String,
    /// Its message.
    pub message: String,
    /// Extra fields some codes carry (none yet).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl RemoteError {
    /// From a local error.
    pub fn from_error(e: &crate::HydraError) -> Self {
        RemoteError {
            code: e.code().to_owned(),
            message: e.to_string(),
            details: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_refuse_junk() {
        let call = ControlMessage::Call {
            id: 7,
            op: Op::Exec {
                sandbox: "sbx_x".into(),
                spec: ExecSpec::new(["ls"]),
            },
        };
        let text = serde_json::to_string(&call).unwrap();
        assert!(
            text.contains(r#""type":"call""#) && text.contains(r#""op":"exec""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<ControlMessage>(&text).unwrap(), call);
        let end = HostMessage::End { id: 7, error: None };
        assert_eq!(
            serde_json::to_string(&end).unwrap(),
            r#"{"type":"end","id":7}"#
        );
        for junk in [
            r#"{"type":"call","id":1}"#,
            r#"{"type":"nope"}"#,
            r#"{"type":"cancel","id":1,"extra":true}"#,
            "[]",
            "",
        ] {
            assert!(
                serde_json::from_str::<ControlMessage>(junk).is_err(),
                "{junk}"
            );
        }
    }
}
