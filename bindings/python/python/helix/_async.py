"""The asyncio client: each call awaits the Rust future on the SDK's tokio runtime."""

from __future__ import annotations

import weakref
from typing import Any, Awaitable, Callable, Mapping, Optional, Union

from . import _common, _native
from ._common import Command
from .types import (
    App,
    ChatSession,
    CommandResult,
    FileEntry,
    ModelInfo,
    OrgWithRole,
    SandboxInfo,
    SessionWithInteractions,
    UsageRow,
)

Callback = Callable[[str], Union[None, Awaitable[None]]]


class _SandboxSource:
    """What a server client and a local host share: making and finding sandboxes."""

    _n: _native.Client | _native.LocalSandboxes

    async def create_sandbox(
        self,
        image: str,
        *,
        timeout: Optional[float] = None,
        env: Optional[Mapping[str, str]] = None,
        labels: Optional[Mapping[str, str]] = None,
        cpus: Optional[float] = None,
        memory_bytes: Optional[int] = None,
    ) -> AsyncSandbox:
        spec = _common.sandbox_spec(
            image, timeout=timeout, env=env, labels=labels, cpus=cpus, memory_bytes=memory_bytes
        )
        return AsyncSandbox(await self._n.create_sandbox(spec))

    async def connect_sandbox(self, sandbox_id: str) -> AsyncSandbox:
        return AsyncSandbox(await self._n.connect_sandbox(sandbox_id))

    async def list_sandboxes(self) -> list[SandboxInfo]:
        return await self._n.list_sandboxes()


class AsyncHelix(_SandboxSource):
    """A Helix server reached with an API key (``HELIX_URL`` / ``HELIX_API_KEY`` by default)."""

    _n: _native.Client

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None) -> None:
        url, key = _common.server(base_url, api_key)
        self._n = _native.Client(url, key)

    @property
    def base_url(self) -> str:
        return self._n.base_url

    async def list_models(self) -> list[ModelInfo]:
        return await self._n.list_models()

    async def usage(self, days: Optional[int] = None) -> list[UsageRow]:
        return await self._n.usage(days)

    async def list_orgs(self) -> list[OrgWithRole]:
        return await self._n.list_orgs()

    async def list_sessions(self) -> list[ChatSession]:
        return await self._n.list_sessions()

    async def create_session(
        self, *, model: Optional[str] = None, app_id: Optional[str] = None, name: Optional[str] = None
    ) -> ChatSession:
        return await self._n.create_session(model=model, app_id=app_id, name=name)

    async def get_session(self, session_id: str) -> SessionWithInteractions:
        return await self._n.get_session(session_id)

    async def delete_session(self, session_id: str) -> None:
        await self._n.delete_session(session_id)

    async def chat(self, session_id: str, message: str) -> _native.ChatStream:
        """Sends a message. ``async for`` over the result yields the answer's text as it
        is written; ``.interaction`` is the finished answer afterwards."""
        return await self._n.chat(session_id, message)

    async def list_apps(self, org_id: Optional[str] = None) -> list[App]:
        return await self._n.list_apps(org_id)

    async def create_app(
        self,
        *,
        org_id: str,
        name: str,
        model: str,
        system_prompt: str = "",
        description: str = "",
        settings: Optional[Mapping[str, Any]] = None,
    ) -> App:
        return await self._n.create_app(
            org_id=org_id,
            name=name,
            model=model,
            system_prompt=system_prompt,
            description=description,
            settings=settings,
        )

    async def get_app(self, app_id: str) -> App:
        return await self._n.get_app(app_id)

    async def delete_app(self, app_id: str) -> None:
        await self._n.delete_app(app_id)


async def _call(cb: Optional[Callback], data: str) -> None:
    if cb is not None:
        r = cb(data)
        if r is not None:
            await r


