"""Which server a recommendation or an action is for: Redis or Valkey and its version, also as a user types
it (``--for-version valkey-8.1``); read from INFO through :mod:`redisguard.snapshot.server` (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from redisguard.snapshot.server import ServerVersion as SnapshotServerVersion

__all__ = ["ServerVersion"]

_TEXT = re.compile(r"^\s*(valkey|redis)?[\s\-_:]*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class ServerVersion:
    flavor: Literal["redis", "valkey"]
    major: int
    minor: int = 0
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> ServerVersion:
        """``7.0``, ``8.2.3``, ``valkey-8.1``, ``valkey 8``. Raises ValueError with a one-line reason."""
        match = _TEXT.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a version like 7.0, 8.2 or valkey-8.1")
        flavor: Literal["redis", "valkey"] = "valkey" if (match.group(1) or "").lower() == "valkey" else "redis"
        return cls(flavor, int(match.group(2)), int(match.group(3) or 0), int(match.group(4) or 0))

    @classmethod
    def from_info(cls, server: dict[str, str]) -> ServerVersion:
        """From INFO server, named by :class:`redisguard.snapshot.server.ServerVersion` (Valkey reports
        ``redis_version:7.2.4``); a version that is not visible is taken as Redis 7.0."""
        seen = SnapshotServerVersion.from_info(server)
        numbers = (*seen.version, 0, 0, 0)
        if seen.flavour == "valkey" and seen.version:
            return cls("valkey", numbers[0], numbers[1], numbers[2])
        if seen.flavour == "redis" and seen.version:
            return cls("redis", numbers[0], numbers[1], numbers[2])
        return cls("redis", 7, 0)

    @property
    def redis_compatible(self) -> tuple[int, int]:
        """The Redis feature level: Valkey 7.2+ and 8.x follow Redis 7.2's configuration."""
        if self.flavor == "valkey":
            return (7, 2) if self.major >= 7 else (self.major, self.minor)
        return (self.major, self.minor)

    @property
    def text(self) -> str:
        prefix = "Valkey " if self.flavor == "valkey" else "Redis "
        return f"{prefix}{self.major}.{self.minor}" + (f".{self.patch}" if self.patch else "")

    @property
    def defrag_crash_range(self) -> bool:
        """Redis 7.4 to 8.2 had active-defrag crash bugs (STYLE.md): never turn it on there."""
        return self.flavor == "redis" and (7, 4) <= (self.major, self.minor) <= (8, 2)
