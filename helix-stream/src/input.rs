//! Input from viewers, and the seam that injects it into a desktop.

use crate::protocol::{ClientMessage, TouchPhase};
use crate::Result;
use std::fmt;

/// One input event from a viewer, in video pixels and USB HID key usages.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    /// A physical key, by USB HID usage id (keyboard page 0x07).
    Key {
        /// The usage id.
        code: u32,
        /// Pressed or released.
        down: bool,
    },
    /// Text to type as it is.
    Text(String),
    /// The pointer moved to an absolute position.
    PointerMove {
        /// Pixels from the left edge.
        x: i32,
        /// Pixels from the top edge.
        y: i32,
    },
    /// A mouse button (DOM numbering: 0 main, 1 middle, 2 secondary, 3 back, 4 forward).
    Button {
        /// The DOM button number.
        button: u8,
        /// Pressed or released.
        down: bool,
    },
    /// Wheel or touchpad scrolling, in pixels.
    Scroll {
        /// Positive to the right.
        dx: i32,
        /// Positive downwards.
        dy: i32,
    },
    /// A finger on a touch screen.
    Touch {
        /// The finger.
        id: u32,
        /// What it did.
        phase: TouchPhase,
        /// Pixels from the left edge.
        x: i32,
        /// Pixels from the top edge.
        y: i32,
    },
}

impl InputEvent {
    /// The input event a viewer's message carries, if it is one.
    pub fn from_message(message: &ClientMessage) -> Option<Self> {
        Some(match message {
            ClientMessage::KeyDown { code } => InputEvent::Key {
                code: *code,
                down: true,
            },
            ClientMessage::KeyUp { code } => InputEvent::Key {
                code: *code,
                down: false,
            },
            ClientMessage::Text { text } => InputEvent::Text(text.clone()),
            ClientMessage::MouseMove { x, y } => InputEvent::PointerMove { x: *x, y: *y },
            ClientMessage::MouseButton { button, down } => InputEvent::Button {
                button: *button,
                down: *down,
            },
            ClientMessage::Scroll { dx, dy } => InputEvent::Scroll { dx: *dx, dy: *dy },
            ClientMessage::Touch { id, phase, x, y } => InputEvent::Touch {
                id: *id,
                phase: *phase,
                x: *x,
                y: *y,
            },
            _ => return None,
        })
    }
}

/// Injects viewers' input into a desktop (XTest on X11). Non-blocking.
pub trait InputSink: Send + Sync + 'static {
    /// Injects one event. Unknown keys and buttons are ignored, not errors.
    fn inject(&self, event: InputEvent) -> Result<()>;
}

impl fmt::Debug for dyn InputSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InputSink")
    }
}

/// How an input connection says it is gone (the display or compositor went away), so
/// [`LazyInput`] reconnects.
pub(crate) const CONNECTION_GONE: &str = "the display connection is gone";

/// An input sink that connects on first use and reconnects after its display goes
/// away and comes back (a desktop whose display starts after Helix, or restarts).
pub struct LazyInput<S> {
    connect: Box<dyn Fn() -> Result<S> + Send + Sync>,
    current: std::sync::Mutex<Option<S>>,
}

impl<S> fmt::Debug for LazyInput<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LazyInput")
    }
}

impl<S: InputSink> LazyInput<S> {
    /// Input that calls `connect` when the first event comes, and again after the
    /// connection is gone.
    pub fn with(connect: impl Fn() -> Result<S> + Send + Sync + 'static) -> Self {
        LazyInput {
            connect: Box::new(connect),
            current: std::sync::Mutex::new(None),
        }
    }
}

impl<S: InputSink> InputSink for LazyInput<S> {
    fn inject(&self, event: InputEvent) -> Result<()> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(input) = current.as_ref() {
            match input.inject(event.clone()) {
                Err(crate::StreamError::Input(why)) if why == CONNECTION_GONE => *current = None,
                other => return other,
            }
        }
        let input = (self.connect)()?;
        let result = input.inject(event);
        *current = Some(input);
        result
    }
}

/// Sets a desktop's clipboard (the X `CLIPBOARD` selection). Non-blocking.
pub trait ClipboardSync: Send + Sync + 'static {
    /// Makes `text` what the desktop's applications paste.
    fn set(&self, text: String) -> Result<()>;
}

