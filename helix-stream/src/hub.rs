//! One encoder per desktop, shared by every viewer.
//!
//! [`Desktop`] starts its [`VideoSource`] when the first viewer subscribes and stops it
//! when the last one leaves. Every viewer has a bounded queue: a viewer that falls
//! behind is not waited for; its frames are dropped until the next keyframe (which is
//! requested at once), so it recovers with a clean picture while the others never slow
//! down. A viewer that joins mid-stream starts at a fresh keyframe. A second viewer
//! with the same client id supersedes the first, which is told so.

use crate::input::{ClipboardSync, InputEvent, InputSink};
use crate::source::{ActiveStream, EncodedFrame, FrameSink, VideoFormat, VideoSource};
use crate::{Result, StreamError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Frames a viewer may have queued before it is treated as slow (about a second at
/// 30 fps).
pub const DEFAULT_VIEWER_QUEUE: usize = 32;

/// While a requested keyframe has not come for this long, more requests are merged
/// into it (the keyframe on its way serves every viewer waiting); after that they are
/// sent again, in case the encoder missed one.
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(200);

/// What a viewer receives.
#[derive(Debug, Clone)]
pub enum ViewerEvent {
    /// The stream's format; always before the keyframe that starts it.
    Format(VideoFormat),
    /// The bitrate or other encoder settings changed; the picture did not.
    Info(VideoFormat),
    /// One encoded frame, shared by all viewers.
    Frame(Arc<EncodedFrame>),
    /// The desktop's clipboard holds this text.
    Clipboard(Arc<str>),
    /// The viewer is done: nothing more arrives.
    Closed(CloseReason),
}

/// Why a viewer was closed by the desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// Another connection with the same client id took over.
    Superseded,
    /// Capture or encoding failed, or the desktop went away.
    Unavailable(String),
}

/// Counters of a desktop since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DesktopStats {
    /// Viewers connected now.
    pub viewers: usize,
    /// Whether a pipeline is running.
    pub streaming: bool,
    /// Pipelines started.
    pub pipelines_started: u64,
    /// Frames produced by the encoder.
    pub frames_encoded: u64,
    /// Frames queued to viewers (one per viewer per frame).
    pub frames_sent: u64,
    /// Frames a viewer did not get because it was behind or waiting for a keyframe.
    pub frames_dropped: u64,
    /// Keyframes asked of the encoder.
    pub keyframe_requests: u64,
}

/// A desktop that viewers can watch and drive. Cheap to clone.
#[derive(Clone)]
pub struct Desktop {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("id", &self.inner.id)
            .field("stats", &self.stats())
            .finish()
    }
}

struct Inner {
    id: String,
    source: Arc<dyn VideoSource>,
    input: Option<Arc<dyn InputSink>>,
    clipboard: Mutex<Option<Arc<dyn ClipboardSync>>>,
    queue: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    viewers: HashMap<u64, Slot>,
    next_viewer: u64,
    stream: Option<Box<dyn ActiveStream>>,
    /// Bumped at every start and stop; reports from older pipelines are ignored.
    generation: u64,
    starting: bool,
    format: Option<VideoFormat>,
    clipboard: Option<Arc<str>>,
    /// When a keyframe was asked for that has not come yet.
    keyframe_outstanding: Option<Instant>,
    stats: DesktopStats,
}

struct Slot {
    tx: mpsc::Sender<ViewerEvent>,
    close: Option<oneshot::Sender<CloseReason>>,
    client_id: Option<String>,
    needs_keyframe: bool,
    /// Whether this viewer's need for a keyframe was passed on to the encoder.
    keyframe_asked: bool,
    sent_format: Option<VideoFormat>,
}

impl Slot {
    fn close(mut self, reason: CloseReason) {
        if let Some(tx) = self.close.take() {
            let _ = tx.send(reason);
        }
    }
}

impl Desktop {
    /// A desktop streamed from `source`, with input going to `input` (none: view only).
    pub fn new(
        id: impl Into<String>,
        source: Arc<dyn VideoSource>,
        input: Option<Arc<dyn InputSink>>,
    ) -> Self {
        Self::with_queue(id, source, input, DEFAULT_VIEWER_QUEUE)
    }

