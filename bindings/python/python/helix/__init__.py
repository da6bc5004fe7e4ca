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

``AsyncHelix`` / ``AsyncSandbox`` are the same on asyncio. Everything runs in the Rust
``helix-client`` crate; this package converts types and maps errors (``helix.errors``).
"""

from . import types
from ._async import AsyncCommands, AsyncFiles, AsyncHelix, AsyncSandbox
from ._native import ChatStream, ExecStream, __version__
from ._sync import Commands, Files, Helix, Sandbox
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
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Sandbox",
    "ServerError",
    "StreamError",
    "__version__",
    "types",
]
