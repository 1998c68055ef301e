"""The least-privilege ACL user for diagnosis: read-only commands only, no secrets, no writes."""

from __future__ import annotations

from redisguard.keynames import quote_cli

__all__ = ["DIAGNOSIS_COMMANDS", "acl_setuser_argv", "acl_setuser_line"]

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
    return " ".join(quote_cli(arg) if index == 2 else arg
                    for index, arg in enumerate(acl_setuser_argv(user, with_config=with_config, password=password)))


def acl_setuser_argv(user: str = "redisguard", *, with_config: bool = False,
                     password: str = "<password>") -> list[str]:  # noqa: S107 - a placeholder the user replaces
    """The same command as an argv (for a client, or ``shlex.join`` for a shell)."""
    commands = [*DIAGNOSIS_COMMANDS, *(["config|get"] if with_config else [])]
    return ["ACL", "SETUSER", user, "reset", "on", f">{password}", "~*", "resetchannels", "-@all",
            *(f"+{command}" for command in commands)]