    /// Like [`Desktop::new`] with another per-viewer queue length (at least 2).
    pub fn with_queue(
        id: impl Into<String>,
        source: Arc<dyn VideoSource>,
        input: Option<Arc<dyn InputSink>>,
        queue: usize,
    ) -> Self {
        Desktop {
            inner: Arc::new(Inner {
                id: id.into(),
                source,
                input,
                clipboard: Mutex::new(None),
                queue: queue.max(2),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The desktop's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Whether viewers' input reaches the desktop.
    pub fn accepts_input(&self) -> bool {
        self.inner.input.is_some()
    }

    /// Counters, and how many viewers are connected.
    pub fn stats(&self) -> DesktopStats {
        let st = self.inner.lock();
        DesktopStats {
            viewers: st.viewers.len(),
            streaming: st.stream.is_some() || st.starting,
            ..st.stats
        }
    }

    /// The current stream format, once the encoder has produced one.
    pub fn format(&self) -> Option<VideoFormat> {
        self.inner.lock().format.clone()
    }

    /// Adds a viewer, starting the pipeline if it is the first. A viewer with the same
    /// `client_id` as a connected one supersedes it.
    pub fn subscribe(&self, client_id: Option<String>) -> Result<Viewer> {
        let (tx, rx) = mpsc::channel(self.inner.queue);
        let (close_tx, close_rx) = oneshot::channel();
        let (id, start) = {
            let mut st = self.inner.lock();
            if let Some(cid) = &client_id {
                let old: Vec<u64> = st
                    .viewers
                    .iter()
                    .filter(|(_, s)| s.client_id.as_ref() == Some(cid))
                    .map(|(id, _)| *id)
                    .collect();
                for id in old {
                    if let Some(slot) = st.viewers.remove(&id) {
                        tracing::info!(desktop = %self.inner.id, viewer = id, "viewer superseded");
                        slot.close(CloseReason::Superseded);
                    }
                }
            }
            st.next_viewer += 1;
            let id = st.next_viewer;
            if let Some(text) = &st.clipboard {
                let _ = tx.try_send(ViewerEvent::Clipboard(text.clone()));
            }
            st.viewers.insert(
                id,
                Slot {
                    tx,
                    close: Some(close_tx),
                    client_id,
                    needs_keyframe: true,
                    keyframe_asked: true,
                    sent_format: None,
                },
            );
            let start = st.stream.is_none() && !st.starting;
            if start {
                st.starting = true;
                st.generation += 1;
                st.format = None;
            } else {
                self.inner.request_keyframe(&mut st);
            }
            (id, start.then_some(st.generation))
        };
        let viewer = Viewer {
            id,
            desktop: self.clone(),
            rx,
            closed: close_rx,
        };
        if let Some(generation) = start {
            self.start(generation)?;
        }
        Ok(viewer)
    }

    fn start(&self, generation: u64) -> Result<()> {
        let sink: Arc<dyn FrameSink> = Arc::new(HubSink {
            inner: Arc::downgrade(&self.inner),
            generation,
        });
        let started = self.inner.source.start(sink);
        let mut st = self.inner.lock();
        let current = st.generation == generation;
        if current {
            st.starting = false;
        }
        match started {
            Ok(stream) if current && !st.viewers.is_empty() => {
                st.stats.pipelines_started += 1;
                st.stream = Some(stream);
                tracing::info!(desktop = %self.inner.id, "pipeline started");
                Ok(())
            }
            Ok(stream) => {
                // Everyone left (or it failed) while it started.
                drop(st);
                drop(stream);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(desktop = %self.inner.id, error = %e, "pipeline failed to start");
                if current {
                    st.generation += 1;
                    for (_, slot) in st.viewers.drain() {
                        slot.close(CloseReason::Unavailable(e.to_string()));
                    }
                }
                Err(e)
            }
        }
    }

    /// Changes the encoder's bitrate for every viewer; they are told at once.
    pub fn set_bitrate(&self, kbps: u32) -> Result<()> {
        let mut st = self.inner.lock();
        let Some(stream) = st.stream.as_ref() else {
            return Err(StreamError::Unavailable(
                "the desktop is not streaming".into(),
            ));
        };
        stream.set_bitrate(kbps)?;
        let Some(format) = st.format.as_mut() else {
            return Ok(());
        };
        format.bitrate_kbps = kbps;
        let format = format.clone();
        for slot in st.viewers.values_mut() {
            if slot.sent_format.is_some()
                && slot.tx.try_send(ViewerEvent::Info(format.clone())).is_ok()
            {
                slot.sent_format = Some(format.clone());
            }
        }
        Ok(())
    }

    /// Injects a viewer's input into the desktop.
    pub fn inject(&self, event: InputEvent) -> Result<()> {
        match &self.inner.input {
            Some(input) => input.inject(event),
            None => Err(StreamError::Unavailable("this desktop is view-only".into())),
        }
    }

    /// Where viewers' clipboard texts go (the display's clipboard).
    pub fn set_clipboard(&self, sync: Arc<dyn ClipboardSync>) {
        *self
            .inner
            .clipboard
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(sync);
    }

    /// Sets the desktop's clipboard to a viewer's text.
    pub fn write_clipboard(&self, text: String) -> Result<()> {
        let sync = self
            .inner
            .clipboard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match sync {
            Some(sync) => {
                // The desktop now holds it; the other viewers hear of it too.
                let text: Arc<str> = text.into();
                sync.set(text.to_string())?;
                self.broadcast_clipboard(text);
                Ok(())
            }
            None => Err(StreamError::Unavailable(
                "this desktop has no clipboard".into(),
            )),
        }
    }

    /// The desktop's clipboard changed: every viewer is told (and later joiners).
    pub fn publish_clipboard(&self, text: String) {
        self.broadcast_clipboard(text.into());
    }

    fn broadcast_clipboard(&self, text: Arc<str>) {
        let mut st = self.inner.lock();
        if st.clipboard.as_ref() == Some(&text) {
            return;
        }
        st.clipboard = Some(text.clone());
        for slot in st.viewers.values() {
            let _ = slot.tx.try_send(ViewerEvent::Clipboard(text.clone()));
        }
    }

    /// A handle that does not keep the desktop alive.
    pub fn downgrade(&self) -> WeakDesktop {
        WeakDesktop(Arc::downgrade(&self.inner))
    }

    fn unsubscribe(&self, id: u64) {
        let stream = {
            let mut st = self.inner.lock();
            st.viewers.remove(&id);
            if !st.viewers.is_empty() {
                return;
            }
            st.generation += 1;
            st.format = None;
            st.starting = false;
            st.stream.take()
        };
        if let Some(stream) = stream {
            tracing::info!(desktop = %self.inner.id, "last viewer left; pipeline stopped");
            // Stopping waits for the pipeline (or its worker process) to end; on a
            // multi-threaded runtime, tell it so its other tasks move elsewhere meanwhile.
            let multi = tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            if multi {
                tokio::task::block_in_place(move || drop(stream));
            } else {
                drop(stream);
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters at worst; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn request_keyframe(&self, st: &mut State) {
        let now = Instant::now();
        if st
            .keyframe_outstanding
            .is_some_and(|t| now.duration_since(t) < KEYFRAME_REQUEST_GAP)
        {
            return;
        }
        if let Some(stream) = &st.stream {
            st.keyframe_outstanding = Some(now);
            st.stats.keyframe_requests += 1;
            stream.request_keyframe();
        }
    }
}

/// The [`FrameSink`] of one pipeline generation.
struct HubSink {
    inner: Weak<Inner>,
    generation: u64,
}

impl FrameSink for HubSink {
    fn format(&self, format: VideoFormat) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let mut st = inner.lock();
        if st.generation != self.generation {
            return;
        }
        for slot in st.viewers.values_mut() {
            if slot.sent_format.as_ref() != Some(&format) {
                slot.needs_keyframe = true;
            }
        }
        st.format = Some(format);
    }

    fn frame(&self, frame: EncodedFrame) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let mut st = inner.lock();
        if st.generation != self.generation {
            return;
        }
        let st = &mut *st;
        st.stats.frames_encoded += 1;
        if frame.keyframe {
            st.keyframe_outstanding = None;
        }
        let frame = Arc::new(frame);
        let mut want_keyframe = false;
        let mut gone = Vec::new();
        for (id, slot) in st.viewers.iter_mut() {
            let delivered = deliver(slot, &frame, st.format.as_ref(), &mut gone, *id);
            if delivered {
                st.stats.frames_sent += 1;
            } else {
                st.stats.frames_dropped += 1;
            }
            // Ask for a viewer's keyframe once it has room for it: one that stays full
            // (gone, or too slow) never makes the encoder send keyframes to everyone.
            if slot.needs_keyframe && !slot.keyframe_asked && slot.tx.capacity() * 2 >= inner.queue
            {
                slot.keyframe_asked = true;
                want_keyframe = true;
            }
        }
        for id in gone {
            st.viewers.remove(&id);
        }
        if want_keyframe {
            inner.request_keyframe(st);
        }
    }

    fn failed(&self, reason: String) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let stream = {
            let mut st = inner.lock();
            if st.generation != self.generation {
                return;
            }
            tracing::warn!(desktop = %inner.id, %reason, "stream failed");
            st.generation += 1;
            st.format = None;
            st.starting = false;
            for (_, slot) in st.viewers.drain() {
                slot.close(CloseReason::Unavailable(reason.clone()));
            }
            st.stream.take()
        };
        // We may be on one of the pipeline's own threads: stop it from another.
        if let Some(stream) = stream {
            std::thread::spawn(move || drop(stream));
        }
    }
}

/// A [`Desktop`] that may be gone.
#[derive(Clone)]
pub struct WeakDesktop(Weak<Inner>);

impl std::fmt::Debug for WeakDesktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WeakDesktop")
    }
}

impl WeakDesktop {
    /// The desktop, if it still exists.
    pub fn upgrade(&self) -> Option<Desktop> {
        self.0.upgrade().map(|inner| Desktop { inner })
    }
}

/// Queues `frame` for one viewer; whether it was queued. A viewer waiting for a keyframe
/// skips everything else; one that is full drops the frame and waits for the next
/// keyframe; the format goes before the keyframe that starts it.
fn deliver(
    slot: &mut Slot,
    frame: &Arc<EncodedFrame>,
    format: Option<&VideoFormat>,
    gone: &mut Vec<u64>,
    id: u64,
) -> bool {
    if slot.needs_keyframe && !frame.keyframe {
        return false;
    }
    let behind = |slot: &mut Slot| {
        slot.needs_keyframe = true;
        slot.keyframe_asked = false;
        false
    };
    if frame.keyframe && slot.sent_format.as_ref() != format {
        let Some(format) = format else {
            return false;
        };
        if slot.tx.capacity() < 2 {
            return behind(slot);
        }
        let _ = slot.tx.try_send(ViewerEvent::Format(format.clone()));
        slot.sent_format = Some(format.clone());
    }
    match slot.tx.try_send(ViewerEvent::Frame(frame.clone())) {
        Ok(()) => {
            if frame.keyframe {
                slot.needs_keyframe = false;
            }
            true
        }
        Err(mpsc::error::TrySendError::Full(_)) => behind(slot),
        Err(mpsc::error::TrySendError::Closed(_)) => {
            gone.push(id);
            false
        }
    }
}

/// One viewer of a [`Desktop`]; leaving is dropping it.
#[derive(Debug)]
pub struct Viewer {
    id: u64,
    desktop: Desktop,
    rx: mpsc::Receiver<ViewerEvent>,
    closed: oneshot::Receiver<CloseReason>,
}

impl Viewer {
    /// The next event; [`ViewerEvent::Closed`] is the last one.
    pub async fn next(&mut self) -> ViewerEvent {
        tokio::select! {
            biased;
            reason = &mut self.closed => ViewerEvent::Closed(
                reason.unwrap_or_else(|_| CloseReason::Unavailable("the desktop is gone".into())),
            ),
            event = self.rx.recv() => event.unwrap_or_else(|| {
                ViewerEvent::Closed(CloseReason::Unavailable("the desktop is gone".into()))
            }),
        }
    }

    /// Asks for a keyframe for this viewer (it lost its decoder state); until it
    /// arrives, this viewer gets no frames.
    pub fn request_keyframe(&self) {
        let mut st = self.desktop.inner.lock();
        if let Some(slot) = st.viewers.get_mut(&self.id) {
            slot.needs_keyframe = true;
            slot.keyframe_asked = true;
            slot.sent_format = None;
        }
        self.desktop.inner.request_keyframe(&mut st);
    }

    /// The desktop watched.
    pub fn desktop(&self) -> &Desktop {
        &self.desktop
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.desktop.unsubscribe(self.id);
    }
}

#[cfg(test)]
mod tests;
