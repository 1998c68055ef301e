"""Which of the newer stream commands a server runs correctly, by exact version (pure: no I/O).

Redis 8.2 added ``XACKDEL``, ``XDELEX`` and the ``KEEPREF``/``DELREF``/``ACKED`` trim modes, but:
``XTRIM``/``XADD`` with ``ACKED`` or ``DELREF`` deleted nothing until 8.2.7, 8.4.4 and 8.6.0 (redis#14623,
#14656); ``XACKDEL`` with several ids crashed the server before 8.2.3 (CVE-2025-62507). Valkey has
``XACKDEL``/``XDELEX`` only from 9.2 and no ``ACKED`` mode at all; it reports ``redis_version:7.2.4`` for
compatibility, so it is recognised by ``server_name``/``valkey_version``. Everywhere else the portable
path (the safe-point script and ``XTRIM MINID``) runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redisguard.snapshot.server import ServerVersion

__all__ = ["ServerVersion", "acked_trim_works", "server_of", "xackdel_safe"]


def server_of(info: Mapping[str, Any]) -> ServerVersion:
    """From ``INFO server`` (one node's): the one reading of flavour and version (snapshot.server)."""
    return ServerVersion.from_info({str(name): str(value) for name, value in info.items()})


def acked_trim_works(server: ServerVersion) -> bool:
    """``XTRIM ... ACKED`` deletes what it should: Redis 8.2.7+ in the 8.2 line, 8.4.4+, 8.6.0+; never Valkey."""
    if server.flavour != "redis":
        return False
    version = server.version
    return ((8, 2, 7) <= version < (8, 3, 0)) or ((8, 4, 4) <= version < (8, 5, 0)) or version >= (8, 6, 0)


def xackdel_safe(server: ServerVersion) -> bool:
    """``XACKDEL`` with several ids does not crash the server: Redis 8.2.3+, Valkey 9.2+."""
    return server.at_least(redis=(8, 2, 3), valkey=(9, 2, 0))
