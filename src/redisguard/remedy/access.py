"""What a least-privilege user could not read for ``fix`` and ``config --check``, and the ACL that lets it (pure).

A ``+@read`` user may run SCAN, TYPE, PTTL, MEMORY USAGE and the stream reads, but not INFO, CONFIG GET,
CLIENT LIST or ROLE (they are ``@admin``/``@dangerous``). Each refusal is recorded by the ACL name of the
command it needs, with what could not be read or planned without it, so that the line printed names the
exact permissions and the ``ACL SETUSER`` rules that would let the run see everything.
"""

from __future__ import annotations

from redisguard.connect import ConnectionOptions
from redisguard.connect.acl import PROFILES
from redisguard.keynames import quote_cli

__all__ = ["CANNOT_PLAN", "HIDDEN_RULES", "grant_line", "missing_line", "rules_of", "user_of"]

# For the plan's notes: what fix cannot plan without each command.
CANNOT_PLAN: dict[str, str] = {
    "info": "maxmemory and maxmemory-policy, lazyfree, timeout, buffer limits, defrag and persistence "
            "(the server's version, memory and allocator come from INFO), and CONFIG REWRITE (its config file)",
    "config|get": "lazyfree, timeout, client-output-buffer-limit, activedefrag, save and appendonly "
                  "(their current values)",
    "client|list": "disconnecting idle or buffer-leaking clients (the client list)",
    "client|id": "disconnecting clients (its own connection must be told apart)",
    "role": "whether the server is a replica (fix --apply refuses to write without knowing)",
}


# The findings whose remedy needs the command: without it, "no automatic remedy" would be untrue.
HIDDEN_RULES: dict[str, tuple[str, ...]] = {
    "info": ("memory.", "eviction.", "persistence.", "fragmentation."),
    "config|get": ("persistence.",),
    "client|list": ("clients.",),
    "client|id": ("clients.",),
}


def user_of(conn: ConnectionOptions) -> str | None:
    """The ACL user the run connects as (``--user``, or the URL's), None for ``default``."""
    return conn.acl_user


def rules_of(commands: list[str]) -> str:
    """``+info +config|get``: the ACL rules for the commands, in the order given."""
    return " ".join(f"+{name}" for name in commands)


def grant_line(user: str | None, commands: list[str]) -> str:
    """``ACL SETUSER <user> +info +config|get``: adds exactly these commands to the user (redis-cli quoting)."""
    return f"ACL SETUSER {quote_cli(user or 'default')} {rules_of(commands)}"


def missing_line(user: str | None, commands: list[str], profile: str) -> str:
    """One line: the commands the user may not run, the rules that grant them, and the profile's whole user.

    Every command named must be in ``profile`` (of :data:`redisguard.connect.acl.PROFILES`), so that the
    pointer to ``redisguard acl`` always leads to a user that has them."""
    unknown = [name for name in commands if name not in PROFILES[profile] and name != "config|get"]
    if unknown:
        raise ValueError(f"{unknown} are not in the {profile} profile")
    upper = ", ".join(name.replace("|", " ").upper() for name in commands)
    pointer = "redisguard acl --for fix" if profile == "fix" else "redisguard acl --with-config"
    return (f"user {quote_cli(user or 'default')} may not run {upper}: `{grant_line(user, commands)}` "
            f"grants {'it' if len(commands) == 1 else 'them'} (a whole least-privilege user: `{pointer}`)")
