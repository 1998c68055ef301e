"""Which server a node is (Redis or Valkey) and its own version, from INFO server; version gates. Pure.

Valkey reports ``redis_version:7.2.4`` (the Redis it forked from) for compatibility, and its own version in
``valkey_version`` with ``server_name:valkey``. Reading ``redis_version`` alone calls a Valkey 8.1 "Redis
7.2.4": wrong name, wrong version, wrong feature gates. Everything that names a server or gates a feature
by version goes through :class:`ServerVersion`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["VALKEY_FORKED_FROM", "Flavour", "ServerVersion"]

Flavour = Literal["redis", "valkey", "unknown"]

# Valkey 7.2 forked from Redis 7.2.4: a Redis feature up to that version is in every Valkey.
VALKEY_FORKED_FROM: tuple[int, ...] = (7, 2, 4)
# The version text is server-supplied: kept only when it looks like one (it is printed in reports).
_VERSION_TEXT = re.compile(r"^\d{1,5}(?:\.\d{1,5}){0,3}(?:-[0-9A-Za-z.]{1,16})?$")
_NAMES = {"redis": "Redis", "valkey": "Valkey", "unknown": "server"}


def _parse(text: str) -> tuple[int, ...]:
    head = text.split("-", 1)[0]
    return tuple(int(part) for part in head.split(".") if part.isdigit())


@dataclass(frozen=True)
class ServerVersion:
    """A server's flavour and its own version (``valkey_version`` for Valkey), and the Redis version it
    says it is compatible with (``redis_version``)."""

    flavour: Flavour
    text: str  # "8.1.8", or "unknown"
    redis_compatible_text: str  # INFO redis_version as reported ("7.2.4" on Valkey), or "unknown"

    @classmethod
    def from_info(cls, server: Mapping[str, str]) -> ServerVersion:
        """From INFO's ``server`` section (an empty mapping when INFO was not visible)."""
        redis_version = _clean(server.get("redis_version"))
        if str(server.get("server_name", "")).strip().lower() == "valkey" or "valkey_version" in server:
            return cls("valkey", _clean(server.get("valkey_version")), redis_version)
        if redis_version == "unknown":
            return cls("unknown", "unknown", "unknown")
        return cls("redis", redis_version, redis_version)

    @property
    def version(self) -> tuple[int, ...]:
        """The server's own version as numbers (``()`` when unknown)."""
        return _parse(self.text) if self.text != "unknown" else ()

    @property
    def redis_compatible(self) -> tuple[int, ...]:
        return _parse(self.redis_compatible_text) if self.redis_compatible_text != "unknown" else ()

    @property
    def title(self) -> str:
        """``Redis 8.2.3``, ``Valkey 8.1.8``, or ``server version not visible``."""
        if self.flavour == "unknown" or self.text == "unknown":
            return f"{_NAMES[self.flavour]} version not visible"
        return f"{_NAMES[self.flavour]} {self.text}"

    def at_least(self, *, redis: tuple[int, ...] | None = None, valkey: tuple[int, ...] | None = None) -> bool:
        """Whether this server has a feature that came in Redis ``redis`` and/or Valkey ``valkey``.

        With ``valkey`` left out, Valkey has the feature when Redis had it by the fork (7.2.4), and not when
        it came later (Valkey then has it only if it added it itself: say so with ``valkey=``). An unknown
        version has nothing: callers then take the portable path.
        """
        if self.flavour == "redis" and redis is not None:
            return bool(self.version) and self.version >= redis
        if self.flavour == "valkey":
            if valkey is not None:
                return bool(self.version) and self.version >= valkey
            return redis is not None and redis <= VALKEY_FORKED_FROM
        return False


def _clean(value: object) -> str:
    text = str(value).strip() if value is not None else ""
    return text if _VERSION_TEXT.match(text) else "unknown"
