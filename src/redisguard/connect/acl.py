"""The least-privilege ACL user for diagnosis: read-only commands only, no secrets, no writes."""

from __future__ import annotations

__all__ = ["DIAGNOSIS_COMMANDS", "FIX_COMMANDS", "acl_setuser_line", "fix_acl_setuser_line"]

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


def acl_setuser_line(user: str = "redisguard", *, with_config: bool = False, password: str = "<password>") -> str:  # noqa: S107 - a placeholder the user replaces
    """``ACL SETUSER`` for a diagnosis user: reads key metadata, never values' content beyond sizes."""
    commands = [*DIAGNOSIS_COMMANDS, *(["config|get"] if with_config else [])]
    grants = " ".join(f"+{command}" for command in commands)
    return f"ACL SETUSER {user} reset on >{password} ~* resetchannels -@all {grants}"


# `redisguard fix` (--for fix): the diagnosis commands and CONFIG GET (a fix reads the values it changes and
# records them for undo), plus exactly the writes its actions send. Still no KEYS, FLUSH*, DEBUG, SHUTDOWN,
# CONFIG RESETSTAT or MONITOR; scripts run only through EVALSHA of redisguard's own (SCRIPT LOAD first).
FIX_COMMANDS: tuple[str, ...] = (
    "config|get", "config|set", "config|rewrite", "client|kill", "memory|purge", "script|load", "evalsha", "exists",
    "xrange", "xrevrange", "xtrim", "xclaim", "xgroup|delconsumer", "expire", "unlink", "del", "hscan", "sscan",
    "zscan", "hdel", "srem", "zrem", "ltrim",
)


def fix_acl_setuser_line(user: str = "redisguard-fix", *, password: str = "<password>") -> str:  # noqa: S107 - a placeholder the user replaces
    """``ACL SETUSER`` for the user ``redisguard fix --apply`` runs as."""
    grants = " ".join(f"+{command}" for command in (*DIAGNOSIS_COMMANDS, *FIX_COMMANDS))
    return f"ACL SETUSER {user} reset on >{password} ~* resetchannels -@all {grants}"
