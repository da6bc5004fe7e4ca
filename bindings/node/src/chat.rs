//! `ChatStream`: an answer as it is written.

use crate::{json, to_js};
use helix_client::{ChatChunk, Interaction};
use napi::Result;
use napi_derive::napi;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::Mutex as AsyncMutex;

/// An answer being written (`index.js` makes it an async iterable of text).
#[napi]
#[derive(Debug)]
pub struct ChatStream {
    inner: Arc<AsyncMutex<helix_client::ChatStream>>,
    done: Arc<Mutex<Option<Interaction>>>,
}

impl ChatStream {
    pub fn new(s: helix_client::ChatStream) -> Self {
        ChatStream {
            inner: Arc::new(AsyncMutex::new(s)),
            done: Arc::new(Mutex::new(None)),
        }
    }
}

#[napi]
impl ChatStream {
    /// The next piece of text; `null` once the answer is complete.
    #[napi]
    pub async fn next_text(&self) -> Result<Option<String>> {
        let mut s = self.inner.lock().await;
        loop {
            match s.next_chunk().await.map_err(to_js)? {
                Some(ChatChunk::Text(t)) => return Ok(Some(t)),
                Some(ChatChunk::Done(i)) => *self.done.lock().expect("not poisoned") = Some(i),
                None => return Ok(None),
            }
        }
    }

    /// The next event (`interaction_created`, `delta`, `completed`, `failed`); `null` after
    /// the last.
    #[napi]
    pub async fn next_event(&self) -> Result<Value> {
        json(self.inner.lock().await.next_event().await.map_err(to_js)?)
    }

    /// Reads to the end; the finished answer.
    #[napi]
    pub async fn finish(&self) -> Result<Value> {
        let i = self.inner.lock().await.finish().await.map_err(to_js)?;
        *self.done.lock().expect("not poisoned") = Some(i.clone());
        json(i)
    }

    /// The finished answer once the stream has ended, else `null`.
    #[napi(getter)]
    pub fn interaction(&self) -> Result<Value> {
        json(self.done.lock().expect("not poisoned").clone())
    }
}
