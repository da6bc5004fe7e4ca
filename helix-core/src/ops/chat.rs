//! Native chat: sessions and their interactions, with answers that are streamed to the
//! client and persisted whether or not the client stays.
//!
//! A turn appends the user's message and an assistant interaction in state `waiting`,
//! then a background task runs the model and persists the answer (every second while
//! it grows, and at the end as `complete` or `error`). The caller receives
//! [`ChatEvent`]s: deltas keyed by interaction id and character offset, so a client
//! that sees an event twice can tell.

use super::validate;
use crate::auth::Principal;
use crate::authz::{self, AppAction};
use crate::control_plane::ControlPlane;
use crate::error::{CoreError, Result};
use crate::id::{AppId, InteractionId, OrgId, SessionId};
use crate::model::{ChatSession, Interaction, InteractionState, MessageRole, TokenUsage};
use crate::providers::{usage_of, ChatMessage, ChatRequest};
use crate::store::NewInteraction;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

/// How often a growing answer is written to the store.
pub(crate) const PERSIST_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Starts a session.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Title (default "New chat").
    #[serde(default)]
    pub name: Option<String>,
    /// Model name; required unless the session talks to an app.
    #[serde(default)]
    pub model: Option<String>,
    /// The app (assistant) to talk to: its model, system prompt and settings apply.
    #[serde(default)]
    pub app_id: Option<AppId>,
}

/// Renames a session.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameSessionRequest {
    /// New title.
    pub name: String,
}

/// One user turn.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatTurnRequest {
    /// The user's message.
    pub message: String,
}

/// Forks a session.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkSessionRequest {
    /// Copy interactions up to and including this position (default: all).
    #[serde(default)]
    pub through_seq: Option<i64>,
}

/// A session with its log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionWithInteractions {
    /// The session.
    #[serde(flatten)]
    pub session: ChatSession,
    /// Its interactions in order.
    pub interactions: Vec<Interaction>,
}

/// What a running turn reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChatEvent {
    /// An interaction was created (the user's message, the assistant placeholder).
    InteractionCreated {
        /// It.
        interaction: Interaction,
    },
    /// Text was added to an interaction at `offset` (in characters).
    Delta {
        /// The interaction.
        interaction_id: InteractionId,
        /// Characters before this text.
        offset: usize,
        /// The new text.
        text: String,
    },
    /// The interaction is complete.
    Completed {
        /// Its final state.
        interaction: Interaction,
    },
    /// The interaction failed; `interaction` holds what was produced and the error.
    Failed {
        /// Its final state.
        interaction: Interaction,
    },
    /// Interactions were removed (regenerate): take a fresh snapshot.
    Reset,
}

impl ControlPlane {
    async fn own_session(&self, p: &Principal, id: &SessionId) -> Result<ChatSession> {
        match self.store_ref().get_session(id).await? {
            Some(s) if s.owner_id == p.user.id => Ok(s),
            _ => Err(CoreError::not_found("session", id)),
        }
    }

    /// Starts a session, with a model or with an app the caller may use.
    pub async fn create_session(
        &self,
        p: &Principal,
        req: CreateSessionRequest,
    ) -> Result<ChatSession> {
        let (model, org_id, app_id): (String, Option<OrgId>, Option<AppId>) = match &req.app_id {
            Some(app_id) => {
                let app = self.get_app(p, app_id).await?;
                (
                    app.model.clone(),
                    Some(app.org_id.clone()),
                    Some(app.id.clone()),
                )
            }
            None => {
                let model = req
                    .model
                    .as_deref()
                    .ok_or_else(|| CoreError::invalid("model", "is required without an app"))?;
                (validate::name("model", model, 256)?, None, None)
            }
        };
        let now = self.now();
        let session = ChatSession {
            id: SessionId::new(),
            owner_id: p.user.id.clone(),
            org_id,
            app_id,
            name: validate::name("name", req.name.as_deref().unwrap_or("New chat"), 200)?,
            model,
            created_at: now,
            updated_at: now,
        };
        self.store_ref().create_session(&session).await?;
        Ok(session)
    }

    /// The caller's sessions, most recent first.
    pub async fn list_sessions(&self, p: &Principal) -> Result<Vec<ChatSession>> {
        self.store_ref().list_sessions(&p.user.id).await
    }

    /// One of the caller's sessions with its log.
    pub async fn get_session(
        &self,
        p: &Principal,
        id: &SessionId,
    ) -> Result<SessionWithInteractions> {
        let session = self.own_session(p, id).await?;
        let interactions = self.store_ref().list_interactions(id).await?;
        Ok(SessionWithInteractions {
            session,
            interactions,
        })
    }

