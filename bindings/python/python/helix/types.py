"""The shapes of what the server answers, as ``TypedDict``s (plain dicts at run time)."""

from __future__ import annotations

from typing import Any, Optional, TypedDict


class ModelInfo(TypedDict):
    id: str
    owned_by: str


class ChatSession(TypedDict):
    id: str
    owner_id: str
    org_id: Optional[str]
    app_id: Optional[str]
    name: str
    model: str
    created_at: str
    updated_at: str


class Interaction(TypedDict):
    id: str
    session_id: str
    seq: int
    role: str
    content: str
    tool_calls: Optional[Any]
    tool_call_id: Optional[str]
    state: str
    error: Optional[str]
    usage: Optional[dict[str, int]]
    created_at: str
    updated_at: str


class SessionWithInteractions(ChatSession):
    interactions: list[Interaction]


class App(TypedDict):
    id: str
    org_id: str
    created_by: str
    name: str
    description: str
    system_prompt: str
    model: str
    settings: dict[str, Any]
    created_at: str
    updated_at: str


class OrgWithRole(TypedDict):
    id: str
    name: str
    created_at: str
    role: str


class UsageRow(TypedDict):
    day: str
    model: str
    api_key_id: Optional[str]
    calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    avg_latency_ms: int


class SandboxInfo(TypedDict):
    id: str
    image: str
    state: str
    labels: dict[str, str]
    limits: dict[str, Any]
    created_at: str
    expires_at: str


class FileEntry(TypedDict):
    name: str
    path: str
    kind: str
    size: int
    mode: int
    modified: int


class CommandResult(TypedDict):
    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool
