"""The blocking client: each call runs the Rust future with the GIL released."""

from __future__ import annotations

import weakref
from typing import Any, Callable, Mapping, Optional

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


class _SandboxSource:
    """What a server client and a local host share: making and finding sandboxes."""

    _n: _native.Client | _native.LocalSandboxes

    def create_sandbox(
        self,
        image: str,
        *,
        timeout: Optional[float] = None,
        env: Optional[Mapping[str, str]] = None,
        labels: Optional[Mapping[str, str]] = None,
        cpus: Optional[float] = None,
        memory_bytes: Optional[int] = None,
    ) -> Sandbox:
        spec = _common.sandbox_spec(
            image, timeout=timeout, env=env, labels=labels, cpus=cpus, memory_bytes=memory_bytes
        )
        return Sandbox(self._n.create_sandbox(spec).wait())

    def connect_sandbox(self, sandbox_id: str) -> Sandbox:
        return Sandbox(self._n.connect_sandbox(sandbox_id).wait())

    def list_sandboxes(self) -> list[SandboxInfo]:
        return self._n.list_sandboxes().wait()


class Helix(_SandboxSource):
    """A Helix server reached with an API key (``HELIX_URL`` / ``HELIX_API_KEY`` by default)."""

    _n: _native.Client

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None) -> None:
        url, key = _common.server(base_url, api_key)
        self._n = _native.Client(url, key)

    @property
    def base_url(self) -> str:
        return self._n.base_url

    def list_models(self) -> list[ModelInfo]:
        return self._n.list_models().wait()

    def usage(self, days: Optional[int] = None) -> list[UsageRow]:
        return self._n.usage(days).wait()

    def list_orgs(self) -> list[OrgWithRole]:
        return self._n.list_orgs().wait()

    def list_sessions(self) -> list[ChatSession]:
        return self._n.list_sessions().wait()

    def create_session(
        self, *, model: Optional[str] = None, app_id: Optional[str] = None, name: Optional[str] = None
    ) -> ChatSession:
        return self._n.create_session(model=model, app_id=app_id, name=name).wait()

    def get_session(self, session_id: str) -> SessionWithInteractions:
        return self._n.get_session(session_id).wait()

    def delete_session(self, session_id: str) -> None:
        self._n.delete_session(session_id).wait()

    def chat(self, session_id: str, message: str) -> _native.ChatStream:
        """Sends a message. Iterate the result for the answer's text as it is written;
        ``.interaction`` is the finished answer afterwards."""
        return self._n.chat(session_id, message).wait()

    def list_apps(self, org_id: Optional[str] = None) -> list[App]:
        return self._n.list_apps(org_id).wait()

    def create_app(
        self,
        *,
        org_id: str,
        name: str,
        model: str,
        system_prompt: str = "",
        description: str = "",
        settings: Optional[Mapping[str, Any]] = None,
    ) -> App:
        return self._n.create_app(
            org_id=org_id,
            name=name,
            model=model,
            system_prompt=system_prompt,
            description=description,
            settings=settings,
        ).wait()

    def get_app(self, app_id: str) -> App:
        return self._n.get_app(app_id).wait()

    def delete_app(self, app_id: str) -> None:
        self._n.delete_app(app_id).wait()



