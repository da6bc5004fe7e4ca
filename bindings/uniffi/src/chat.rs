//! [`ChatStream`]: an answer as it is written.

use crate::error::Result;
use crate::types::{ChatChunk, ChatEvent, Interaction};
use tokio::sync::Mutex;

/// An answer being written. Read it with `next_chunk` (text, then the finished answer)
/// or `next_event` (every event), or wait for the end with `finish`.
#[derive(Debug, uniffi::Object)]
pub struct ChatStream {
    inner: Mutex<helix_client::ChatStream>,
}

impl ChatStream {
    pub(crate) fn new(s: helix_client::ChatStream) -> Self {
        ChatStream {
            inner: Mutex::new(s),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl ChatStream {
    /// The next piece of text, then the finished answer; none after that. A failed
    /// answer is an error with code `generation_failed`.
    pub async fn next_chunk(&self) -> Result<Option<ChatChunk>> {
        Ok(self.inner.lock().await.next_chunk().await?.map(Into::into))
    }

    /// The next event; none after the last.
    pub async fn next_event(&self) -> Result<Option<ChatEvent>> {
        Ok(self.inner.lock().await.next_event().await?.map(Into::into))
    }

    /// Reads to the end (or remembers the end already read); the finished answer.
    pub async fn finish(&self) -> Result<Interaction> {
        Ok(self.inner.lock().await.finish().await?.into())
    }
}
