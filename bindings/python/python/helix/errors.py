"""Helix exceptions. Every one is a :class:`HelixError` with ``code`` (stable, the
server's own error code when it answered with one), ``status`` (HTTP status or ``None``)
and ``message``."""

from ._native import (
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
    "AuthenticationError",
    "ConflictError",
    "ConnectionError",
    "HelixError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "StreamError",
]
