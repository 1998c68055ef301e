"""Raw RESP over a redis-py connection: commands built as bytes, replies parsed by ``hiredis`` directly.

redis-py does the connecting (TLS, AUTH, SELECT, client name, timeouts); the scanner then writes whole
pipelines of pre-built commands on the connection's socket and feeds the bytes it reads to its own
``hiredis.Reader``. This skips redis-py's per-command Python work (argument packing, response
callbacks), which is most of the client's cost at 100k+ keys/s.
"""

from __future__ import annotations

import socket
from typing import Any

import hiredis
import redis
import redis.exceptions as rex

from redisguard._wire.errors import as_redis_error
from redisguard._wire.resp import command

__all__ = ["RawPipe", "as_redis_error"]

_READ_SIZE = 1 << 18
_MORE = object()  # what the reader returns when it needs more bytes


class RawPipe:
    """A connection taken out of a client's pool for raw pipelining; given back (or dropped) on close.

    If anything interrupts a pipeline half-read, the connection is disconnected rather than returned to
    the pool with unread replies on it.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._conn: Any = self._pool.get_connection()
        self._conn.connect()
        sock = self._conn._sock
        if sock is None:  # pragma: no cover - connect() either sets it or raises
            raise rex.ConnectionError("no socket after connect")
        self._sock: socket.socket = sock
        self._reader: Any = hiredis.Reader(notEnoughData=_MORE)
        self._buffer: bytearray = bytearray(_READ_SIZE)
        self._view: memoryview = memoryview(self._buffer)
        self.outstanding: int = 0  # replies written for but not yet read
        self.clean: bool = True
        self.discard: bool = False  # set when the connection's state changed (SELECT): never hand it back

    def send(self, payload: bytes, replies: int) -> None:
        self.clean = False
        try:
            self._sock.sendall(payload)
        except OSError as exc:
            raise rex.ConnectionError(f"write failed: {exc}") from exc
        self.outstanding += replies

    def _fill(self) -> None:
        try:
            count = self._sock.recv_into(self._buffer, _READ_SIZE)
        except TimeoutError as exc:
            raise rex.TimeoutError("timed out reading a reply") from exc
        except OSError as exc:
            raise rex.ConnectionError(f"read failed: {exc}") from exc
        if count == 0:
            raise rex.ConnectionError("the server closed the connection")
        self._reader.feed(self._view, 0, count)

    def read(self) -> Any:
        """The next reply: ``bytes``, ``int``, ``None``, ``list`` or a ``hiredis.ReplyError`` instance."""
        reply = self._reader.gets()
        while reply is _MORE:
            self._fill()
            reply = self._reader.gets()
        self.outstanding -= 1
        if self.outstanding == 0:
            self.clean = True
        return reply

    def read_many(self, count: int) -> list[Any]:
        """The next ``count`` replies.

        Parsed in a list comprehension of ``gets()`` calls: the reader returns a sentinel (not ``False``,
        which an integer reply of 0 would equal) once its buffer runs dry, and only then is the socket read.
        """
        gets = self._reader.gets
        more = _MORE
        out: list[Any] = []
        while True:
            first = gets()
            while first is more:
                self._fill()
                first = gets()
            out.append(first)
            left = count - len(out)
            if left:
                part = [gets() for _ in range(left)]
                if part[-1] is more:
                    del part[part.index(more):]
                out += part
            if len(out) == count:
                break
        self.outstanding -= count
        if self.outstanding == 0:
            self.clean = True
        return out

    def call(self, *args: bytes) -> Any:
        """One command, one reply (a ``hiredis.ReplyError`` is raised as ``redis.ResponseError``)."""
        self.send(command(*args), 1)
        reply = self.read()
        if isinstance(reply, hiredis.ReplyError):
            raise as_redis_error(reply)
        return reply

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not self.clean or self.outstanding or self.discard:
            conn.disconnect()
        self._pool.release(conn)

    def __enter__(self) -> RawPipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
