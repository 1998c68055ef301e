"""Which of the newer stream commands a server runs correctly, by exact version (pure: no I/O).

Redis 8.2 added ``XACKDEL``, ``XDELEX`` and the ``KEEPREF``/``DELREF``/``ACKED`` trim modes, but:
``XTRIM``/``XADD`` with ``ACKED`` or ``DELREF`` deleted nothing until 8.2.7, 8.4.4 and 8.6.0 (redis#14623,
#14656); ``XACKDEL`` with several ids crashed the server before 8.2.3 (CVE-2025-62507). Valkey has
``XACKDEL``/``XDELEX`` only from 9.2 and no ``ACKED`` mode at all; it reports ``redis_version:7.2.4`` for
compatibility, so it is recognised by ``server_name``/``valkey_version``. Everywhere else the portable
path (the safe-point script and ``XTRIM MINID``) runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Server", "acked_trim_works", "server_of", "xackdel_safe"]

Version = tuple[int, int, int]


@dataclass(frozen=True)
class Server:
    name: Literal["redis", "valkey"]
    version: Version

    @property
    def text(self) -> str:
        return f"{'Valkey' if self.name == 'valkey' else 'Redis'} {'.'.join(map(str, self.version))}"


def _version(text: object) -> Version:
    parts = [int(part) if part.isdigit() else 0 for part in str(text).split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def server_of(info: dict[str, Any]) -> Server:
    """From ``INFO server`` (one node's)."""
    if str(info.get("server_name", "")).lower() == "valkey" or "valkey_version" in info:
        return Server("valkey", _version(info.get("valkey_version", info.get("redis_version", "0"))))
    return Server("redis", _version(info.get("redis_version", "0")))


def acked_trim_works(server: Server) -> bool:
    """``XTRIM ... ACKED`` deletes what it should: Redis 8.2.7+ in the 8.2 line, 8.4.4+, 8.6.0+; never Valkey."""
    if server.name != "redis":
        return False
    version = server.version
    return ((8, 2, 7) <= version < (8, 3, 0)) or ((8, 4, 4) <= version < (8, 5, 0)) or version >= (8, 6, 0)


def xackdel_safe(server: Server) -> bool:
    """``XACKDEL`` with several ids does not crash the server: Redis 8.2.3+, Valkey 9.2+."""
    if server.name == "valkey":
        return server.version >= (9, 2, 0)
    return server.version >= (8, 2, 3)
