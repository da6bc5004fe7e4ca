//! Row <-> model conversions shared by the SQL store files.

use crate::clock::ms_to_time;
use crate::error::{CoreError, Result};
use crate::model::*;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(ms)
}

pub(super) fn time(row: &AnyRow, col: &str) -> Result<DateTime<Utc>> {
    Ok(ms_to_time(row.try_get::<i64, _>(col)?))
}

pub(super) fn opt_time(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(ms_to_time))
}

pub(super) fn text(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(super) fn opt_text(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(super) fn flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

pub(super) fn id<T: std::str::FromStr<Err = CoreError>>(row: &AnyRow, col: &str) -> Result<T> {
    text(row, col)?.parse()
}

pub(super) fn opt_id<T: std::str::FromStr<Err = CoreError>>(
    row: &AnyRow,
    col: &str,
) -> Result<Option<T>> {
    opt_text(row, col)?.map(|s| s.parse()).transpose()
}

fn corrupt(what: &str, value: &str) -> CoreError {
    CoreError::internal(format!("corrupt stored {what} {value:?}"))
}

pub(super) fn json(row: &AnyRow, col: &str) -> Result<serde_json::Value> {
    let s = text(row, col)?;
    serde_json::from_str(&s).map_err(|_| corrupt(col, &s))
}

pub(super) fn opt_json(row: &AnyRow, col: &str) -> Result<Option<serde_json::Value>> {
    opt_text(row, col)?
        .map(|s| serde_json::from_str(&s).map_err(|_| corrupt(col, &s)))
        .transpose()
}

pub(super) fn role(row: &AnyRow, col: &str) -> Result<Role> {
    let s = text(row, col)?;
    Role::parse(&s).ok_or_else(|| corrupt("role", &s))
}

pub(super) const USER_COLS: &str = "id, email, name, is_admin, created_at";

pub(super) fn user(row: &AnyRow) -> Result<User> {
    user_at(row, "")
}

/// The user columns of a joined row, aliased as `u_id`, `u_email`, ...
pub(super) const JOINED_USER_COLS: &str =
    "u.id AS u_id, u.email AS u_email, u.name AS u_name, u.is_admin AS u_is_admin, \
     u.created_at AS u_created_at";

/// A user read from columns named `{prefix}id`, `{prefix}email`, ...
pub(super) fn user_at(row: &AnyRow, prefix: &str) -> Result<User> {
    let col = |c: &str| format!("{prefix}{c}");
    Ok(User {
        id: id(row, &col("id"))?,
        email: text(row, &col("email"))?,
        name: text(row, &col("name"))?,
        is_admin: flag(row, &col("is_admin"))?,
        created_at: time(row, &col("created_at"))?,
    })
}

pub(super) const API_KEY_COLS: &str =
    "id, user_id, name, prefix, created_at, last_used_at, expires_at, revoked_at, \
     requests_per_minute, tokens_per_minute";

pub(super) const JOINED_API_KEY_COLS: &str = "k.id, k.user_id, k.name, k.prefix, k.created_at, \
     k.last_used_at, k.expires_at, k.revoked_at, k.requests_per_minute, k.tokens_per_minute";

pub(super) fn api_key(row: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: id(row, "id")?,
        user_id: id(row, "user_id")?,
        name: text(row, "name")?,
        prefix: text(row, "prefix")?,
        created_at: time(row, "created_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
        expires_at: opt_time(row, "expires_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
        requests_per_minute: row.try_get::<Option<i64>, _>("requests_per_minute")?,
        tokens_per_minute: row.try_get::<Option<i64>, _>("tokens_per_minute")?,
    })
}

pub(super) const RUNNER_TOKEN_COLS: &str = "id, runner_id, description, prefix, created_by, \
     created_at, expires_at, revoked_at, last_used_at";

pub(super) fn runner_token(row: &AnyRow) -> Result<RunnerToken> {
    Ok(RunnerToken {
        id: id(row, "id")?,
        runner_id: text(row, "runner_id")?,
        description: opt_text(row, "description")?,
        prefix: text(row, "prefix")?,
        created_by: id(row, "created_by")?,
        created_at: time(row, "created_at")?,
        expires_at: opt_time(row, "expires_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
    })
}

pub(super) fn org(row: &AnyRow) -> Result<Org> {
    Ok(Org {
        id: id(row, "id")?,
        name: text(row, "name")?,
        created_at: time(row, "created_at")?,
    })
}

pub(super) const APP_COLS: &str = "id, org_id, created_by, name, description, system_prompt, \
     model, settings, created_at, updated_at";

pub(super) fn app(row: &AnyRow) -> Result<App> {
    Ok(App {
        id: id(row, "id")?,
        org_id: id(row, "org_id")?,
        created_by: id(row, "created_by")?,
        name: text(row, "name")?,
        description: text(row, "description")?,
        system_prompt: text(row, "system_prompt")?,
        model: text(row, "model")?,
        settings: json(row, "settings")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(super) fn scope_parts(scope: &Scope) -> (&'static str, String) {
    match scope {
        Scope::Global => ("global", String::new()),
        Scope::Org { org_id } => ("org", org_id.to_string()),
        Scope::User { user_id } => ("user", user_id.to_string()),
    }
}

pub(super) const ENDPOINT_COLS: &str =
    "id, name, kind, base_url, scope, scope_id, api_key_encrypted, created_at";

pub(super) fn endpoint(row: &AnyRow) -> Result<ProviderEndpoint> {
    let kind = text(row, "kind")?;
    let scope_id = text(row, "scope_id")?;
    let scope = match text(row, "scope")?.as_str() {
        "global" => Scope::Global,
        "org" => Scope::Org {
            org_id: scope_id.parse()?,
        },
        "user" => Scope::User {
            user_id: scope_id.parse()?,
        },
        other => return Err(corrupt("scope", other)),
    };
    Ok(ProviderEndpoint {
        id: id(row, "id")?,
        name: text(row, "name")?,
        kind: ProviderKind::parse(&kind).ok_or_else(|| corrupt("provider kind", &kind))?,
        base_url: text(row, "base_url")?,
        scope,
        has_api_key: row
            .try_get::<Option<Vec<u8>>, _>("api_key_encrypted")?
            .is_some(),
        created_at: time(row, "created_at")?,
    })
}

pub(super) fn model(row: &AnyRow) -> Result<Model> {
    Ok(Model {
        id: id(row, "id")?,
        provider_endpoint_id: id(row, "provider_endpoint_id")?,
        name: text(row, "name")?,
        is_default: flag(row, "is_default")?,
        context_length: row.try_get::<Option<i64>, _>("context_length")?,
        created_at: time(row, "created_at")?,
    })
}

pub(super) const SESSION_COLS: &str =
    "id, owner_id, org_id, app_id, name, model, created_at, updated_at";

pub(super) fn session(row: &AnyRow) -> Result<ChatSession> {
    Ok(ChatSession {
        id: id(row, "id")?,
        owner_id: id(row, "owner_id")?,
        org_id: opt_id(row, "org_id")?,
        app_id: opt_id(row, "app_id")?,
        name: text(row, "name")?,
        model: text(row, "model")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(super) const INTERACTION_COLS: &str = "id, session_id, seq, role, content, tool_calls, \
     tool_call_id, state, error, prompt_tokens, completion_tokens, created_at, updated_at";

pub(super) fn interaction(row: &AnyRow) -> Result<Interaction> {
    let role_s = text(row, "role")?;
    let state_s = text(row, "state")?;
    let prompt = row.try_get::<Option<i64>, _>("prompt_tokens")?;
    let completion = row.try_get::<Option<i64>, _>("completion_tokens")?;
    Ok(Interaction {
        id: id(row, "id")?,
        session_id: id(row, "session_id")?,
        seq: row.try_get::<i64, _>("seq")?,
        role: MessageRole::parse(&role_s).ok_or_else(|| corrupt("role", &role_s))?,
        content: text(row, "content")?,
        tool_calls: opt_json(row, "tool_calls")?,
        tool_call_id: opt_text(row, "tool_call_id")?,
        state: InteractionState::parse(&state_s).ok_or_else(|| corrupt("state", &state_s))?,
        error: opt_text(row, "error")?,
        usage: match (prompt, completion) {
            (Some(prompt_tokens), Some(completion_tokens)) => Some(TokenUsage {
                prompt_tokens,
                completion_tokens,
            }),
            _ => None,
        },
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}
