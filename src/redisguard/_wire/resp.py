"""Redis commands written as RESP bytes by hand, for the hot paths that skip redis-py's per-argument packing
(the keyspace scanner, the streams Producer and Consumer)."""

from __future__ import annotations

__all__ = ["bulk", "command"]


def bulk(arg: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(arg), arg)


def command(*args: bytes) -> bytes:
    """One command in RESP form."""
    return b"*%d\r\n" % len(args) + b"".join([bulk(arg) for arg in args])
