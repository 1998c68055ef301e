"""Trimmer: on a schedule, trims each stream up to what every consumer group has acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from redisguard.streams._batchwrite import RETRYABLE, transient
from redisguard.streams._clients import AsyncClient, resolve_client
from redisguard.streams._trim import atrim_safe

__all__ = ["Trimmer"]


class Trimmer:
    """``await Trimmer(url, ["firehose"], interval=1.0).run()`` until ``stop()``.

    Uses one atomic script per call (safe point and XTRIM MINID together), looping while a call frees
    something, so a backlog larger than one XTRIM's LIMIT is freed too. A stream with no groups is
    never trimmed.
    """

    def __init__(self, target: str | AsyncClient, streams: Sequence[str], *, interval: float = 1.0,
                 exact: bool = False) -> None:
        self._target = target
        self.streams = list(streams)
        self.interval = interval
        self.exact = exact
        self.trimmed = 0
        self.runs = 0
        self.connection_errors = 0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def trim_once(self, client: AsyncClient) -> int:
        freed = 0
        for stream in self.streams:
            freed += (await atrim_safe(client, stream, exact=self.exact)).trimmed
        self.trimmed += freed
        self.runs += 1
        return freed

    async def run(self) -> None:
        """Trim every ``interval`` seconds until :meth:`stop`. A restart or failover of Redis does not end
        it: that round is skipped (counted in ``connection_errors``) and the next one tries again."""
        client, owned = await resolve_client(self._target)
        try:
            while not self._stopping.is_set():
                try:
                    await self.trim_once(client)
                except RETRYABLE as fault:
                    if not transient(fault):
                        raise
                    self.connection_errors += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
        finally:
            if owned:
                await client.aclose()