impl fmt::Debug for dyn ClipboardSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClipboardSync")
    }
}

/// The Linux evdev key code of a USB HID keyboard usage id (the table the kernel's HID
/// driver uses), or `None` for a usage with no key. X servers using the evdev rules
/// (Xorg, Xvfb, Xwayland) add 8 to get an X key code.
pub fn hid_to_evdev(usage: u32) -> Option<u8> {
    const TABLE: [u8; 0x66] = [
        0, 0, 0, 0, 30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, // 0x00
        50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44, 2, 3, // 0x10
        4, 5, 6, 7, 8, 9, 10, 11, 28, 1, 14, 15, 57, 12, 13, 26, // 0x20
        27, 43, 43, 39, 40, 41, 51, 52, 53, 58, 59, 60, 61, 62, 63, 64, // 0x30
        65, 66, 67, 68, 87, 88, 99, 70, 119, 110, 102, 104, 111, 107, 109, 106, // 0x40
        105, 108, 103, 69, 98, 55, 74, 78, 96, 79, 80, 81, 75, 76, 77, 71, // 0x50
        72, 73, 82, 83, 86, 127, // 0x60
    ];
    let code = match usage {
        0..=0x65 => TABLE[usage as usize],
        0xE0 => 29,  // left control
        0xE1 => 42,  // left shift
        0xE2 => 56,  // left alt
        0xE3 => 125, // left meta
        0xE4 => 97,  // right control
        0xE5 => 54,  // right shift
        0xE6 => 100, // right alt
        0xE7 => 126, // right meta
        _ => 0,
    };
    (code != 0).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hid_usages_map_to_evdev_codes() {
        // a, z, 1, 0, Enter, Space, F1, F12, arrows, keypad 0, modifiers.
        let cases = [
            (0x04, 30),
            (0x1D, 44),
            (0x1E, 2),
            (0x27, 11),
            (0x28, 28),
            (0x2C, 57),
            (0x3A, 59),
            (0x45, 88),
            (0x4F, 106),
            (0x52, 103),
            (0x62, 82),
            (0xE0, 29),
            (0xE7, 126),
        ];
        for (usage, evdev) in cases {
            assert_eq!(hid_to_evdev(usage), Some(evdev), "usage {usage:#x}");
        }
        for usage in [0, 1, 3, 0x66, 0xDF, 0xE8, u32::MAX] {
            assert_eq!(hid_to_evdev(usage), None, "usage {usage:#x}");
        }
    }

    #[test]
    fn lazy_input_connects_on_first_use_and_again_when_gone() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        struct Sink(Arc<AtomicUsize>);
        impl InputSink for Sink {
            fn inject(&self, _: InputEvent) -> Result<()> {
                // The second event finds the first connection gone.
                if self.0.fetch_add(1, Ordering::SeqCst) == 1 {
                    Err(crate::StreamError::Input(CONNECTION_GONE.into()))
                } else {
                    Ok(())
                }
            }
        }
        let (connects, events) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (c, e) = (connects.clone(), events.clone());
        let lazy = LazyInput::with(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(Sink(e.clone()))
        });
        assert_eq!(
            connects.load(Ordering::SeqCst),
            0,
            "nothing until the first event"
        );
        let key = InputEvent::Key {
            code: 4,
            down: true,
        };
        lazy.inject(key.clone()).unwrap();
        lazy.inject(key.clone()).unwrap();
        assert_eq!(
            connects.load(Ordering::SeqCst),
            2,
            "reconnected after the connection went"
        );
        assert_eq!(
            events.load(Ordering::SeqCst),
            3,
            "the event was delivered on the new one"
        );
        let failing: LazyInput<Sink> =
            LazyInput::with(|| Err(crate::StreamError::Input("no display".into())));
        assert_eq!(failing.inject(key).unwrap_err().code(), "input_failed");
    }

    #[test]
    fn only_input_messages_become_events() {
        assert_eq!(
            InputEvent::from_message(&ClientMessage::KeyUp { code: 4 }),
            Some(InputEvent::Key {
                code: 4,
                down: false
            })
        );
        assert_eq!(
            InputEvent::from_message(&ClientMessage::Ping { client_ts_us: 1 }),
            None
        );
        assert_eq!(
            InputEvent::from_message(&ClientMessage::SetBitrate { kbps: 1000 }),
            None
        );
    }
}