class Commands:
    """``sandbox.commands``: run commands."""

    def __init__(self, n: _native.Sandbox) -> None:
        self._n = n

    def run(
        self,
        cmd: Command,
        *,
        on_stdout: Optional[Callable[[str], None]] = None,
        on_stderr: Optional[Callable[[str], None]] = None,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        user: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> CommandResult:
        """Runs to the end; output goes to the callbacks as it comes. A string runs
        through ``sh -c``."""
        spec = _common.exec_spec(cmd, cwd=cwd, env=env, user=user, timeout=timeout)
        stream = self._n.run(spec).wait()
        if on_stdout is None and on_stderr is None:
            return stream.wait().wait()
        out: list[str] = []
        err: list[str] = []
        for ev in stream:
            if ev["type"] == "stdout":
                out.append(ev["data"])
                if on_stdout:
                    on_stdout(ev["data"])
            elif ev["type"] == "stderr":
                err.append(ev["data"])
                if on_stderr:
                    on_stderr(ev["data"])
            elif ev["type"] == "exit":
                return {
                    "stdout": "".join(out),
                    "stderr": "".join(err),
                    "exit_code": ev["code"],
                    "timed_out": ev["timed_out"],
                }
        raise AssertionError("unreachable: the stream ends with exit or raises")

    def stream(
        self,
        cmd: Command,
        *,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        user: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> _native.ExecStream:
        """Starts a command; iterate the result for its output events."""
        spec = _common.exec_spec(cmd, cwd=cwd, env=env, user=user, timeout=timeout)
        return self._n.run(spec).wait()


class Files:
    """``sandbox.files``: read, write and list files."""

    def __init__(self, n: _native.Sandbox) -> None:
        self._n = n

    def read(self, path: str) -> bytes:
        return self._n.read_file(path).wait()

    def write(self, path: str, data: bytes | str) -> None:
        self._n.write_file(path, data.encode() if isinstance(data, str) else data).wait()

    def list(self, path: str) -> list[FileEntry]:
        return self._n.list_dir(path).wait()


class Sandbox:
    """A sandbox: ``commands.run``, ``files.*``, ``get_host``, ``set_timeout``, ``kill``.
    Usable as a context manager that kills it on exit."""

    def __init__(self, n: _native.Sandbox) -> None:
        self._n = n
        self.commands = Commands(n)
        self.files = Files(n)

    @classmethod
    def create(
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
    ) -> Sandbox:
        """A new sandbox on the server of ``HELIX_URL`` / ``HELIX_API_KEY``."""
        return Helix(base_url, api_key).create_sandbox(
            image, timeout=timeout, env=env, labels=labels, cpus=cpus, memory_bytes=memory_bytes
        )

    @property
    def id(self) -> str:
        return self._n.id

    @property
    def info(self) -> SandboxInfo:
        return self._n.info

    def refresh(self) -> SandboxInfo:
        return self._n.refresh().wait()

    def get_host(self, port: int) -> str:
        """The URL at which HTTP reaches ``port``: the control plane's relay (send the API
        key), or the sandbox's own address when it is local."""
        return self._n.host(port).wait()

    def set_timeout(self, seconds: float) -> SandboxInfo:
        return self._n.set_timeout(seconds).wait()

    def logs(self) -> str:
        return self._n.logs().wait()

    def logs_stream(self, follow: bool = False) -> _native.LogStream:
        """The workspace's output as ``bytes`` pieces as they come (``follow``: until it stops)."""
        return self._n.logs_stream(follow).wait()

    @property
    def is_local(self) -> bool:
        """Whether this process runs it (``LocalSandboxes``)."""
        return self._n.is_local

    def kill(self) -> None:
        self._n.kill().wait()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r})"


class LocalSandboxes(_SandboxSource):
    """Sandboxes run by this process, no server: a dockerd of their own each (needs root
    and Docker's binaries). The same ``Sandbox`` objects as a server's. As a context
    manager, every sandbox it made is killed on exit."""

    _n: _native.LocalSandboxes

    def __init__(
        self,
        state_dir: Optional[str] = None,
        *,
        images: Optional[Mapping[str, str]] = None,
        prefix: Optional[str] = None,
        uplink_pool: Optional[str] = None,
        container_pool: Optional[str] = None,
        max_sandboxes: Optional[int] = None,
        disk_bytes: Optional[int] = None,
        warm: Optional[int] = None,
    ) -> None:
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
        self._n = _native.LocalSandboxes.start(cfg).wait()
        # The host's sandboxes live only as long as this process drives them: shut down
        # at interpreter exit too if the program did not.
        self._finalizer = weakref.finalize(self, _common.shutdown_quietly, self._n)

    def shutdown(self) -> None:
        """Kills every sandbox of this host and stops it (also done at interpreter exit)."""
        self._finalizer()

    def __enter__(self) -> LocalSandboxes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


__all__ = ["Commands", "Files", "Helix", "LocalSandboxes", "Sandbox"]
