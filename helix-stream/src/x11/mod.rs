//! Input injection into an X server through the XTest extension (feature `x11`).
//!
//! [`X11Input`] owns one X connection on its own thread; [`InputSink::inject`] only
//! queues. Keys arrive as USB HID usages and are pressed as evdev key codes + 8 (the
//! layout-independent path: the X server's own keymap turns them into characters);
//! text is typed by keysym, borrowing an unused key code for characters the keymap
//! lacks, as xdotool does.

pub mod clipboard;

use crate::input::{hid_to_evdev, InputEvent, InputSink, LazyInput, CONNECTION_GONE};
use crate::protocol::TouchPhase;
use crate::{Result, StreamError};
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

/// Events queued for the display before injection refuses more.
const QUEUE: usize = 1024;
/// Scroll pixels per wheel click (browsers report 100 per notch, touchpads less).
const SCROLL_STEP: i32 = 50;
const SHIFT_L: u32 = 0xffe1;

/// Injects input into an X display.
#[derive(Debug)]
pub struct X11Input {
    tx: mpsc::SyncSender<InputEvent>,
    width: u16,
    height: u16,
}

impl X11Input {
    /// Connects to `display` (`:99`) and checks that it has XTest.
    pub fn connect(display: &str) -> Result<Self> {
        crate::display::validate(display)?;
        let mut injector = Injector::connect(display)?;
        let (width, height) = (injector.width, injector.height);
        let (tx, rx) = mpsc::sync_channel::<InputEvent>(QUEUE);
        let name = display.to_owned();
        std::thread::Builder::new()
            .name(format!("x11-input {display}"))
            .spawn(move || {
                while let Ok(event) = rx.recv() {
                    if let Err(e) = injector.inject(event) {
                        tracing::warn!(display = %name, error = %e, "input injection stopped");
                        break;
                    }
                }
            })
            .map_err(|e| StreamError::Input(format!("cannot start the input thread: {e}")))?;
        Ok(X11Input { tx, width, height })
    }

    /// The screen size, in pixels.
    pub fn screen_size(&self) -> (u16, u16) {
        (self.width, self.height)
    }
}

impl InputSink for X11Input {
    fn inject(&self, event: InputEvent) -> Result<()> {
        self.tx.try_send(event).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => StreamError::Input("too much input queued".into()),
            mpsc::TrySendError::Disconnected(_) => StreamError::Input(CONNECTION_GONE.into()),
        })
    }
}

/// An [`X11Input`] that connects on first use and reconnects after the display comes
/// back.
pub type LazyX11Input = LazyInput<X11Input>;

impl LazyInput<X11Input> {
    /// Input for `display`, connected when the first event comes.
    pub fn new(display: &str) -> Result<Self> {
        crate::display::validate(display)?;
        let display = display.to_owned();
        Ok(LazyInput::with(move || X11Input::connect(&display)))
    }
}

struct Injector {
    conn: RustConnection,
    root: xproto::Window,
    width: u16,
    height: u16,
    /// keysym -> (key code, needs shift), from the server's keymap.
    keysyms: HashMap<u32, (u8, bool)>,
    per_keycode: u8,
    /// Key codes with no symbols, borrowed to type characters the keymap lacks.
    spares: Vec<u8>,
    scroll: (i32, i32),
    touch: Option<u32>,
}

fn x_err(e: impl std::fmt::Display) -> StreamError {
    StreamError::Input(e.to_string())
}

impl Injector {
    fn connect(display: &str) -> Result<Self> {
        let (conn, screen) = x11rb::connect(Some(display))
            .map_err(|e| StreamError::Input(format!("cannot open display {display}: {e}")))?;
        conn.xtest_get_version(2, 2)
            .map_err(x_err)?
            .reply()
            .map_err(|e| StreamError::Input(format!("display {display} has no XTest: {e}")))?;
        let s = &conn.setup().roots[screen];
        let (root, width, height) = (s.root, s.width_in_pixels, s.height_in_pixels);
        let mut injector = Injector {
            conn,
            root,
            width,
            height,
            keysyms: HashMap::new(),
            per_keycode: 1,
            spares: Vec::new(),
            scroll: (0, 0),
            touch: None,
        };
        injector.load_keymap()?;
        Ok(injector)
    }

