"""Helix for Python: chat sessions with streaming, apps, models, usage and sandboxes on a
Helix server.

>>> from helix import Helix
>>> client = Helix("http://localhost:8080", "hx-...")          # doctest: +SKIP
>>> session = client.create_session(model="qwen3:8b")           # doctest: +SKIP
>>> for text in client.chat(session["id"], "Hello!"):           # doctest: +SKIP
...     print(text, end="", flush=True)

Sandboxes, as E2B-style SDKs shape them:

>>> from helix import Sandbox
>>> with Sandbox.create("python:3.12", timeout=300) as sbx:     # doctest: +SKIP
...     result = sbx.commands.run("python -V", on_stdout=print)
...     sbx.files.write("/work/in.txt", b"data")

Without a server: ``LocalSandboxes`` runs sandboxes in this process (a dockerd of
their own each; root and Docker needed), and ``Scheduler`` is Helix's GPU scheduler
embedded (dicts in, actions out; no I/O):

>>> from helix import LocalSandboxes
>>> with LocalSandboxes(images={"busybox:1": "rootfs.tar"}) as host:  # doctest: +SKIP
...     sbx = host.create_sandbox("busybox:1")
...     print(sbx.commands.run("echo hi")["stdout"])

``AsyncHelix`` / ``AsyncSandbox`` / ``AsyncLocalSandboxes`` are the same on asyncio. Everything runs in the Rust
``helix-client`` crate; this package converts types and maps errors (``helix.errors``).
"""

from . import types
from ._async import AsyncCommands, AsyncFiles, AsyncHelix, AsyncLocalSandboxes, AsyncSandbox
from ._native import ChatStream, ExecStream, LogStream, Scheduler, __version__
from ._sync import Commands, Files, Helix, LocalSandboxes, Sandbox
from .errors import (
    AuthenticationError,
    ConflictError,
    ConnectionError,
    HelixError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
)

__all__ = [
    "AsyncCommands",
    "AsyncFiles",
    "AsyncHelix",
    "AsyncLocalSandboxes",
    "AsyncSandbox",
    "AuthenticationError",
    "ChatStream",
    "Commands",
    "ConflictError",
    "ConnectionError",
    "ExecStream",
    "Files",
    "Helix",
    "HelixError",
    "InvalidRequestError",
    "LocalSandboxes",
    "LogStream",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Sandbox",
    "Scheduler",
    "ServerError",
    "StreamError",
    "__version__",
    "types",
]
