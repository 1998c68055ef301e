"""Redis commands written as RESP bytes by hand, for the hot paths that skip redis-py's per-argument packing
(the keyspace scanner, the streams Producer and Consumer, fix's bulk batches)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["bulk", "command", "keyed"]


def bulk(arg: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(arg), arg)


def command(*args: bytes) -> bytes:
    """One command in RESP form."""
    return b"*%d\r\n" % len(args) + b"".join([bulk(arg) for arg in args])


def keyed(*head: bytes, after: int = 0) -> Callable[[bytes], bytes]:
    """A builder of ``HEAD... key`` in RESP, for ``after`` more arguments the caller appends as :func:`bulk`
    strings. The head is framed once, so a key costs one format: 0.4 against 1.9 us for :func:`command`
    (``MEMORY USAGE key``, measured on this project's machine)."""
    prefix = b"*%d\r\n" % (len(head) + 1 + after) + b"".join([bulk(arg) for arg in head])
    template = prefix.replace(b"%", b"%%") + b"$%d\r\n%b\r\n"
    return lambda key: template % (len(key), key)
