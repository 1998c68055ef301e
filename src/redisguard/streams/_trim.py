"""Trimming: only what every group has acknowledged (atomic script), or, when asked, past that point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio

from redisguard.streams._safety import TRIM_SCRIPT

__all__ = ["TrimResult", "atrim_safe", "trim_safe"]

# One approximate XTRIM removes at most this many entries (Redis' default LIMIT is 100 x
# stream-node-max-entries); a large backlog is freed over several calls.
DEFAULT_LIMIT = 10_000
MAX_ROUNDS = 10_000


@dataclass(frozen=True)
class TrimResult:
    point: str | None  # None: the stream has no consumer groups (or does not exist): nothing trimmed
    trimmed: int
    rounds: int


@dataclass
class _Rounds:
    """The loop shared by the sync and asyncio trims: call the script until a call frees nothing."""

    exact: bool
    limit: int
    xdel: bool = False  # an exact trim on Redis < 7.0: whole nodes, then XDEL by id (see TRIM_SCRIPT)
    total: int = 0
    rounds: int = 0
    point: str | None = None

    @property
    def args(self) -> list[str | int]:
        return ["=" if self.exact else "~", 0 if self.exact else self.limit, "xdel" if self.xdel else "xtrim"]

    def more(self, reply: list[object]) -> bool:
        point, trimmed = reply[0], int(str(reply[1]))
        self.point = point.decode() if isinstance(point, bytes) else (point if isinstance(point, str) else None)
        self.rounds += 1
        self.total += trimmed
        again = not self.exact or self.xdel
        return trimmed > 0 and self.point is not None and again and self.rounds < MAX_ROUNDS

    def result(self) -> TrimResult:
        return TrimResult(self.point, self.total, self.rounds)


def _old_redis(info: dict[str, Any]) -> bool:
    """Redis before 7.0 (its exact MINID trim is wrong for ids far apart in one node). Valkey says 7.2.4.
    ``info``: INFO server of one node, or (a cluster client) one per node."""
    if "redis_version" not in info:
        return any(_old_redis(node) for node in info.values() if isinstance(node, dict))
    major = str(info["redis_version"]).split(".")[0]
    return major.isdigit() and int(major) < 7


def trim_safe(client: redis.Redis | redis.RedisCluster, key: str | bytes, *, exact: bool = False,
              limit: int = DEFAULT_LIMIT) -> TrimResult:
    """Trim ``key`` up to its safe point, looping until a call removes nothing."""
    script = client.register_script(TRIM_SCRIPT)
    rounds = _Rounds(exact, limit, xdel=exact and _old_redis(client.info("server")))
    while rounds.more(list(script(keys=[key], args=rounds.args))):
        pass
    return rounds.result()


async def atrim_safe(client: redis.asyncio.Redis | redis.asyncio.RedisCluster, key: str | bytes, *,
                     exact: bool = False, limit: int = DEFAULT_LIMIT) -> TrimResult:
    """:func:`trim_safe` for asyncio clients."""
    script = client.register_script(TRIM_SCRIPT)
    rounds = _Rounds(exact, limit, xdel=exact and _old_redis(await client.info("server")))
    while rounds.more(list(await script(keys=[key], args=rounds.args))):
        pass
    return rounds.result()