    /// Renames a session.
    pub async fn rename_session(
        &self,
        p: &Principal,
        id: &SessionId,
        req: RenameSessionRequest,
    ) -> Result<ChatSession> {
        self.own_session(p, id).await?;
        self.store_ref()
            .rename_session(id, &validate::name("name", &req.name, 200)?, self.now())
            .await?;
        self.own_session(p, id).await
    }

    /// Deletes a session and its log.
    pub async fn delete_session(&self, p: &Principal, id: &SessionId) -> Result<()> {
        self.own_session(p, id).await?;
        self.store_ref().delete_session(id).await?;
        Ok(())
    }

    /// Copies a session (up to a position) into a new one.
    pub async fn fork_session(
        &self,
        p: &Principal,
        id: &SessionId,
        req: ForkSessionRequest,
    ) -> Result<SessionWithInteractions> {
        let source = self.get_session(p, id).await?;
        let now = self.now();
        let fork = ChatSession {
            id: SessionId::new(),
            name: format!("{} (fork)", source.session.name)
                .chars()
                .take(200)
                .collect(),
            created_at: now,
            updated_at: now,
            ..source.session
        };
        self.store_ref().create_session(&fork).await?;
        let upto = req.through_seq.unwrap_or(i64::MAX);
        for i in source
            .interactions
            .iter()
            .filter(|i| i.seq <= upto && i.state == InteractionState::Complete)
        {
            let mut copy = self
                .store_ref()
                .append_interaction(&NewInteraction {
                    id: InteractionId::new(),
                    session_id: fork.id.clone(),
                    role: i.role,
                    content: i.content.clone(),
                    tool_calls: i.tool_calls.clone(),
                    tool_call_id: i.tool_call_id.clone(),
                    state: InteractionState::Complete,
                    created_at: now,
                })
                .await?;
            copy.usage = i.usage;
            self.store_ref().update_interaction(&copy).await?;
        }
        self.get_session(p, &fork.id).await
    }

    /// Sends a user message and starts the answer. Events arrive on the returned
    /// channel; the answer is persisted even if the receiver is dropped.
    pub async fn chat(
        &self,
        p: &Principal,
        id: &SessionId,
        req: ChatTurnRequest,
    ) -> Result<tokio::sync::mpsc::Receiver<ChatEvent>> {
        let session = self.own_session(p, id).await?;
        if req.message.trim().is_empty() {
            return Err(CoreError::invalid("message", "must not be empty"));
        }
        let message = validate::text("message", &req.message, MAX_MESSAGE_BYTES)?;
        let turn = self.begin_turn(id).await?;
        let user = self
            .append(
                &session,
                MessageRole::User,
                message,
                InteractionState::Complete,
            )
            .await?;
        self.start_answer(
            p,
            session,
            turn,
            vec![ChatEvent::InteractionCreated { interaction: user }],
        )
        .await
    }

    /// Stops the session's running answer: what it generated so far is kept as a
    /// complete answer. An answer another replica runs (one `waiting` in the store,
    /// written in the last two minutes) is stopped there, through the event bus; `true`
    /// then means the stop was sent. `false` when no answer of the session is running.
    pub async fn stop_answer(&self, p: &Principal, id: &SessionId) -> Result<bool> {
        self.own_session(p, id).await?;
        if self.ring_stop(id, None) {
            return Ok(true);
        }
        let now = self.now();
        let elsewhere = self
            .store_ref()
            .list_interactions(id)
            .await?
            .into_iter()
            .find(|i| i.state == InteractionState::Waiting && now - i.updated_at < STALE_ANSWER);
        let Some(answer) = elsewhere else {
            return Ok(false);
        };
        // Names the answer, so a stop that arrives late cannot end a newer one.
        self.publish_control(crate::events::ControlEvent::StopAnswer {
            session_id: id.clone(),
            interaction_id: answer.id,
        });
        Ok(true)
    }

    /// Answers the last user message again, replacing the answers after it.
    pub async fn regenerate(
        &self,
        p: &Principal,
        id: &SessionId,
    ) -> Result<tokio::sync::mpsc::Receiver<ChatEvent>> {
        let session = self.own_session(p, id).await?;
        let turn = self.begin_turn(id).await?;
        let log = self.store_ref().list_interactions(id).await?;
        let last_user = log
            .iter()
            .rev()
            .find(|i| i.role == MessageRole::User)
            .ok_or_else(|| {
                CoreError::Conflict(format!("session {id} has no user message to answer"))
            })?;
        self.store_ref()
            .delete_interactions_from(id, last_user.seq + 1)
            .await?;
        // Live feeds drop what they hold and take a fresh snapshot.
        self.publish(id, &ChatEvent::Reset);
        self.start_answer(p, session, turn, Vec::new()).await
    }

