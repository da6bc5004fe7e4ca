"""What the sync and async facades share: argument shaping and the default server."""

from __future__ import annotations

import os
import shlex
from typing import Any, Mapping, Optional, Sequence, Union

Command = Union[str, Sequence[str]]


def server(base_url: Optional[str], api_key: Optional[str]) -> tuple[str, str]:
    """The server and key: the arguments, else ``HELIX_URL`` / ``HELIX_API_KEY``."""
    url = base_url or os.environ.get("HELIX_URL") or "http://localhost:8080"
    key = api_key or os.environ.get("HELIX_API_KEY") or ""
    return url, key


def sandbox_spec(
    image: str,
    *,
    timeout: Optional[float],
    env: Optional[Mapping[str, str]],
    labels: Optional[Mapping[str, str]],
    cpus: Optional[float],
    memory_bytes: Optional[int],
) -> dict[str, Any]:
    spec: dict[str, Any] = {"image": image}
    if timeout is not None:
        spec["timeout"] = timeout
    if env:
        spec["env"] = dict(env)
    if labels:
        spec["labels"] = dict(labels)
    limits: dict[str, Any] = {}
    if cpus is not None:
        limits["cpus"] = cpus
    if memory_bytes is not None:
        limits["memory_bytes"] = memory_bytes
    if limits:
        spec["limits"] = limits
    return spec


def exec_spec(
    cmd: Command,
    *,
    cwd: Optional[str],
    env: Optional[Mapping[str, str]],
    user: Optional[str],
    timeout: Optional[float],
) -> dict[str, Any]:
    """A string runs through ``sh -c`` (as E2B's ``commands.run`` does); a list runs as is."""
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    spec: dict[str, Any] = {"cmd": argv}
    if cwd is not None:
        spec["cwd"] = cwd
    if env:
        spec["env"] = dict(env)
    if user is not None:
        spec["user"] = user
    if timeout is not None:
        spec["timeout"] = timeout
    return spec


def local_config(
    state_dir: Optional[str],
    *,
    images: Optional[Mapping[str, str]],
    prefix: Optional[str],
    uplink_pool: Optional[str],
    container_pool: Optional[str],
    max_sandboxes: Optional[int],
    disk_bytes: Optional[int],
    warm: Optional[int],
) -> dict[str, Any]:
    """The local host's settings; what is left out takes helix-client's default."""
    cfg: dict[str, Any] = {}
    if state_dir is not None:
        cfg["state_dir"] = os.fspath(state_dir)
    if images:
        cfg["images"] = [[name, os.fspath(path)] for name, path in images.items()]
    for key, value in (
        ("prefix", prefix),
        ("uplink_pool", uplink_pool),
        ("container_pool", container_pool),
        ("max_sandboxes", max_sandboxes),
        ("disk_bytes", disk_bytes),
        ("warm", warm),
    ):
        if value is not None:
            cfg[key] = value
    return cfg


def shutdown_quietly(host: Any) -> None:
    """Stops a local sandbox host (``_native.LocalSandboxes``); for finalizers."""
    host.shutdown().wait()


def describe(cmd: Command) -> str:
    return cmd if isinstance(cmd, str) else shlex.join(cmd)
