//! The X clipboard, both ways: text a viewer copies becomes the desktop's `CLIPBOARD`
//! (and `PRIMARY`) selection, and text copied on the desktop reaches every viewer.
//!
//! [`watch`] keeps one X connection on its own thread with a small input-only
//! window. It owns the selections after [`ClipboardSync::set`] and answers other
//! clients' requests for them (`TARGETS`, `UTF8_STRING`, `STRING`, `TEXT`); XFixes
//! tells it when another client takes `CLIPBOARD`, and it then fetches the new text as
//! `UTF8_STRING` and reports it. Texts larger than [`MAX_CLIPBOARD_LEN`] are not
//! fetched (nor sent with `INCR`).

use crate::hub::Desktop;
use crate::input::ClipboardSync;
use crate::protocol::MAX_CLIPBOARD_LEN;
use crate::{Result, StreamError};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use x11rb::connection::Connection;
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Sets the clipboard of an X display; see [`watch`].
#[derive(Debug, Default)]
pub struct X11Clipboard {
    current: Mutex<Option<mpsc::Sender<String>>>,
}

impl ClipboardSync for X11Clipboard {
    fn set(&self, text: String) -> Result<()> {
        if text.len() > MAX_CLIPBOARD_LEN {
            return Err(StreamError::InvalidSetting(format!(
                "clipboard text of {} bytes is more than {MAX_CLIPBOARD_LEN}",
                text.len()
            )));
        }
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some(tx) => tx
                .send(text)
                .map_err(|_| StreamError::Input("the display connection is gone".into())),
            None => Err(StreamError::Input(
                "not connected to the display yet".into(),
            )),
        }
    }
}