class AsyncCommands:
    """``sandbox.commands``: run commands."""

    def __init__(self, n: _native.Sandbox) -> None:
        self._n = n

    async def run(
        self,
        cmd: Command,
        *,
        on_stdout: Optional[Callback] = None,
        on_stderr: Optional[Callback] = None,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        user: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> CommandResult:
        """Runs to the end; output goes to the callbacks (plain or async) as it comes."""
        spec = _common.exec_spec(cmd, cwd=cwd, env=env, user=user, timeout=timeout)
        stream = await self._n.run(spec)
        if on_stdout is None and on_stderr is None:
            return await stream.wait()
        out: list[str] = []
        err: list[str] = []
        async for ev in stream:
            if ev["type"] == "stdout":
                out.append(ev["data"])
                await _call(on_stdout, ev["data"])
            elif ev["type"] == "stderr":
                err.append(ev["data"])
                await _call(on_stderr, ev["data"])
            elif ev["type"] == "exit":
                return {
                    "stdout": "".join(out),
                    "stderr": "".join(err),
                    "exit_code": ev["code"],
                    "timed_out": ev["timed_out"],
                }
        raise AssertionError("unreachable: the stream ends with exit or raises")

    async def stream(
        self,
        cmd: Command,
        *,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        user: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> _native.ExecStream:
        """Starts a command; ``async for`` over the result yields its output events."""
        spec = _common.exec_spec(cmd, cwd=cwd, env=env, user=user, timeout=timeout)
        return await self._n.run(spec)


class AsyncFiles:
    """``sandbox.files``: read, write and list files."""

    def __init__(self, n: _native.Sandbox) -> None:
        self._n = n

    async def read(self, path: str) -> bytes:
        return await self._n.read_file(path)

    async def write(self, path: str, data: bytes | str) -> None:
        await self._n.write_file(path, data.encode() if isinstance(data, str) else data)

    async def list(self, path: str) -> list[FileEntry]:
        return await self._n.list_dir(path)


class AsyncSandbox:
    """A sandbox: ``commands.run``, ``files.*``, ``get_host``, ``set_timeout``, ``kill``.
    Usable as an async context manager that kills it on exit."""

    def __init__(self, n: _native.Sandbox) -> None:
        self._n = n
        self.commands = AsyncCommands(n)
        self.files = AsyncFiles(n)

    @classmethod
    async def create(
        cls,
        image: str,
        *,
        timeout: Optional[float] = None,
        env: Optional[Mapping[str, str]] = None,
        labels: Optional[Mapping[str, str]] = None,
        cpus: Optional[float] = None,
        memory_bytes: Optional[int] = None,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
    ) -> AsyncSandbox:
        """A new sandbox on the server of ``HELIX_URL`` / ``HELIX_API_KEY``."""
        client = AsyncHelix(base_url, api_key)
        return await client.create_sandbox(
            image, timeout=timeout, env=env, labels=labels, cpus=cpus, memory_bytes=memory_bytes
        )

    @property
    def id(self) -> str:
        return self._n.id

    @property
    def info(self) -> SandboxInfo:
        return self._n.info

    async def refresh(self) -> SandboxInfo:
        return await self._n.refresh()

    async def get_host(self, port: int) -> str:
        """The URL at which HTTP reaches ``port``: the control plane's relay (send the API
        key), or the sandbox's own address when it is local."""
        return await self._n.host(port)

    async def set_timeout(self, seconds: float) -> SandboxInfo:
        return await self._n.set_timeout(seconds)

    async def logs(self) -> str:
        return await self._n.logs()

    async def logs_stream(self, follow: bool = False) -> _native.LogStream:
        """The workspace's output as ``bytes`` pieces as they come (``follow``: until it stops)."""
        return await self._n.logs_stream(follow)

    @property
    def is_local(self) -> bool:
        """Whether this process runs it (``AsyncLocalSandboxes``)."""
        return self._n.is_local

    async def kill(self) -> None:
        await self._n.kill()

    async def __aenter__(self) -> AsyncSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.kill()

    def __repr__(self) -> str:
        return f"AsyncSandbox(id={self.id!r})"


class AsyncLocalSandboxes(_SandboxSource):
    """Sandboxes run by this process, no server (see ``LocalSandboxes``); made with
    ``await AsyncLocalSandboxes.start(...)``. As an async context manager, every sandbox
    it made is killed on exit."""

    _n: _native.LocalSandboxes

    def __init__(self, n: _native.LocalSandboxes) -> None:
        self._n = n
        # Shut down at interpreter exit too if the program did not.
        self._finalizer = weakref.finalize(self, _common.shutdown_quietly, n)

    @classmethod
    async def start(
        cls,
        state_dir: Optional[str] = None,
        *,
        images: Optional[Mapping[str, str]] = None,
        prefix: Optional[str] = None,
        uplink_pool: Optional[str] = None,
        container_pool: Optional[str] = None,
        max_sandboxes: Optional[int] = None,
        disk_bytes: Optional[int] = None,
        warm: Optional[int] = None,
    ) -> AsyncLocalSandboxes:
        """Starts the host. ``images`` maps ``name:tag`` to a root filesystem tarball."""
        cfg = _common.local_config(
            state_dir,
            images=images,
            prefix=prefix,
            uplink_pool=uplink_pool,
            container_pool=container_pool,
            max_sandboxes=max_sandboxes,
            disk_bytes=disk_bytes,
            warm=warm,
        )
        return cls(await _native.LocalSandboxes.start(cfg))

    async def shutdown(self) -> None:
        """Kills every sandbox of this host and stops it (also done at interpreter exit)."""
        await self._n.shutdown()
        self._finalizer.detach()

    async def __aenter__(self) -> AsyncLocalSandboxes:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()


__all__ = ["AsyncCommands", "AsyncFiles", "AsyncHelix", "AsyncLocalSandboxes", "AsyncSandbox"]
