"""Undo from an audit log: restore every configuration change to its previous value; name what cannot be
undone (trims, deletions, expirations, disconnections, claims)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redisguard.units import parse_bytes

__all__ = ["UndoPlan", "changed_since", "undo_plan"]

_IRREVERSIBLE = {"trim": "stream entries trimmed", "delete": "keys deleted", "expire": "TTLs set on keys",
                 "kill": "clients disconnected", "claim": "pending entries moved to another consumer",
                 "delconsumers": "consumers removed", "purge": "MEMORY PURGE (nothing to undo)"}


@dataclass
class UndoPlan:
    run_id: str | None
    restore: dict[str, str] = field(default_factory=dict)  # parameter -> the value before the run
    rewrote: bool = False  # the run persisted its changes with CONFIG REWRITE
    irreversible: list[str] = field(default_factory=list)
    # Redis Cluster: per node address, the values to restore, whether it was rewritten, its run_id then
    by_node: dict[str, dict[str, str]] = field(default_factory=dict)
    rewrote_nodes: list[str] = field(default_factory=list)
    run_ids: dict[str, str] = field(default_factory=dict)
    # What the run set last, per parameter (standalone) and per node: undo restores a value only while the
    # server still holds this one, so a change someone made since is never overwritten.
    applied: dict[str, str] = field(default_factory=dict)
    applied_by_node: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def is_cluster(self) -> bool:
        return bool(self.by_node or self.run_ids)


def undo_plan(records: list[dict[str, Any]]) -> UndoPlan:
    """What undoing the run in ``records`` means. Only commands that succeeded count."""
    befores = {r["seq"]: r for r in records if r.get("phase") == "before"}
    start = next((r for r in records if r.get("event") == "start"), None)
    plan = UndoPlan(run_id=start.get("run_id") if start else None,
                    run_ids=dict(start.get("run_ids") or {}) if start else {})
    kinds: dict[str, str] = {}
    for record in records:
        if record.get("event") == "action-start":
            kinds[str(record.get("action"))] = str(record.get("kind"))
    done_kinds: list[str] = []
    for record in records:
        if record.get("phase") != "after" or "error" in record:
            continue
        before = befores.get(record.get("of"))
        if before is None:
            continue
        command = [str(part).upper() for part in before.get("command", [])[:2]]
        node = before.get("node")
        if command == ["CONFIG", "SET"] and before.get("previous"):
            restore = plan.restore if node is None else plan.by_node.setdefault(str(node), {})
            for name, value in before["previous"].items():
                if value is not None:
                    restore.setdefault(name, value)  # the earliest previous value is the original
            applied = plan.applied if node is None else plan.applied_by_node.setdefault(str(node), {})
            args = [str(part) for part in before.get("command", [])[2:]]
            for name, value in zip(args[0::2], args[1::2], strict=False):
                applied[name.lower()] = value  # the latest value set is what the server should hold now
        elif command == ["CONFIG", "REWRITE"]:
            if node is None:
                plan.rewrote = True
            elif str(node) not in plan.rewrote_nodes:
                plan.rewrote_nodes.append(str(node))
        kind = kinds.get(str(before.get("action")), "")
        if kind in _IRREVERSIBLE and kind not in done_kinds:
            done_kinds.append(kind)
    plan.irreversible = [_IRREVERSIBLE[kind] for kind in done_kinds]
    return plan


def changed_since(applied: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """The parameters whose value now (``current``, from CONFIG GET) is not the one the run set: someone
    changed them since, and undo must leave them alone. Redis gives numbers back in its own form (``1gb``
    is read back as ``1073741824``), so numbers compare as numbers and words without case."""
    def same(now: str, then: str) -> bool:
        if now.strip().lower() == then.strip().lower():
            return True
        try:
            return parse_bytes(now) == parse_bytes(then)
        except ValueError:
            return False

    return {name: current[name] for name, value in applied.items()
            if name in current and not same(current[name], value)}
