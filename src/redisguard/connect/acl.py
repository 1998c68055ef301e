"""The least-privilege ACL user for diagnosis: read-only commands only, no secrets, no writes."""

from __future__ import annotations

from redisguard.keynames import quote_cli

__all__ = ["DIAGNOSIS_COMMANDS", "EXPORTER_COMMANDS", "FIX_COMMANDS", "PROFILES", "TRIM_COMMANDS", "acl_setuser_argv",
           "acl_setuser_line", "fix_acl_setuser_line"]

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

PROFILES: dict[str, tuple[str, ...]] = {"diagnosis": DIAGNOSIS_COMMANDS, "trim": TRIM_COMMANDS,
                                        "exporter": EXPORTER_COMMANDS}


def acl_setuser_line(user: str = "redisguard", *, with_config: bool = False,
                     password: str = "<password>",  # noqa: S107 - a placeholder the user replaces
                     profile: str = "diagnosis", keys: str = "~*") -> str:
    """``ACL SETUSER`` for a diagnosis user (reads key metadata, never values' content beyond sizes), or
    for another ``profile`` of :data:`PROFILES` (``trim``: the writes trim needs, on ``keys`` only).

    For a redis-cli prompt: the user name is one argument in redis-cli's quoting."""
    argv = acl_setuser_argv(user, with_config=with_config, password=password, profile=profile, keys=keys)
    return " ".join(quote_cli(arg) if index == 2 else arg for index, arg in enumerate(argv))


def acl_setuser_argv(user: str = "redisguard", *, with_config: bool = False,
                     password: str = "<password>",  # noqa: S107 - a placeholder the user replaces
                     profile: str = "diagnosis", keys: str = "~*") -> list[str]:
    """The same command as an argv (for a client, or ``shlex.join`` for a shell)."""
    commands = [*PROFILES[profile], *(["config|get"] if with_config else [])]
    return ["ACL", "SETUSER", user, "reset", "on", f">{password}", keys, "resetchannels", "-@all",
            *(f"+{command}" for command in commands)]


# `redisguard fix --apply` (--for fix): the diagnosis commands and CONFIG GET (a fix reads the values it changes
# and records them for undo), plus exactly the writes its actions send. Still no KEYS, FLUSH*, DEBUG, SHUTDOWN,
# CONFIG RESETSTAT or MONITOR; scripts run only through EVALSHA of redisguard's own (SCRIPT LOAD first).
FIX_COMMANDS: tuple[str, ...] = (
    "config|get", "config|set", "config|rewrite", "client|kill", "memory|purge", "script|load", "evalsha", "exists",
    "xrange", "xrevrange", "xtrim", "xclaim", "xgroup|delconsumer", "expire", "unlink", "del", "hscan", "sscan",
    "zscan", "hdel", "srem", "zrem", "ltrim",
)
PROFILES["fix"] = (*DIAGNOSIS_COMMANDS, *FIX_COMMANDS)


def fix_acl_setuser_line(user: str = "redisguard-fix", *, password: str = "<password>") -> str:  # noqa: S107 - a placeholder the user replaces
    """``ACL SETUSER`` for the user ``redisguard fix --apply`` runs as."""
    return acl_setuser_line(user, password=password, profile="fix")
