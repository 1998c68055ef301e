"""One error root: every failure redisguard expects is a :class:`RedisguardError` with an exit code.

The CLI catches the root once (``redisguard.cli.main``) and prints ``str(error)``: one line, no
secret, no traceback. Library callers catch one class, and read ``retriable`` to know whether trying
again may help (aiokafka's idea). :func:`from_redis` turns whatever redis-py (or a socket) raised in
the middle of a command into the matching subclass, so commands never map exceptions one by one.
"""

from __future__ import annotations

import ssl
from typing import ClassVar

import redis.exceptions as rex

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_CANNOT_CONNECT",
    "EXIT_CLOSED_PIPE",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "CancelledError",
    "ConnectionFailed",
    "RedisguardError",
    "RefusedError",
    "SnapshotFormatError",
    "UsageError",
    "from_redis",
    "one_line",
]

EXIT_USAGE = 2
EXIT_CANNOT_CONNECT = 3
EXIT_INTERNAL = 4
EXIT_CANCELLED = 130
# The reader of stdout left (`| head`): what a shell reports for a writer killed by SIGPIPE, so that a cut
# report never passes for a whole one with its exit code (doctor's 0 'healthy', say).
EXIT_CLOSED_PIPE = 141


def one_line(text: str, limit: int = 300) -> str:
    """The first line of ``text``, bounded: an error message never spans lines."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


class RedisguardError(Exception):
    """Something redisguard expected could go wrong. ``str()`` is one secret-free line."""

    exit_code: ClassVar[int] = EXIT_INTERNAL
    retriable: ClassVar[bool] = False

    def __init__(self, message: str, *, kind: str = "other") -> None:
        super().__init__(one_line(message, limit=1000))
        self.kind = kind


class ConnectionFailed(RedisguardError):
    """No usable connection: unreachable, TLS, authentication, not Redis, or lost mid-command (exit 3)."""

    exit_code = EXIT_CANNOT_CONNECT
    retriable = True


class RefusedError(RedisguardError):
    """The server answered but refused: a permission (NOPERM), a renamed or unknown command (exit 3)."""

    exit_code = EXIT_CANNOT_CONNECT


class UsageError(RedisguardError):
    """Bad input from the user: an option, a URL's database or port, a stream id (exit 2)."""

    exit_code = EXIT_USAGE


class SnapshotFormatError(UsageError, ValueError):
    """The file is not a snapshot this version of redisguard can read (exit 2)."""


class CancelledError(RedisguardError):
    """The user pressed Ctrl-C (exit 130)."""

    exit_code = EXIT_CANCELLED

    def __init__(self, message: str = "cancelled", *, kind: str = "cancelled") -> None:
        super().__init__(message, kind=kind)


def loading_message(target: str) -> str:
    """The server answered, but is still loading its dataset (LOADING): not a connection failure."""
    return (f"{target}: the server is loading its dataset into memory (LOADING) and answers once it is done: "
            "try again then")


def from_redis(exc: BaseException, target: str) -> RedisguardError:
    """The :class:`RedisguardError` for an exception redis-py or a socket raised while talking to ``target``.

    ``target`` must already be redacted (``ConnectionOptions.display``). A message redis-py builds may
    name the host and port but never the password.
    """
    if isinstance(exc, RedisguardError):
        return exc
    text = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, rex.NoPermissionError) or text.upper().startswith("NOPERM"):
        return RefusedError(f"{target}: permission denied ({text}); see `redisguard acl`", kind="noperm")
    if isinstance(exc, rex.AuthenticationError):
        return ConnectionFailed(f"{target}: authentication failed (wrong user name or password)", kind="auth")
    if isinstance(exc, rex.TimeoutError | TimeoutError):
        return ConnectionFailed(f"{target}: no reply before the timeout ({text})", kind="timeout")
    if isinstance(exc, ssl.SSLError):
        return ConnectionFailed(f"{target}: TLS failure ({text})", kind="tls")
    if isinstance(exc, rex.BusyLoadingError) or text.upper().startswith("LOADING"):
        return ConnectionFailed(loading_message(target), kind="loading")
    if isinstance(exc, rex.ConnectionError | ConnectionError | EOFError):
        return ConnectionFailed(f"{target}: lost the connection ({text})", kind="lost")
    if isinstance(exc, rex.ResponseError):
        return RefusedError(f"{target}: the server refused a command ({text})", kind="refused")
    if isinstance(exc, rex.RedisError | OSError):
        return ConnectionFailed(f"{target}: {type(exc).__name__}: {text}", kind="other")
    return RedisguardError(f"{target}: {type(exc).__name__}: {text}")
