"""Applying stream actions: safe trim (atomic script), past-the-safe-point trim, consumer removal, claims."""

from __future__ import annotations

from typing import Any

from redisguard.keynames import to_bytes, to_text
from redisguard.remedy.build_data import TRIM_LIMIT
from redisguard.remedy.executor import ActionFailed, Executor
from redisguard.remedy.plan import Action
from redisguard.remedy.scripts import DELCONSUMER_SCRIPT, DELCONSUMER_SHA, TRIM_SCRIPT, TRIM_SHA

__all__ = ["apply_claim", "apply_delconsumers", "apply_trim"]

_MAX_ROUNDS = 100_000


def _load(ex: Executor, action: Action, sha: str, source: str) -> None:
    loaded = ex.call(action.id, "SCRIPT", "LOAD", source)
    if to_text(loaded) != sha:
        raise ActionFailed("SCRIPT LOAD returned an unexpected sha")


def apply_trim(ex: Executor, action: Action) -> str:
    key = to_bytes(action.params["key"])
    total = 0
    if action.params.get("drop"):
        cut = str(action.params["cut_point"])
        for _ in range(_MAX_ROUNDS):
            ex.stop.check()
            removed = int(ex.call(action.id, "XTRIM", key, "MINID", "~", cut, "LIMIT", str(TRIM_LIMIT)))
            total += removed
            if removed == 0:
                break
        return f"{total} entries removed before {cut}"
    _load(ex, action, TRIM_SHA, TRIM_SCRIPT)
    point: Any = None
    for _ in range(_MAX_ROUNDS):
        ex.stop.check()
        reply = ex.call(action.id, "EVALSHA", TRIM_SHA, "1", key, "~", str(TRIM_LIMIT), "xtrim")
        point, trimmed = reply[0], int(reply[1])
        total += trimmed
        if trimmed == 0 or not point:
            break
    if not point:
        return "the stream has no consumer groups now: nothing trimmed"
    return f"{total} entries trimmed before the safe point {to_text(point)}"


def apply_delconsumers(ex: Executor, action: Action) -> str:
    _load(ex, action, DELCONSUMER_SHA, DELCONSUMER_SCRIPT)
    key, group = to_bytes(action.params["key"]), to_bytes(action.params["group"])
    removed, kept = 0, []
    for name in action.params["consumers"]:
        ex.stop.check()
        result = int(ex.call(action.id, "EVALSHA", DELCONSUMER_SHA, "1", key, group, to_bytes(name)))
        if result == 1:
            removed += 1
        elif result == -1:
            kept.append(name)
    note = f"; kept {len(kept)} that hold pending entries now" if kept else ""
    return f"{removed} consumer(s) removed{note}"


def apply_claim(ex: Executor, action: Action) -> str:
    key, group = to_bytes(action.params["key"]), to_bytes(action.params["group"])
    to, min_idle = to_bytes(action.params["to"]), str(action.params["min_idle_ms"])
    moved = 0
    for name in action.params["from"]:
        for _ in range(_MAX_ROUNDS):
            ex.stop.check()
            rows = ex.call(action.id, "XPENDING", key, group, "IDLE", min_idle, "-", "+", "100", to_bytes(name))
            ids = [row[0] for row in rows]
            if not ids:
                break
            claimed = ex.call(action.id, "XCLAIM", key, group, to, min_idle, *ids, "JUSTID")
            moved += len(claimed)
            if not claimed:
                break
    return f"{moved} pending entries moved to {to_text(to)}"