    fn load_keymap(&mut self) -> Result<()> {
        let (min, max) = (self.conn.setup().min_keycode, self.conn.setup().max_keycode);
        let map = self
            .conn
            .get_keyboard_mapping(min, max - min + 1)
            .map_err(x_err)?
            .reply()
            .map_err(x_err)?;
        let per = map.keysyms_per_keycode.max(1);
        self.per_keycode = per;
        self.keysyms.clear();
        self.spares.clear();
        for (i, syms) in map.keysyms.chunks(per as usize).enumerate() {
            let keycode = min + i as u8;
            if syms.iter().all(|s| *s == 0) {
                self.spares.push(keycode);
                continue;
            }
            for (level, sym) in syms.iter().take(2).enumerate() {
                if *sym != 0 {
                    self.keysyms.entry(*sym).or_insert((keycode, level == 1));
                }
            }
        }
        Ok(())
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) -> Result<()> {
        self.conn
            .xtest_fake_input(kind, detail, x11rb::CURRENT_TIME, self.root, x, y, 0)
            .map_err(x_err)?;
        Ok(())
    }

    fn clamp(&self, x: i32, y: i32) -> (i16, i16) {
        let x = x.clamp(0, i32::from(self.width.max(1)) - 1);
        let y = y.clamp(0, i32::from(self.height.max(1)) - 1);
        (x as i16, y as i16)
    }

    fn key(&self, keycode: u8, down: bool) -> Result<()> {
        let kind = if down {
            xproto::KEY_PRESS_EVENT
        } else {
            xproto::KEY_RELEASE_EVENT
        };
        self.fake(kind, keycode, 0, 0)
    }

    fn button(&self, button: u8, down: bool) -> Result<()> {
        let kind = if down {
            xproto::BUTTON_PRESS_EVENT
        } else {
            xproto::BUTTON_RELEASE_EVENT
        };
        self.fake(kind, button, 0, 0)
    }

    fn inject(&mut self, event: InputEvent) -> Result<()> {
        match event {
            InputEvent::Key { code, down } => {
                if let Some(evdev) = hid_to_evdev(code) {
                    self.key(evdev + 8, down)?;
                }
            }
            InputEvent::Text(text) => self.type_text(&text)?,
            InputEvent::PointerMove { x, y } => {
                let (x, y) = self.clamp(x, y);
                self.fake(xproto::MOTION_NOTIFY_EVENT, 0, x, y)?;
            }
            InputEvent::Button { button, down } => {
                // DOM 0 main, 1 middle, 2 secondary, 3 back, 4 forward -> X 1, 2, 3, 8, 9.
                let x_button = match button {
                    0 => 1,
                    1 => 2,
                    2 => 3,
                    3 => 8,
                    4 => 9,
                    _ => return Ok(()),
                };
                self.button(x_button, down)?;
            }
            InputEvent::Scroll { dx, dy } => {
                self.scroll.0 = self.scroll.0.saturating_add(dx);
                self.scroll.1 = self.scroll.1.saturating_add(dy);
                // X wheel buttons: 4 up, 5 down, 6 left, 7 right; at most 20 clicks a go.
                for _ in 0..20 {
                    let click = if self.scroll.1 <= -SCROLL_STEP {
                        self.scroll.1 += SCROLL_STEP;
                        4
                    } else if self.scroll.1 >= SCROLL_STEP {
                        self.scroll.1 -= SCROLL_STEP;
                        5
                    } else if self.scroll.0 <= -SCROLL_STEP {
                        self.scroll.0 += SCROLL_STEP;
                        6
                    } else if self.scroll.0 >= SCROLL_STEP {
                        self.scroll.0 -= SCROLL_STEP;
                        7
                    } else {
                        break;
                    };
                    self.button(click, true)?;
                    self.button(click, false)?;
                }
                self.scroll.0 = self.scroll.0.clamp(-SCROLL_STEP, SCROLL_STEP);
                self.scroll.1 = self.scroll.1.clamp(-SCROLL_STEP, SCROLL_STEP);
            }
            InputEvent::Touch { id, phase, x, y } => {
                // The first finger drives the pointer with the main button.
                if self.touch.is_some_and(|t| t != id) {
                    return Ok(());
                }
                let (x, y) = self.clamp(x, y);
                self.fake(xproto::MOTION_NOTIFY_EVENT, 0, x, y)?;
                match phase {
                    TouchPhase::Start if self.touch.is_none() => {
                        self.touch = Some(id);
                        self.button(1, true)?;
                    }
                    TouchPhase::End | TouchPhase::Cancel if self.touch == Some(id) => {
                        self.touch = None;
                        self.button(1, false)?;
                    }
                    _ => {}
                }
            }
        }
        self.conn.flush().map_err(x_err)?;
        Ok(())
    }