    async fn append(
        &self,
        s: &ChatSession,
        role: MessageRole,
        content: String,
        state: InteractionState,
    ) -> Result<Interaction> {
        self.store_ref()
            .append_interaction(&NewInteraction {
                id: InteractionId::new(),
                session_id: s.id.clone(),
                role,
                content,
                tool_calls: None,
                tool_call_id: None,
                state,
                created_at: self.now(),
            })
            .await
    }

    /// The model request for a session: the app's system prompt and settings, then
    /// the completed log.
    async fn turn_request(&self, p: &Principal, s: &ChatSession) -> Result<ChatRequest> {
        let mut messages = Vec::new();
        let mut extra = Map::new();
        let mut model = s.model.clone();
        if let Some(app_id) = &s.app_id {
            let app = self
                .store_ref()
                .get_app(app_id)
                .await?
                .ok_or_else(|| CoreError::not_found("app", app_id))?;
            authz::authorize_app(self.store_ref(), p, &app, AppAction::Read).await?;
            model = app.model.clone();
            if !app.system_prompt.is_empty() {
                messages.push(ChatMessage {
                    role: "system".into(),
                    content: Some(json!(app.system_prompt)),
                    extra: Map::new(),
                });
            }
            if let Value::Object(settings) = app.settings {
                extra.extend(settings);
            }
        }
        for i in self.store_ref().list_interactions(&s.id).await? {
            if i.state != InteractionState::Complete {
                continue;
            }
            let mut m = Map::new();
            if let Some(calls) = i.tool_calls {
                m.insert("tool_calls".into(), calls);
            }
            if let Some(call_id) = i.tool_call_id {
                m.insert("tool_call_id".into(), json!(call_id));
            }
            messages.push(ChatMessage {
                role: i.role.as_str().into(),
                content: Some(json!(i.content)),
                extra: m,
            });
        }
        extra.insert("stream_options".into(), json!({"include_usage": true}));
        Ok(ChatRequest {
            model,
            messages,
            stream: Some(true),
            extra,
        })
    }

    async fn start_answer(
        &self,
        p: &Principal,
        session: ChatSession,
        turn: TurnGuard,
        mut first: Vec<ChatEvent>,
    ) -> Result<tokio::sync::mpsc::Receiver<ChatEvent>> {
        let request = self.turn_request(p, &session).await?;
        let answer = self
            .append(
                &session,
                MessageRole::Assistant,
                String::new(),
                InteractionState::Waiting,
            )
            .await?;
        first.push(ChatEvent::InteractionCreated {
            interaction: answer.clone(),
        });
        *turn
            .running
            .answer
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(answer.id.clone());
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        for ev in first {
            self.publish(&session.id, &ev);
            let _ = tx.send(ev).await;
        }
        let (cp, p) = (self.clone(), p.clone());
        tokio::spawn(async move {
            let stop = turn.running.stop.clone();
            cp.run_answer(p, session.id, request, answer, tx, stop)
                .await;
            drop(turn);
        });
        Ok(rx)
    }

