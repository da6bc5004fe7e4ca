//! Messages from a viewer to the server.

use super::wire::{self, Writer};
use crate::{Result, StreamError};

const HELLO: u8 = 0x81;
const REQUEST_KEYFRAME: u8 = 0x82;
const PING: u8 = 0x83;
const KEY_DOWN: u8 = 0x84;
const KEY_UP: u8 = 0x85;
const MOUSE_MOVE: u8 = 0x86;
const MOUSE_BUTTON: u8 = 0x87;
const SCROLL: u8 = 0x88;

/// A message from a viewer to the server. See the [module docs](super) for the wire
/// layout and units of each variant.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Opens the session.
    Hello {
        /// The highest protocol version the viewer speaks.
        version: u8,
    },
    /// Asks for a keyframe (the viewer joined late or lost decoder state).
    RequestKeyframe,
    /// Asks for a `Pong`.
    Ping {
        /// The viewer's clock, in microseconds.
        client_ts_us: u64,
    },
    /// A key was pressed.
    KeyDown {
        /// USB HID usage id (keyboard page 0x07) of the physical key.
        code: u32,
    },
    /// A key was released.
    KeyUp {
        /// USB HID usage id (keyboard page 0x07) of the physical key.
        code: u32,
    },
    /// The pointer moved to an absolute position in video pixels.
    MouseMove {
        /// Pixels from the left edge.
        x: i32,
        /// Pixels from the top edge.
        y: i32,
    },
    /// A mouse button was pressed or released.
    MouseButton {
        /// DOM button number: 0 main, 1 middle, 2 secondary, 3 back, 4 forward.
        button: u8,
        /// `true` when pressed, `false` when released.
        down: bool,
    },
    /// The wheel or touchpad scrolled.
    Scroll {
        /// Horizontal delta in pixels, positive to the right.
        dx: i32,
        /// Vertical delta in pixels, positive downwards.
        dy: i32,
    },
}

impl ClientMessage {
    /// The message type byte.
    pub fn message_type(&self) -> u8 {
        match self {
            ClientMessage::Hello { .. } => HELLO,
            ClientMessage::RequestKeyframe => REQUEST_KEYFRAME,
            ClientMessage::Ping { .. } => PING,
            ClientMessage::KeyDown { .. } => KEY_DOWN,
            ClientMessage::KeyUp { .. } => KEY_UP,
            ClientMessage::MouseMove { .. } => MOUSE_MOVE,
            ClientMessage::MouseButton { .. } => MOUSE_BUTTON,
            ClientMessage::Scroll { .. } => SCROLL,
        }
    }

    /// A short `snake_case` name for logs and errors.
    pub fn name(&self) -> &'static str {
        name(self.message_type()).unwrap_or("unknown")
    }

    /// Encodes the message as one frame.
    ///
    /// Client messages are small and fixed-size; the `Result` keeps the signature the
    /// same as [`ServerMessage::encode`](super::ServerMessage::encode).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let w = Writer::new(self.message_type(), 8);
        let w = match *self {
            ClientMessage::Hello { version } => w.u8(version),
            ClientMessage::RequestKeyframe => w,
            ClientMessage::Ping { client_ts_us } => w.u64(client_ts_us),
            ClientMessage::KeyDown { code } | ClientMessage::KeyUp { code } => w.u32(code),
            ClientMessage::MouseMove { x, y } => w.i32(x).i32(y),
            ClientMessage::MouseButton { button, down } => w.u8(button).bool(down),
            ClientMessage::Scroll { dx, dy } => w.i32(dx).i32(dy),
        };
        Ok(w.finish())
    }

    /// Decodes one frame received from a viewer.
    pub fn decode(frame: &[u8]) -> Result<Self> {
        let (message_type, mut r) = wire::open(frame)?;
        let name = name(message_type).ok_or_else(|| unknown(message_type))?;
        r.message(name);
        let message = match message_type {
            HELLO => ClientMessage::Hello {
                version: r.u8("version")?,
            },
            REQUEST_KEYFRAME => ClientMessage::RequestKeyframe,
            PING => ClientMessage::Ping {
                client_ts_us: r.u64("client_ts_us")?,
            },
            KEY_DOWN => ClientMessage::KeyDown {
                code: r.u32("code")?,
            },
            KEY_UP => ClientMessage::KeyUp {
                code: r.u32("code")?,
            },
            MOUSE_MOVE => ClientMessage::MouseMove {
                x: r.i32("x")?,
                y: r.i32("y")?,
            },
            MOUSE_BUTTON => ClientMessage::MouseButton {
                button: r.u8("button")?,
                down: r.bool("down")?,
            },
            SCROLL => ClientMessage::Scroll {
                dx: r.i32("dx")?,
                dy: r.i32("dy")?,
            },
            _ => return Err(unknown(message_type)),
        };
        r.finish()?;
        Ok(message)
    }
}

fn name(message_type: u8) -> Option<&'static str> {
    Some(match message_type {
        HELLO => "hello",
        REQUEST_KEYFRAME => "request_keyframe",
        PING => "ping",
        KEY_DOWN => "key_down",
        KEY_UP => "key_up",
        MOUSE_MOVE => "mouse_move",
        MOUSE_BUTTON => "mouse_button",
        SCROLL => "scroll",
        _ => return None,
    })
}

fn unknown(message_type: u8) -> StreamError {
    StreamError::UnknownMessageType {
        direction: "client",
        message_type,
    }
}
