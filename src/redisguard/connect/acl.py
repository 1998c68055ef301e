"""The least-privilege ACL user for diagnosis: read-only commands only, no secrets, no writes."""

from __future__ import annotations

__all__ = ["DIAGNOSIS_COMMANDS", "EXPORTER_COMMANDS", "PROFILES", "acl_setuser_line"]

# Everything the collectors and the keyspace scan run. No KEYS, FLUSH*, DEBUG, MONITOR, CONFIG SET, or
# any write. CONFIG GET is separate: ACLs cannot limit it to some parameters, and it can read
# requirepass/masterauth, so it is only granted with --with-config.
DIAGNOSIS_COMMANDS: tuple[str, ...] = (
    "ping", "hello", "auth", "client|id", "client|setname", "client|list", "info", "time", "dbsize",
    "memory|stats", "memory|doctor", "memory|usage", "slowlog|get", "latency|latest",
    "scan", "randomkey", "type", "pttl", "ttl", "object|encoding", "strlen", "llen", "hlen", "scard", "zcard",
    "xlen", "xinfo|stream", "xinfo|groups", "xinfo|consumers", "xpending", "cluster|nodes", "cluster|info",
    "cluster|slots", "cluster|shards", "cluster|myid", "role", "select", "command|docs", "command|info",
    "readonly",
)

# What `redisguard exporter` and `watch` run: INFO, the stream summary, cluster discovery and the background
# keyspace sample. No CONFIG (maxmemory and the policy come from INFO), no CLIENT LIST, SLOWLOG or MEMORY STATS.
EXPORTER_COMMANDS: tuple[str, ...] = (
    "ping", "hello", "auth", "client|setname", "info", "time", "dbsize", "scan", "randomkey", "type", "pttl",
    "object|encoding", "memory|usage", "strlen", "llen", "hlen", "scard", "zcard", "xlen", "xinfo|stream",
    "xinfo|groups", "xinfo|consumers", "xpending", "cluster|nodes", "cluster|info", "cluster|slots",
    "cluster|shards", "cluster|myid", "role", "select", "readonly",
)
PROFILES: dict[str, tuple[str, ...]] = {"doctor": DIAGNOSIS_COMMANDS, "exporter": EXPORTER_COMMANDS}


def acl_setuser_line(user: str = "redisguard", *, with_config: bool = False, password: str = "<password>",  # noqa: S107 - a placeholder the user replaces
                     profile: str = "doctor") -> str:
    """``ACL SETUSER`` for a diagnosis user: reads key metadata, never values' content beyond sizes."""
    commands = [*PROFILES[profile], *(["config|get"] if with_config else [])]
    grants = " ".join(f"+{command}" for command in commands)
    return f"ACL SETUSER {user} reset on >{password} ~* resetchannels -@all {grants}"