    /// Runs the model for one answer and persists it; sending to a receiver that is
    /// gone is not an error (the client left; the answer is still kept). A ring of
    /// `stop` ends it early: the model call is dropped (the engine stops generating)
    /// and the text so far is kept as a complete answer.
    #[tracing::instrument(skip_all, fields(interaction = %answer.id))]
    async fn run_answer(
        self,
        p: Principal,
        session_id: SessionId,
        request: ChatRequest,
        mut answer: Interaction,
        tx: tokio::sync::mpsc::Sender<ChatEvent>,
        stop: Arc<tokio::sync::Notify>,
    ) {
        let mut chars = 0usize;
        let mut direct = Some(tx);
        let mut last_persist = std::time::Instant::now();
        // Ok(true): stopped by the user.
        let outcome: Result<bool> = async {
            let mut stream = tokio::select! {
                biased;
                () = stop.notified() => return Ok(true),
                s = self.chat_completion_stream(&p, request) => s?,
            };
            loop {
                let chunk = tokio::select! {
                    biased;
                    () = stop.notified() => {
                        tracing::info!("answer stopped by the user");
                        return Ok(true);
                    }
                    chunk = stream.next() => match chunk {
                        Some(chunk) => chunk?,
                        None => break,
                    },
                };
                if let Some(u) = usage_of(&chunk) {
                    answer.usage = Some(TokenUsage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                    });
                }
                let Some(text) = chunk["choices"][0]["delta"]["content"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                else {
                    continue;
                };
                answer.content.push_str(text);
                // Live text first, then the event (see ops::live for why).
                self.inner.live.append(&answer.id, text);
                let delta = ChatEvent::Delta {
                    interaction_id: answer.id.clone(),
                    offset: chars,
                    text: text.to_owned(),
                };
                self.publish(&session_id, &delta);
                send_direct(&mut direct, delta).await;
                chars += text.chars().count();
                if last_persist.elapsed() >= PERSIST_EVERY {
                    answer.updated_at = self.now();
                    self.store_ref().update_interaction(&answer).await?;
                    last_persist = std::time::Instant::now();
                }
            }
            Ok(false)
        }
        .await;
        answer.updated_at = self.now();
        let event = match outcome {
            // Stopped before any text: nothing to keep as an answer (an empty assistant
            // message would go to the model with the next turn), so it ends as failed.
            Ok(true) if answer.content.is_empty() => {
                answer.state = InteractionState::Error;
                answer.error = Some("stopped: stopped before the model wrote anything".into());
                ChatEvent::Failed {
                    interaction: answer.clone(),
                }
            }
            Ok(_) => {
                answer.state = InteractionState::Complete;
                ChatEvent::Completed {
                    interaction: answer.clone(),
                }
            }
            Err(e) => {
                answer.state = InteractionState::Error;
                let shown = if e.is_internal() {
                    "internal error".to_owned()
                } else {
                    e.to_string()
                };
                if e.is_internal() {
                    tracing::error!(error = %e, "answer failed");
                }
                answer.error = Some(format!("{}: {shown}", e.code()));
                ChatEvent::Failed {
                    interaction: answer.clone(),
                }
            }
        };
        if let Err(e) = self.store_ref().update_interaction(&answer).await {
            tracing::error!(error = %e, "cannot persist the answer");
        }
        self.inner.live.remove(&answer.id);
        self.publish(&session_id, &event);
        send_direct(&mut direct, event).await;
    }

    fn publish(&self, session_id: &SessionId, event: &ChatEvent) {
        self.inner.events.publish(crate::events::BusEvent::Chat {
            session_id: session_id.clone(),
            event: event.clone(),
        });
    }
}

/// A `waiting` answer not updated for this long is taken as interrupted (a crashed
/// or restarted process); answers that are running are written every second.
const STALE_ANSWER: chrono::Duration = chrono::Duration::minutes(2);

/// A session's answer running in this process.
#[derive(Debug, Default)]
pub(crate) struct RunningTurn {
    /// Rung by [`ControlPlane::stop_answer`].
    pub(crate) stop: Arc<tokio::sync::Notify>,
    /// The answer's interaction, once created.
    pub(crate) answer: std::sync::Mutex<Option<InteractionId>>,
}

/// Holds a session's turn: one answer at a time per session. Released when dropped.
pub(crate) struct TurnGuard {
    cp: ControlPlane,
    id: SessionId,
    running: Arc<RunningTurn>,
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        self.cp
            .inner
            .answering
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl ControlPlane {
    /// Takes the session's turn, or says it is still answering. A `waiting` answer in
    /// the store counts too (another replica's), unless it went stale, in which case
    /// it is marked failed so the session can go on.
    async fn begin_turn(&self, id: &SessionId) -> Result<TurnGuard> {
        let busy = || CoreError::Conflict(format!("session {id} is still answering"));
        let running = Arc::new(RunningTurn::default());
        match self
            .inner
            .answering
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.clone())
        {
            std::collections::hash_map::Entry::Occupied(_) => return Err(busy()),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(running.clone()),
        };
        let guard = TurnGuard {
            cp: self.clone(),
            id: id.clone(),
            running,
        };
        let now = self.now();
        for mut i in self.store_ref().list_interactions(id).await? {
            if i.state != InteractionState::Waiting {
                continue;
            }
            if now - i.updated_at < STALE_ANSWER {
                return Err(busy());
            }
            i.state = InteractionState::Error;
            i.error = Some("interrupted: the answer stopped before it completed".into());
            i.updated_at = now;
            self.store_ref().update_interaction(&i).await?;
        }
        Ok(guard)
    }
}

/// How long a turn waits for its own client to take an event before it stops sending
/// to it (the answer is still generated, kept and published).
const DIRECT_SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn send_direct(direct: &mut Option<tokio::sync::mpsc::Sender<ChatEvent>>, event: ChatEvent) {
    let Some(tx) = direct else { return };
    match tokio::time::timeout(DIRECT_SEND_TIMEOUT, tx.send(event)).await {
        Ok(Ok(())) => {}
        // Gone or stalled: stop sending to it.
        _ => *direct = None,
    }
}
