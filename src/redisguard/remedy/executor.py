"""Every command a fix sends goes through here: guard check, audit record before, the command, its result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis
import redis.exceptions as rex

from redisguard.errors import RedisguardError
from redisguard.keynames import to_text
from redisguard.remedy.auditlog import AuditLog
from redisguard.remedy.bulk import BatchRunner, as_error
from redisguard.remedy.guard import check_command
from redisguard.remedy.stop import StopFlag

__all__ = ["ActionFailed", "ActionSkipped", "Executor"]


class ActionFailed(RedisguardError):
    """A command of the action was refused or failed: the run stops here. One line."""


class ActionSkipped(RedisguardError):
    """The server cannot do this action (not an error of the run): reported, and the run goes on."""


def _text(arg: str | bytes | int) -> str:
    return to_text(arg) if isinstance(arg, bytes) else str(arg)


class Executor:
    def __init__(self, client: redis.Redis, audit: AuditLog, stop: StopFlag, max_impact_ms: float | None) -> None:
        self.client = client
        # Replies as the server sent them (no redis-py parsing, which guesses from the command name and
        # misreads e.g. XPENDING with a range): the ops read them, the audit log records them.
        self.raw = redis.Redis(connection_pool=client.connection_pool)
        self.raw.response_callbacks = type(self.raw.response_callbacks)({})
        self.audit = audit
        self.stop = stop
        self.max_impact_ms = max_impact_ms

    def call(self, action: str, *argv: str | bytes | int, **fields: Any) -> Any:
        """One command, audited; a Redis error reply ends the action (never retried)."""
        shown = [_text(arg) for arg in argv]
        check_command(shown)
        seq = self.audit.before(action, shown, **fields)
        try:
            reply = self.raw.execute_command(*argv)
        except rex.ResponseError as exc:
            self.audit.after(seq, action, error=str(exc))
            raise ActionFailed(f"{shown[0]} {shown[1] if len(shown) > 1 else ''}: {exc}".strip()) from None
        self.audit.after(seq, action, result=reply)
        return reply

    def runner(self) -> BatchRunner:
        return BatchRunner(self.client, max_impact_ms=self.max_impact_ms, stop=self.stop)

    def batch(self, action: str, runner: BatchRunner, name: str, keys: list[bytes], commands: list[bytes],
              shown_args: list[str] | None = None, tolerate: Callable[[str], bool] | None = None,
              units: Mapping[str, int] | None = None) -> list[Any]:
        """A batch of per-key commands (one write), audited as one record listing every key. ``units``: as
        :meth:`BatchRunner.run` takes them."""
        check_command([name, *(shown_args or [])])
        seq = self.audit.before(action, [name, *(shown_args or [])], keys=[to_text(k) for k in keys],
                                commands=len(commands))
        replies = runner.run(commands, units)
        errors = [error for error in (as_error(reply) for reply in replies) if error is not None]
        if errors and not (tolerate is not None and all(tolerate(e) for e in errors)):
            self.audit.after(seq, action, errors=len(errors), error=errors[0],
                             result=[r if not as_error(r) else None for r in replies])
            raise ActionFailed(f"{name}: {errors[0]} ({len(errors)} of {len(commands)} commands in the batch)")
        self.audit.after(seq, action, result=[r if not as_error(r) else as_error(r) for r in replies])
        return replies

    def used_memory(self) -> int:
        return int(self.client.info("memory").get("used_memory", 0))
