//! Input injection into a wlroots Wayland compositor (feature `wayland`): the virtual
//! keyboard (`zwp_virtual_keyboard_v1`) and virtual pointer (`zwlr_virtual_pointer_v1`)
//! protocols, which Sway offers to its clients.
//!
//! A headless seat has no keyboard of its own, so the virtual keyboard brings its keymap:
//! a US layout on evdev key codes (`us.xkb`), which makes key events from HID usages
//! (evdev codes) mean the same keys as on X11. Text is typed through that keymap
//! (ASCII; other characters are skipped).

use crate::input::{hid_to_evdev, InputEvent, InputSink, LazyInput, CONNECTION_GONE};
use crate::protocol::TouchPhase;
use crate::{Result, StreamError};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_output, wl_pointer, wl_registry, wl_seat};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1;
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1;
use wayland_protocols_wlr::virtual_pointer::v1::client::zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1;
use wayland_protocols_wlr::virtual_pointer::v1::client::zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1;

/// The keymap the virtual keyboard announces (xkbcomp of a US layout, evdev rules).
const KEYMAP: &str = include_str!("us.xkb");
/// Linux input button codes.
const BTN_LEFT: u32 = 0x110;
const BTN_RIGHT: u32 = 0x111;
const BTN_MIDDLE: u32 = 0x112;
const BTN_SIDE: u32 = 0x113;
const BTN_EXTRA: u32 = 0x114;
const KEY_LEFTSHIFT: u32 = 42;

/// Injects input into a Wayland compositor.
#[derive(Debug)]
pub struct WaylandInput {
    tx: mpsc::SyncSender<InputEvent>,
}

impl WaylandInput {
    /// Connects to the compositor at `socket` and creates a virtual keyboard and pointer
    /// on its seat (pointer positions span its first output); fails if it lacks either
    /// protocol.
    pub fn connect(socket: &Path) -> Result<Self> {
        let mut devices = Devices::connect(socket)?;
        let (tx, rx) = mpsc::sync_channel::<InputEvent>(1024);
        let name = socket.display().to_string();
        std::thread::Builder::new()
            .name("wayland-input".into())
            .spawn(move || {
                while let Ok(event) = rx.recv() {
                    if let Err(e) = devices.inject(event) {
                        tracing::warn!(socket = %name, error = %e, "input injection stopped");
                        break;
                    }
                }
            })
            .map_err(|e| StreamError::Input(format!("cannot start the input thread: {e}")))?;
        Ok(WaylandInput { tx })
    }
}

impl InputSink for WaylandInput {
    fn inject(&self, event: InputEvent) -> Result<()> {
        self.tx.try_send(event).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => StreamError::Input("too much input queued".into()),
            mpsc::TrySendError::Disconnected(_) => StreamError::Input(CONNECTION_GONE.into()),
        })
    }
}

/// A [`WaylandInput`] that connects on first use and reconnects after the compositor
/// comes back.
pub type LazyWaylandInput = LazyInput<WaylandInput>;

impl LazyInput<WaylandInput> {
    /// Input for the compositor at `socket`, connected when the first event comes.
    pub fn new(socket: impl Into<std::path::PathBuf>) -> Self {
        let socket = socket.into();
        LazyInput::with(move || WaylandInput::connect(&socket))
    }
}

/// What the compositor tells while connecting: the first output's current size.
#[derive(Default)]
struct State {
    size: Option<(u32, u32)>,
}

impl Dispatch<wl_output::WlOutput, ()> for State {
    fn event(
        state: &mut Self,
        _: &wl_output::WlOutput,
        event: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_output::Event::Mode {
            flags,
            width,
            height,
            ..
        } = event
        {
            let current = matches!(flags, wayland_client::WEnum::Value(f) if f.contains(wl_output::Mode::Current));
            if current && state.size.is_none() && width > 0 && height > 0 {
                state.size = Some((width as u32, height as u32));
            }
        }
    }
}

macro_rules! ignore_events {
    ($($t:ty),*) => {$(
        impl Dispatch<$t, ()> for State {
            fn event(_: &mut Self, _: &$t, _: <$t as wayland_client::Proxy>::Event, _: &(), _: &Connection, _: &QueueHandle<Self>) {}
        }
    )*};
}
ignore_events!(
    wl_seat::WlSeat,
    ZwpVirtualKeyboardManagerV1,
    ZwpVirtualKeyboardV1,
    ZwlrVirtualPointerManagerV1,
    ZwlrVirtualPointerV1
);

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