/// Keeps `desktop`'s clipboard in sync with `display`'s, on a thread that connects (and
/// reconnects every 2 s after the display goes) until the desktop is dropped: texts
/// copied on the display are published to its viewers, and the returned handle sets the
/// display's clipboard. Installs the handle on the desktop.
pub fn watch(display: &str, desktop: &Desktop) -> Result<Arc<X11Clipboard>> {
    crate::display::validate(display)?;
    let handle = Arc::new(X11Clipboard::default());
    desktop.set_clipboard(handle.clone());
    let weak = desktop.downgrade();
    let name = display.to_owned();
    let shared = handle.clone();
    std::thread::Builder::new()
        .name(format!("x11-clipboard {display}"))
        .spawn(move || {
            let alive = || weak.upgrade().is_some();
            let mut warned = false;
            while alive() {
                match Owner::connect(&name) {
                    Ok(mut owner) => {
                        warned = false;
                        let (tx, rx) = mpsc::channel::<String>();
                        *shared.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
                        let publish = |text: String| {
                            if let Some(d) = weak.upgrade() {
                                d.publish_clipboard(text);
                            }
                        };
                        if let Err(e) = owner.run(&rx, &publish, &alive) {
                            tracing::info!(display = %name, error = %e, "clipboard connection lost");
                        }
                        *shared.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    }
                    Err(e) if !warned => {
                        warned = true;
                        tracing::info!(display = %name, error = %e, "clipboard: display not reachable yet");
                    }
                    Err(_) => {}
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        })
        .map_err(|e| StreamError::Input(format!("cannot start the clipboard thread: {e}")))?;
    Ok(handle)
}

struct Atoms {
    clipboard: u32,
    primary: u32,
    targets: u32,
    utf8: u32,
    text: u32,
    property: u32,
}

struct Owner {
    conn: RustConnection,
    window: xproto::Window,
    atoms: Atoms,
    /// What we serve while we own the selections.
    ours: Option<String>,
    /// The last text reported, so a re-announcement is not reported twice.
    last: Option<String>,
}

fn x_err(e: impl std::fmt::Display) -> StreamError {
    StreamError::Input(e.to_string())
}

impl Owner {
    fn connect(display: &str) -> Result<Self> {
        let (conn, screen) = x11rb::connect(Some(display))
            .map_err(|e| StreamError::Input(format!("cannot open display {display}: {e}")))?;
        let root = conn.setup().roots[screen].root;
        let atom = |name: &[u8]| -> Result<u32> {
            Ok(conn
                .intern_atom(false, name)
                .map_err(x_err)?
                .reply()
                .map_err(x_err)?
                .atom)
        };
        let atoms = Atoms {
            clipboard: atom(b"CLIPBOARD")?,
            primary: u32::from(xproto::AtomEnum::PRIMARY),
            targets: atom(b"TARGETS")?,
            utf8: atom(b"UTF8_STRING")?,
            text: atom(b"TEXT")?,
            property: atom(b"HELIX_CLIPBOARD")?,
        };
        let window = conn.generate_id().map_err(x_err)?;
        conn.create_window(
            0,
            window,
            root,
            0,
            0,
            1,
            1,
            0,
            xproto::WindowClass::INPUT_ONLY,
            0,
            &xproto::CreateWindowAux::new().event_mask(xproto::EventMask::PROPERTY_CHANGE),
        )
        .map_err(x_err)?;
        conn.xfixes_query_version(5, 0)
            .map_err(x_err)?
            .reply()
            .map_err(|e| StreamError::Input(format!("display {display} has no XFixes: {e}")))?;
        conn.xfixes_select_selection_input(
            window,
            atoms.clipboard,
            xfixes::SelectionEventMask::SET_SELECTION_OWNER,
        )
        .map_err(x_err)?;
        conn.flush().map_err(x_err)?;
        Ok(Owner {
            conn,
            window,
            atoms,
            ours: None,
            last: None,
        })
    }

    /// Serves and watches until the display goes (an error) or `alive` turns false.
    fn run(
        &mut self,
        rx: &mpsc::Receiver<String>,
        on_change: &dyn Fn(String),
        alive: &dyn Fn() -> bool,
    ) -> Result<()> {
        while alive() {
            match rx.try_recv() {
                Ok(text) => self.take(text)?,
                Err(mpsc::TryRecvError::Disconnected) => return Ok(()),
                Err(mpsc::TryRecvError::Empty) => {}
            }
            let mut idle = true;
            while let Some(event) = self.conn.poll_for_event().map_err(x_err)? {
                idle = false;
                self.handle(event, on_change)?;
            }
            if idle {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Becomes the owner of both selections with `text`.
    fn take(&mut self, text: String) -> Result<()> {
        self.last = Some(text.clone());
        self.ours = Some(text);
        for selection in [self.atoms.clipboard, self.atoms.primary] {
            self.conn
                .set_selection_owner(self.window, selection, x11rb::CURRENT_TIME)
                .map_err(x_err)?;
        }
        self.conn.flush().map_err(x_err)
    }

    fn handle(&mut self, event: Event, on_change: &dyn Fn(String)) -> Result<()> {
        match event {
            Event::XfixesSelectionNotify(e) if e.owner != self.window && e.owner != x11rb::NONE => {
                // Someone else copied: ask for the text as UTF-8, into our property.
                self.conn
                    .convert_selection(
                        self.window,
                        e.selection,
                        self.atoms.utf8,
                        self.atoms.property,
                        e.timestamp,
                    )
                    .map_err(x_err)?;
                self.conn.flush().map_err(x_err)?;
            }
            Event::SelectionNotify(e)
                if e.requestor == self.window && e.property != x11rb::NONE =>
            {
                let reply = self
                    .conn
                    .get_property(
                        true,
                        self.window,
                        self.atoms.property,
                        xproto::AtomEnum::ANY,
                        0,
                        (MAX_CLIPBOARD_LEN / 4 + 1) as u32,
                    )
                    .map_err(x_err)?
                    .reply()
                    .map_err(x_err)?;
                if reply.bytes_after == 0 && reply.format == 8 && reply.type_ == self.atoms.utf8 {
                    let text = String::from_utf8_lossy(&reply.value).into_owned();
                    if self.last.as_ref() != Some(&text) {
                        self.last = Some(text.clone());
                        on_change(text);
                    }
                }
            }
            Event::SelectionRequest(e) => self.answer(&e)?,
            Event::SelectionClear(e) if e.selection == self.atoms.clipboard => self.ours = None,
            _ => {}
        }
        Ok(())
    }

    /// Serves our text to a client that pastes.
    fn answer(&self, e: &xproto::SelectionRequestEvent) -> Result<()> {
        let property = if e.property == x11rb::NONE {
            e.target
        } else {
            e.property
        };
        let served = match &self.ours {
            Some(_) if e.target == self.atoms.targets => {
                let targets = [
                    self.atoms.targets,
                    self.atoms.utf8,
                    u32::from(xproto::AtomEnum::STRING),
                    self.atoms.text,
                ];
                self.conn
                    .change_property32(
                        xproto::PropMode::REPLACE,
                        e.requestor,
                        property,
                        xproto::AtomEnum::ATOM,
                        &targets,
                    )
                    .map_err(x_err)?;
                true
            }
            Some(text)
                if [
                    self.atoms.utf8,
                    self.atoms.text,
                    u32::from(xproto::AtomEnum::STRING),
                ]
                .contains(&e.target) =>
            {
                let kind = if e.target == u32::from(xproto::AtomEnum::STRING) {
                    u32::from(xproto::AtomEnum::STRING)
                } else {
                    self.atoms.utf8
                };
                self.conn
                    .change_property8(
                        xproto::PropMode::REPLACE,
                        e.requestor,
                        property,
                        kind,
                        text.as_bytes(),
                    )
                    .map_err(x_err)?;
                true
            }
            _ => false,
        };
        let notify = xproto::SelectionNotifyEvent {
            response_type: xproto::SELECTION_NOTIFY_EVENT,
            sequence: 0,
            time: e.time,
            requestor: e.requestor,
            selection: e.selection,
            target: e.target,
            property: if served { property } else { x11rb::NONE },
        };
        self.conn
            .send_event(false, e.requestor, xproto::EventMask::NO_EVENT, notify)
            .map_err(x_err)?;
        self.conn.flush().map_err(x_err)
    }
}
