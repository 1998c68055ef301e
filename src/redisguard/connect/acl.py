"""The least-privilege ACL user for diagnosis: read-only commands only, no secrets, no writes."""

from __future__ import annotations

__all__ = ["DIAGNOSIS_COMMANDS", "PROFILES", "TRIM_COMMANDS", "acl_setuser_line"]

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


# `redisguard trim` (plan, then apply): what it reads of the stream and the writes that free memory. The
# safe-point script runs EXISTS, XINFO GROUPS, XPENDING, XTRIM (and XRANGE + XDEL for an exact trim on
# Redis < 7) inside EVALSHA/EVAL: ACLs check the commands a script calls too. COMMAND is what a cluster
# client reads at start-up. No other write, no CONFIG.
TRIM_COMMANDS: tuple[str, ...] = (
    "ping", "hello", "auth", "client|setname", "info", "role", "time", "command", "command|info",
    "cluster|nodes", "cluster|slots", "cluster|info", "cluster|myid", "readonly",
    "exists", "type", "pttl", "memory|usage", "xlen", "xinfo|stream", "xinfo|groups", "xinfo|consumers",
    "xpending", "xrange", "xrevrange", "evalsha", "eval", "script|load", "xtrim", "xdel",
)

PROFILES: dict[str, tuple[str, ...]] = {"diagnosis": DIAGNOSIS_COMMANDS, "trim": TRIM_COMMANDS}


def acl_setuser_line(user: str = "redisguard", *, with_config: bool = False,
                     password: str = "<password>",  # noqa: S107 - a placeholder the user replaces
                     profile: str = "diagnosis", keys: str = "~*") -> str:
    """``ACL SETUSER`` for a diagnosis user (reads key metadata, never values' content beyond sizes), or
    for another ``profile`` of :data:`PROFILES` (``trim``: the writes trim needs, on ``keys`` only)."""
    commands = [*PROFILES[profile], *(["config|get"] if with_config else [])]
    grants = " ".join(f"+{command}" for command in commands)
    return f"ACL SETUSER {user} reset on >{password} {keys} resetchannels -@all {grants}"