struct Devices {
    conn: Connection,
    keyboard: ZwpVirtualKeyboardV1,
    pointer: ZwlrVirtualPointerV1,
    width: u32,
    height: u32,
    start: Instant,
    scroll: (i32, i32),
    touch: Option<u32>,
    /// Modifier bits held down.
    modifiers: u32,
}

fn wl_err(e: impl std::fmt::Display) -> StreamError {
    StreamError::Input(e.to_string())
}

impl Devices {
    fn connect(socket: &Path) -> Result<Self> {
        let stream = UnixStream::connect(socket).map_err(|e| {
            StreamError::Input(format!("cannot connect to {}: {e}", socket.display()))
        })?;
        let conn = Connection::from_socket(stream).map_err(wl_err)?;
        let (globals, mut queue) = registry_queue_init::<State>(&conn).map_err(wl_err)?;
        let qh = queue.handle();
        let seat: wl_seat::WlSeat = globals.bind(&qh, 1..=7, ()).map_err(wl_err)?;
        let _output: wl_output::WlOutput = globals
            .bind(&qh, 1..=4, ())
            .map_err(|e| StreamError::Input(format!("the compositor has no output: {e}")))?;
        let keyboards: ZwpVirtualKeyboardManagerV1 = globals.bind(&qh, 1..=1, ()).map_err(|e| {
            StreamError::Input(format!("the compositor has no virtual keyboard: {e}"))
        })?;
        let pointers: ZwlrVirtualPointerManagerV1 = globals.bind(&qh, 1..=2, ()).map_err(|e| {
            StreamError::Input(format!("the compositor has no virtual pointer: {e}"))
        })?;
        let keyboard = keyboards.create_virtual_keyboard(&seat, &qh, ());
        let pointer = pointers.create_virtual_pointer(Some(&seat), &qh, ());
        // The keymap goes as a file descriptor, NUL-terminated.
        let mut file = tempfile::tempfile().map_err(wl_err)?;
        file.write_all(KEYMAP.as_bytes())
            .and_then(|_| file.write_all(&[0]))
            .map_err(wl_err)?;
        keyboard.keymap(1, file.as_fd(), (KEYMAP.len() + 1) as u32);
        let mut state = State::default();
        queue.roundtrip(&mut state).map_err(wl_err)?;
        let (width, height) = state
            .size
            .ok_or_else(|| StreamError::Input("the compositor's output has no size".into()))?;
        Ok(Devices {
            conn,
            keyboard,
            pointer,
            width: width.max(1),
            height: height.max(1),
            start: Instant::now(),
            scroll: (0, 0),
            touch: None,
            modifiers: 0,
        })
    }

    fn time(&self) -> u32 {
        self.start.elapsed().as_millis() as u32
    }

    fn key(&mut self, evdev: u32, down: bool) {
        self.keyboard.key(self.time(), evdev, u32::from(down));
        // A virtual keyboard's client owns its modifier state: say it after every
        // modifier key (the keymap's Shift, Control, Mod1 and Mod4 bits).
        let bit = match evdev {
            42 | 54 => 1 << 0,
            29 | 97 => 1 << 2,
            56 | 100 => 1 << 3,
            125 | 126 => 1 << 6,
            _ => return,
        };
        if down {
            self.modifiers |= bit;
        } else {
            self.modifiers &= !bit;
        }
        self.keyboard.modifiers(self.modifiers, 0, 0, 0);
    }

    fn move_to(&self, x: i32, y: i32) {
        let x = x.clamp(0, self.width as i32 - 1) as u32;
        let y = y.clamp(0, self.height as i32 - 1) as u32;
        self.pointer
            .motion_absolute(self.time(), x, y, self.width, self.height);
        self.pointer.frame();
    }

    fn button(&self, code: u32, down: bool) {
        let state = if down {
            wl_pointer::ButtonState::Pressed
        } else {
            wl_pointer::ButtonState::Released
        };
        self.pointer.button(self.time(), code, state);
        self.pointer.frame();
    }

