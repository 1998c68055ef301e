"""Errors that end a command with a one-line message instead of a traceback."""

from __future__ import annotations

import ssl

import redis.exceptions as rex

from redisguard.errors import EXIT_CANNOT_CONNECT, ConnectionFailed, loading_message

__all__ = ["EXIT_CANNOT_CONNECT", "ConnectError", "describe_connect_failure"]


class ConnectError(ConnectionFailed):
    """redisguard could not get a usable connection (exit 3). ``str()`` is a one-line, secret-free message."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message, kind=kind)


def describe_connect_failure(target: str, exc: BaseException) -> ConnectError:
    """Turn whatever redis-py raised while connecting into a one-line :class:`ConnectError`.

    ``target`` must already be redacted (no password).
    """
    text = str(exc)
    lowered = text.lower()
    if ("noauth" in lowered or "authentication required" in lowered
            or "already authenticated" in lowered):  # redis-py 8's HELLO handshake without a password
        return ConnectError(f"{target}: the server requires a password (use --password or REDISCLI_AUTH)",
                            kind="auth")
    if isinstance(exc, rex.AuthenticationError) or "wrongpass" in lowered or "invalid password" in lowered:
        return ConnectError(f"{target}: authentication failed (wrong user name or password)", kind="auth")
    if isinstance(exc, ssl.SSLError) or "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        first = text.splitlines()[0] if text else type(exc).__name__
        return ConnectError(f"{target}: TLS handshake failed ({first})", kind="tls")
    if isinstance(exc, rex.InvalidResponse) or "protocol error" in lowered:
        return ConnectError(f"{target}: the server did not answer in the Redis protocol: is this a Redis server?",
                            kind="protocol")
    if isinstance(exc, rex.TimeoutError):
        if target.startswith("rediss://"):
            return ConnectError(f"{target}: no TLS handshake reply before the timeout: is TLS enabled on that port "
                                "(try redis://), and the server reachable and not hung or paused?", kind="timeout")
        return ConnectError(
            f"{target}: no Redis reply before the timeout: is this a Redis server, reachable and not hung or paused?",
            kind="timeout",
        )
    if isinstance(exc, rex.BusyLoadingError) or lowered.startswith("loading"):
        return ConnectError(loading_message(target), kind="loading")
    if isinstance(exc, rex.NoPermissionError) or "noperm" in lowered:
        return ConnectError(f"{target}: this user may not run the commands redisguard needs to connect ({text})",
                            kind="noperm")
    if isinstance(exc, rex.ConnectionError | OSError):
        reason = text.splitlines()[0] if text else type(exc).__name__
        return ConnectError(f"{target}: cannot connect ({reason})", kind="unreachable")
    if isinstance(exc, rex.ResponseError):
        return ConnectError(f"{target}: the server refused the connection handshake ({text})", kind="refused")
    return ConnectError(f"{target}: {type(exc).__name__}: {text}", kind="other")
