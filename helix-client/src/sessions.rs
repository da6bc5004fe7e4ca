//! Chat sessions: every message kept on the server; answers stream as they are written.

use crate::client::{path_id, Client};
use crate::error::{Error, Result, STREAM_ERROR};
use crate::stream::{Framing, Records};
use helix_core::model::{ChatSession, Interaction, InteractionState};
use helix_core::ops::chat::{
    ChatEvent, ChatTurnRequest, CreateSessionRequest, SessionWithInteractions,
};
use reqwest::Method;

/// What a new session talks to: a model, or an app (its model, prompt and settings).
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// Title (default "New chat").
    pub name: Option<String>,
    /// Model name; required unless `app_id` is given.
    pub model: Option<String>,
    /// The app to talk to.
    pub app_id: Option<String>,
}

impl Client {
    /// The caller's sessions, newest first.
    pub async fn list_sessions(&self) -> Result<Vec<ChatSession>> {
        self.json(self.request(Method::GET, "api/v1/sessions"))
            .await
    }

    /// Starts a session.
    pub async fn create_session(&self, new: NewSession) -> Result<ChatSession> {
        let app_id = new
            .app_id
            .map(|a| {
                path_id("app_id", &a)?;
                a.parse()
                    .map_err(|e| Error::new(crate::error::INVALID_ARGUMENT, format!("app_id: {e}")))
            })
            .transpose()?;
        let body = CreateSessionRequest {
            name: new.name,
            model: new.model,
            app_id,
        };
        self.json(self.request(Method::POST, "api/v1/sessions").json(&body))
            .await
    }

    /// A session with all its messages.
    pub async fn get_session(&self, session_id: &str) -> Result<SessionWithInteractions> {
        let id = path_id("session_id", session_id)?;
        self.json(self.request(Method::GET, &format!("api/v1/sessions/{id}")))
            .await
    }

    /// Deletes a session and its messages.
    pub async fn delete_session(&self, session_id: &str) -> Result<()> {
        let id = path_id("session_id", session_id)?;
        self.empty(self.request(Method::DELETE, &format!("api/v1/sessions/{id}")))
            .await
    }

    /// Sends a message; the answer streams back as [`ChatEvent`]s. The server keeps the
    /// answer even if the stream is dropped.
    pub async fn chat(&self, session_id: &str, message: &str) -> Result<ChatStream> {
        let id = path_id("session_id", session_id)?;
        let body = ChatTurnRequest {
            message: message.to_owned(),
        };
        let req = self
            .request(Method::POST, &format!("api/v1/sessions/{id}/chat"))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        let resp = self.send(req).await?;
        Ok(ChatStream {
            records: Records::new(resp, Framing::Sse),
            done: false,
            outcome: None,
        })
    }
}

/// One answer being written: [`ChatEvent`]s until `completed` or `failed`.
#[derive(Debug)]
pub struct ChatStream {
    records: Records<ChatEvent>,
    done: bool,
    /// How the answer ended, once it has: `finish` after reading it all returns this.
    outcome: Option<Result<Interaction>>,
}

/// A piece of the stream, as bindings hand it out.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatChunk {
    /// Text added to the answer.
    Text(String),
    /// The finished answer.
    Done(Interaction),
}

impl ChatStream {
    /// The next event; `None` after the last one.
    pub async fn next_event(&mut self) -> Result<Option<ChatEvent>> {
        if self.done {
            return Ok(None);
        }
        let ev = self.records.next().await?;
        match &ev {
            Some(ChatEvent::Completed { .. } | ChatEvent::Failed { .. }) => self.done = true,
            Some(_) => {}
            None => {
                self.done = true;
                return Err(Error::new(
                    STREAM_ERROR,
                    "the answer stream ended before the answer did",
                ));
            }
        }
        Ok(ev)
    }

    /// The next piece of text, then the finished answer; `None` after that. A failed
    /// answer is an error with code `generation_failed`.
    pub async fn next_chunk(&mut self) -> Result<Option<ChatChunk>> {
        while let Some(ev) = self.next_event().await? {
            match ev {
                ChatEvent::Delta { text, .. } => return Ok(Some(ChatChunk::Text(text))),
                ChatEvent::Completed { interaction } => {
                    self.outcome = Some(Ok(interaction.clone()));
                    return Ok(Some(ChatChunk::Done(interaction)));
                }
                ChatEvent::Failed { interaction } => {
                    let e = failed(&interaction);
                    self.outcome = Some(Err(e.clone()));
                    return Err(e);
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Reads to the end (or, when that was done already, remembers it); the finished
    /// answer, or `generation_failed`.
    pub async fn finish(&mut self) -> Result<Interaction> {
        while self.outcome.is_none() {
            if self.next_chunk().await?.is_none() && self.outcome.is_none() {
                return Err(Error::new(STREAM_ERROR, "the answer stream had no end"));
            }
        }
        self.outcome.clone().expect("set above")
    }
}

fn failed(i: &Interaction) -> Error {
    debug_assert_eq!(i.state, InteractionState::Error);
    Error::new(
        "generation_failed",
        i.error
            .clone()
            .unwrap_or_else(|| "the answer failed".into()),
    )
}
