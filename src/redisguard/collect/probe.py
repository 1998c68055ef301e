"""Run one diagnostic command; a denial, rename or missing command becomes a "not visible" record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import redis.exceptions as rex

from redisguard._wire.errors import DENIED, reason_for_text
from redisguard.snapshot import NotVisible

__all__ = ["Probe", "reason_for"]

T = TypeVar("T")


def reason_for(exc: rex.RedisError) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, rex.NoPermissionError) or "noperm" in lowered or "no permissions" in lowered:
        return DENIED
    return reason_for_text(text) or text


@dataclass
class Probe:
    """Collects the "not visible" list for one node while commands run through :meth:`run`."""

    node: str
    missing: list[NotVisible] = field(default_factory=list)

    def run(self, what: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except (rex.ConnectionError, rex.TimeoutError, rex.AuthenticationError):
            raise  # the node itself is gone or hung: the caller decides (it is not a per-command gap)
        except rex.RedisError as exc:
            self.note(what, reason_for(exc))
            return None

    def note(self, what: str, reason: str) -> None:
        record = NotVisible(what=what, node=self.node, reason=reason)
        if record not in self.missing:
            self.missing.append(record)