    fn type_text(&mut self, text: &str) -> Result<()> {
        let shift = self.keysyms.get(&SHIFT_L).map(|(k, _)| *k);
        let chars: Vec<u32> = text.chars().map(keysym_for).collect();
        let mut rest = &chars[..];
        while !rest.is_empty() {
            // As many characters as the spare key codes cover: characters the keymap
            // lacks borrow one each, mapped all at once (clients reload their keymap on
            // MappingNotify, which takes a moment: one pause per batch, not per key).
            let mut borrowed: Vec<(u32, u8)> = Vec::new();
            let mut n = 0;
            for &sym in rest {
                if self.keysyms.contains_key(&sym) || borrowed.iter().any(|(s, _)| *s == sym) {
                    n += 1;
                    continue;
                }
                match self.spares.get(borrowed.len()) {
                    Some(&spare) => {
                        borrowed.push((sym, spare));
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                // No spare key code at all: skip what cannot be typed.
                n = 1;
            }
            let (batch, after) = rest.split_at(n);
            rest = after;
            self.remap(&borrowed, false)?;
            for &sym in batch {
                let (keycode, with_shift) = match self.keysyms.get(&sym) {
                    Some(&(k, s)) => (k, s),
                    None => match borrowed.iter().find(|(s, _)| *s == sym) {
                        Some(&(_, k)) => (k, false),
                        None => continue,
                    },
                };
                let shift = if with_shift { shift } else { None };
                if let Some(s) = shift {
                    self.key(s, true)?;
                }
                self.key(keycode, true)?;
                self.key(keycode, false)?;
                if let Some(s) = shift {
                    self.key(s, false)?;
                }
            }
            self.remap(&borrowed, true)?;
        }
        Ok(())
    }

    /// Maps (or, `restore`, unmaps) the borrowed key codes, then waits for clients to
    /// see the change.
    fn remap(&self, borrowed: &[(u32, u8)], restore: bool) -> Result<()> {
        if borrowed.is_empty() {
            return Ok(());
        }
        self.conn.flush().map_err(x_err)?;
        if restore {
            // Let the keys typed with the borrowed codes be read first.
            std::thread::sleep(Duration::from_millis(20));
        }
        for &(sym, keycode) in borrowed {
            let syms = vec![if restore { 0 } else { sym }; self.per_keycode as usize];
            self.conn
                .change_keyboard_mapping(1, keycode, self.per_keycode, &syms)
                .map_err(x_err)?;
        }
        self.conn
            .get_input_focus()
            .map_err(x_err)?
            .reply()
            .map_err(x_err)?;
        if !restore {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// The X keysym of a character: control keys by name, Latin-1 as itself, the rest as
/// Unicode keysyms (0x0100_0000 + code point).
fn keysym_for(c: char) -> u32 {
    match c {
        '\n' | '\r' => 0xff0d,
        '\t' => 0xff09,
        '\u{8}' => 0xff08,
        '\u{1b}' => 0xff1b,
        ' '..='~' | '\u{a0}'..='\u{ff}' => c as u32,
        _ => 0x0100_0000 + c as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::keysym_for;

    #[test]
    fn characters_map_to_keysyms() {
        assert_eq!(keysym_for('a'), 0x61);
        assert_eq!(keysym_for('\n'), 0xff0d);
        assert_eq!(keysym_for('é'), 0xe9);
        assert_eq!(keysym_for('€'), 0x0100_20ac);
    }
}
