"""The commands a fix may send: an allow-list, and a deny-list that no plan (even an edited plan file) passes."""

from __future__ import annotations

import hashlib

from redisguard.errors import UsageError

__all__ = ["FORBIDDEN", "KNOWN_SCRIPTS", "GuardError", "check_command", "register_script", "script_sha"]

FORBIDDEN = ("KEYS", "FLUSHDB", "FLUSHALL", "DEBUG", "SHUTDOWN", "CONFIG RESETSTAT", "MONITOR", "SWAPDB",
             "MIGRATE", "SCRIPT FLUSH", "FUNCTION FLUSH", "CLIENT KILL TYPE", "REPLICAOF", "SLAVEOF")

_ALLOWED = {
    "CONFIG": {"GET", "SET", "REWRITE"}, "CLIENT": {"LIST", "KILL", "ID"}, "MEMORY": {"PURGE", "USAGE"},
    "XINFO": {"GROUPS", "CONSUMERS", "STREAM"}, "SCRIPT": {"LOAD"},
    "EVALSHA": None, "SCAN": None, "HSCAN": None, "SSCAN": None, "ZSCAN": None, "EXPIRE": None, "PTTL": None,
    "TYPE": None, "UNLINK": None, "DEL": None, "HDEL": None, "SREM": None, "ZREM": None, "LTRIM": None,
    "LLEN": None, "XTRIM": None, "XPENDING": None, "XCLAIM": None, "XLEN": None, "INFO": None, "PING": None,
    "ROLE": None,
}

KNOWN_SCRIPTS: dict[str, str] = {}


class GuardError(UsageError):
    """A command redisguard fix never sends. One line."""


def script_sha(source: str) -> str:
    return hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


def register_script(source: str) -> str:
    sha = script_sha(source)
    KNOWN_SCRIPTS[sha] = source
    return sha


def check_command(argv: list[str]) -> None:
    """Raise :class:`GuardError` unless ``argv`` is a command fix may send."""
    if not argv:
        raise GuardError("empty command")
    name = argv[0].upper()
    sub = argv[1].upper() if len(argv) > 1 else ""
    upper = [arg.upper() for arg in argv]
    for banned in FORBIDDEN:
        words = banned.split()
        if upper[0] != words[0] or (len(words) > 1 and sub != words[1]):
            continue
        if len(words) <= 2 or words[2] in upper[2::2]:  # CLIENT KILL TYPE: a TYPE filter anywhere
            raise GuardError(f"refused: redisguard fix never sends {banned}")
    if name not in _ALLOWED:
        raise GuardError(f"refused: {name} is not a command redisguard fix sends")
    subs = _ALLOWED[name]
    if subs and sub not in subs:
        raise GuardError(f"refused: {name} {sub} is not a command redisguard fix sends")
    if name == "EVALSHA" and (len(argv) < 2 or argv[1] not in KNOWN_SCRIPTS):
        raise GuardError("refused: EVALSHA of a script that is not one of redisguard's")
    if name == "SCRIPT" and (len(argv) < 3 or script_sha(argv[2]) not in KNOWN_SCRIPTS):
        raise GuardError("refused: SCRIPT LOAD of a script that is not one of redisguard's")
