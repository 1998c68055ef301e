"""Run one diagnostic command; a denial, rename or missing command becomes a "not visible" record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import redis.exceptions as rex

from redisguard._wire.errors import DENIED, UNAVAILABLE, named_command, refusal_kind
from redisguard.snapshot import NotVisible

__all__ = ["GRANTS", "Gaps", "grant_for", "reason_for"]

T = TypeVar("T")


# The ACL rule that grants each thing a collector may find denied (what -> rule), for the "not visible"
# line. Subcommand rules (+config|get) rather than whole commands: least privilege.
GRANTS: dict[str, str] = {
    "INFO": "+info",
    "CONFIG GET": "+config|get (note: it can read requirepass; see `redisguard acl --with-config`)",
    "MEMORY STATS": "+memory|stats",
    "MEMORY DOCTOR": "+memory|doctor",
    "MEMORY USAGE": "+memory|usage",
    "CLIENT LIST": "+client|list",
    "CLIENT ID": "+client|id",
    "SLOWLOG GET": "+slowlog|get",
    "LATENCY LATEST": "+latency|latest",
    "TIME": "+time",
    "PTTL": "+pttl",
    "XPENDING": "+xpending",
    "XINFO STREAM": "+xinfo|stream +xinfo|groups",
    "XINFO CONSUMERS": "+xinfo|consumers",
    "SCAN TYPE stream": "+scan",
}


def grant_for(exc: rex.RedisError, what: str | None = None) -> str | None:
    """The ACL rule that would allow what ``exc`` refused: a key pattern for a key denial, else the rule
    for ``what``, else the command the server named (Redis 6.2 names only the command, not the subcommand)."""
    text = str(exc)
    if "access one of the keys" in text or "access a key" in text:
        return "~<key pattern> covering these keys (e.g. %R~* for read-only access to all)"
    if what is not None and what in GRANTS:
        return GRANTS[what]
    named = named_command(text)
    return f"+{named}" if named else None


def reason_for(exc: rex.RedisError, what: str | None = None) -> str:
    """One line: denied by ACL (with the rule that grants it), renamed/unavailable, or the server's error."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    kind = refusal_kind(exc)
    if kind == "denied":
        grant = grant_for(exc, what)
        return DENIED + (f"; grant: {grant}" if grant else "")
    if kind == "unavailable":
        return UNAVAILABLE
    return text[:200]


@dataclass
class Gaps:
    """Collects the "not visible" list for one node while commands run through :meth:`run`."""

    node: str
    missing: list[NotVisible] = field(default_factory=list)

    def run(self, what: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except (rex.ConnectionError, rex.TimeoutError, rex.AuthenticationError):
            raise  # the node itself is gone or hung: the caller decides (it is not a per-command gap)
        except rex.RedisError as exc:
            self.note(what, reason_for(exc, what))
            return None

    def note(self, what: str, reason: str) -> None:
        record = NotVisible(what=what, node=self.node, reason=reason)
        if record not in self.missing:
            self.missing.append(record)