    fn inject(&mut self, event: InputEvent) -> Result<()> {
        match event {
            InputEvent::Key { code, down } => {
                if let Some(evdev) = hid_to_evdev(code) {
                    self.key(u32::from(evdev), down);
                }
            }
            InputEvent::Text(text) => {
                for c in text.chars() {
                    if let Some((evdev, shift)) = ascii_key(c) {
                        if shift {
                            self.key(KEY_LEFTSHIFT, true);
                        }
                        self.key(evdev, true);
                        self.key(evdev, false);
                        if shift {
                            self.key(KEY_LEFTSHIFT, false);
                        }
                    }
                }
            }
            InputEvent::PointerMove { x, y } => self.move_to(x, y),
            InputEvent::Button { button, down } => {
                let code = match button {
                    0 => BTN_LEFT,
                    1 => BTN_MIDDLE,
                    2 => BTN_RIGHT,
                    3 => BTN_SIDE,
                    4 => BTN_EXTRA,
                    _ => return Ok(()),
                };
                self.button(code, down);
            }
            InputEvent::Scroll { dx, dy } => {
                // Wayland axis values are in the same units as pointer motion.
                self.scroll = (
                    self.scroll.0.saturating_add(dx),
                    self.scroll.1.saturating_add(dy),
                );
                let t = self.time();
                if self.scroll.1 != 0 {
                    self.pointer.axis(
                        t,
                        wl_pointer::Axis::VerticalScroll,
                        f64::from(self.scroll.1),
                    );
                }
                if self.scroll.0 != 0 {
                    self.pointer.axis(
                        t,
                        wl_pointer::Axis::HorizontalScroll,
                        f64::from(self.scroll.0),
                    );
                }
                self.scroll = (0, 0);
                self.pointer.frame();
            }
            InputEvent::Touch { id, phase, x, y } => {
                if self.touch.is_some_and(|t| t != id) && !matches!(phase, TouchPhase::Cancel) {
                    return Ok(());
                }
                self.move_to(x, y);
                match phase {
                    TouchPhase::Start if self.touch.is_none() => {
                        self.touch = Some(id);
                        self.button(BTN_LEFT, true);
                    }
                    TouchPhase::End | TouchPhase::Cancel if self.touch.is_some() => {
                        self.touch = None;
                        self.button(BTN_LEFT, false);
                    }
                    _ => {}
                }
            }
        }
        self.conn.flush().map_err(wl_err)
    }
}

/// The evdev key code (and whether shift is needed) of an ASCII character on a US
/// keyboard.
fn ascii_key(c: char) -> Option<(u32, bool)> {
    const ROW: [(&str, &str, u32); 4] = [
        ("1234567890", "!@#$%^&*()", 2),
        ("qwertyuiop", "QWERTYUIOP", 16),
        ("asdfghjkl", "ASDFGHJKL", 30),
        ("zxcvbnm", "ZXCVBNM", 44),
    ];
    for (plain, shifted, first) in ROW {
        if let Some(i) = plain.find(c) {
            return Some((first + i as u32, false));
        }
        if let Some(i) = shifted.find(c) {
            return Some((first + i as u32, true));
        }
    }
    Some(match c {
        ' ' => (57, false),
        '\n' | '\r' => (28, false),
        '\t' => (15, false),
        '-' => (12, false),
        '_' => (12, true),
        '=' => (13, false),
        '+' => (13, true),
        '[' => (26, false),
        '{' => (26, true),
        ']' => (27, false),
        '}' => (27, true),
        ';' => (39, false),
        ':' => (39, true),
        '\'' => (40, false),
        '"' => (40, true),
        '`' => (41, false),
        '~' => (41, true),
        '\\' => (43, false),
        '|' => (43, true),
        ',' => (51, false),
        '<' => (51, true),
        '.' => (52, false),
        '>' => (52, true),
        '/' => (53, false),
        '?' => (53, true),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::ascii_key;

    #[test]
    fn ascii_maps_to_us_keys() {
        assert_eq!(ascii_key('a'), Some((30, false)));
        assert_eq!(ascii_key('A'), Some((30, true)));
        assert_eq!(ascii_key('1'), Some((2, false)));
        assert_eq!(ascii_key(')'), Some((11, true)));
        assert_eq!(ascii_key('?'), Some((53, true)));
        assert_eq!(ascii_key('é'), None);
    }
}
