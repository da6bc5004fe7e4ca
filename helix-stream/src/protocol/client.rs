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
const TEXT: u8 = 0x89;
const TOUCH: u8 = 0x8A;
const SET_BITRATE: u8 = 0x8B;
const CLIPBOARD: u8 = 0x8C;

/// The longest [`ClientMessage::Text`], in bytes of UTF-8.
pub const MAX_TEXT_LEN: usize = 4096;

/// The longest clipboard text either side sends, in bytes of UTF-8 (it fits in one
/// viewer frame).
pub const MAX_CLIPBOARD_LEN: usize = 60_000;

/// The bitrates a viewer may ask for with [`ClientMessage::SetBitrate`], in kbit/s.
pub const BITRATE_RANGE_KBPS: std::ops::RangeInclusive<u32> = 100..=50_000;

/// The phase of a [`ClientMessage::Touch`] (the DOM's touchstart, touchmove, touchend,
/// touchcancel).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TouchPhase {
    /// The finger touched (wire `0`).
    Start,
    /// The finger moved (wire `1`).
    Move,
    /// The finger lifted (wire `2`).
    End,
    /// The touch was cancelled (wire `3`).
    Cancel,
}

impl TouchPhase {
    /// The phase for a wire id, or `None`.
    pub fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => TouchPhase::Start,
            1 => TouchPhase::Move,
            2 => TouchPhase::End,
            3 => TouchPhase::Cancel,
            _ => return None,
        })
    }

    /// The wire id.
    pub fn id(self) -> u8 {
        match self {
            TouchPhase::Start => 0,
            TouchPhase::Move => 1,
            TouchPhase::End => 2,
            TouchPhase::Cancel => 3,
        }
    }
}

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
    /// Text to type as it is (an input method's result, a paste), at most
    /// [`MAX_TEXT_LEN`] bytes.
    Text {
        /// The text.
        text: String,
    },
    /// A finger on a touch screen, at an absolute position in video pixels.
    Touch {
        /// Identifies the finger for the duration of the touch.
        id: u32,
        /// What the finger did.
        phase: TouchPhase,
        /// Pixels from the left edge.
        x: i32,
        /// Pixels from the top edge.
        y: i32,
    },
    /// Asks the encoder for another bitrate (within [`BITRATE_RANGE_KBPS`]).
    SetBitrate {
        /// Kilobits per second.
        kbps: u32,
    },
    /// Sets the desktop's clipboard (at most [`MAX_CLIPBOARD_LEN`] bytes).
    Clipboard {
        /// The text.
        text: String,
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
            ClientMessage::Text { .. } => TEXT,
            ClientMessage::Touch { .. } => TOUCH,
            ClientMessage::SetBitrate { .. } => SET_BITRATE,
            ClientMessage::Clipboard { .. } => CLIPBOARD,
        }
    }

    /// A short `snake_case` name for logs and errors.
    pub fn name(&self) -> &'static str {
        name(self.message_type()).unwrap_or("unknown")
    }

    /// Encodes the message as one frame.
    ///
    /// Fails with [`StreamError::InvalidField`] for a `Text` longer than
    /// [`MAX_TEXT_LEN`]; every other client message is small and fixed-size.
    pub fn encode(&self) -> Result<Vec<u8>> {
        match self {
            ClientMessage::Text { text } if text.len() > MAX_TEXT_LEN => {
                return Err(too_long("text", text.len(), MAX_TEXT_LEN));
            }
            ClientMessage::Clipboard { text } if text.len() > MAX_CLIPBOARD_LEN => {
                return Err(too_long("clipboard", text.len(), MAX_CLIPBOARD_LEN));
            }
            _ => {}
        }
        let w = Writer::new(self.message_type(), 16);
        let w = match *self {
            ClientMessage::Hello { version } => w.u8(version),
            ClientMessage::RequestKeyframe => w,
            ClientMessage::Ping { client_ts_us } => w.u64(client_ts_us),
            ClientMessage::KeyDown { code } | ClientMessage::KeyUp { code } => w.u32(code),
            ClientMessage::MouseMove { x, y } => w.i32(x).i32(y),
            ClientMessage::MouseButton { button, down } => w.u8(button).bool(down),
            ClientMessage::Scroll { dx, dy } => w.i32(dx).i32(dy),
            ClientMessage::Text { ref text } => w.bytes(text.as_bytes()),
            ClientMessage::Touch { id, phase, x, y } => w.u32(id).u8(phase.id()).i32(x).i32(y),
            ClientMessage::SetBitrate { kbps } => w.u32(kbps),
            ClientMessage::Clipboard { ref text } => w.bytes(text.as_bytes()),
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
            TEXT => {
                let text = r.string("text")?;
                if text.len() > MAX_TEXT_LEN {
                    return Err(r.invalid(
                        "text",
                        format!("{} bytes is more than {MAX_TEXT_LEN}", text.len()),
                    ));
                }
                ClientMessage::Text { text }
            }
            TOUCH => ClientMessage::Touch {
                id: r.u32("id")?,
                phase: {
                    let id = r.u8("phase")?;
                    TouchPhase::from_id(id)
                        .ok_or_else(|| r.invalid("phase", format!("unknown touch phase {id}")))?
                },
                x: r.i32("x")?,
                y: r.i32("y")?,
            },
            SET_BITRATE => {
                let kbps = r.u32("kbps")?;
                if !BITRATE_RANGE_KBPS.contains(&kbps) {
                    return Err(r.invalid(
                        "kbps",
                        format!(
                            "{kbps} is outside {}..={}",
                            BITRATE_RANGE_KBPS.start(),
                            BITRATE_RANGE_KBPS.end()
                        ),
                    ));
                }
                ClientMessage::SetBitrate { kbps }
            }
            CLIPBOARD => {
                let text = r.string("text")?;
                if text.len() > MAX_CLIPBOARD_LEN {
                    return Err(r.invalid(
                        "text",
                        format!("{} bytes is more than {MAX_CLIPBOARD_LEN}", text.len()),
                    ));
                }
                ClientMessage::Clipboard { text }
            }
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
        TEXT => "text",
        TOUCH => "touch",
        SET_BITRATE => "set_bitrate",
        CLIPBOARD => "clipboard",
        _ => return None,
    })
}

fn too_long(message: &'static str, len: usize, max: usize) -> StreamError {
    StreamError::InvalidField {
        message,
        field: "text",
        reason: format!("{len} bytes is more than {max}"),
    }
}

fn unknown(message_type: u8) -> StreamError {
    StreamError::UnknownMessageType {
        direction: "client",
        message_type,
    }
}
