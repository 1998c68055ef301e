"""The plan: numbered actions with their exact commands, expected effect, risk; JSON in and out (pure).

A saved plan records what it saw (:class:`Seen`) so that ``fix --apply --plan plan.json`` can refuse when
the server changed in a way that matters. Key names and other server-supplied names are kept in the
lossless text form of :mod:`redisguard.keynames` (JSON carries lone surrogates as ``\\udcXX``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redisguard.errors import UsageError
from redisguard.keynames import bounded, visible

__all__ = ["PLAN_VERSION", "Action", "Plan", "PlanFormatError", "Seen", "changes_that_matter"]

PLAN_VERSION = 1


class PlanFormatError(UsageError):
    """A plan file that cannot be read or was not written by this version: one line."""


@dataclass
class Action:
    id: str  # unique in the plan, what --only/--skip match: "maxmemory", "trim:events", "expire:cache:*"
    kind: str  # config | trim | delconsumers | claim | expire | delete | kill | purge | rewrite
    title: str
    what: str  # what it does, in a sentence
    commands: list[list[str]]  # the exact commands (argv), or for bulk work one representative batch
    effect: str  # the expected effect, said plainly
    bytes_freed: int | None  # estimated; None: frees nothing directly (or cannot be estimated)
    estimate: str  # how bytes_freed was estimated
    risk: str
    undoable: bool
    rule: str | None = None  # the finding it answers, if any
    params: dict[str, Any] = field(default_factory=dict)  # what the engine needs (JSON-able)
    node: str | None = None  # Redis Cluster: the node (address) it runs on; None: the server connected to

    def matches(self, selector: str) -> bool:
        """--only/--skip: an action id, its kind, a finding id, or a prefix of any (``trim``, ``streams``);
        on a Redis Cluster also the node's address (every action on it) or ``ID@ADDRESS`` (one action there)."""
        if self.node is not None:
            if selector == self.node:
                return True
            name, at, node = selector.rpartition("@")
            if at and node == self.node:
                return self.matches(name)
        names = [self.id, self.kind, *([self.rule] if self.rule else [])]
        return any(name == selector or name.startswith(selector + ":") or name.startswith(selector + ".")
                   for name in names)


@dataclass
class Seen:
    """What the plan was made against; compared again before a saved plan is applied."""

    run_id: str
    role: str
    version: str
    used_memory: int
    maxmemory: int
    config: dict[str, str]  # the parameters the plan's config actions touch, as they were
    streams: dict[str, list[str]]  # stream key -> its consumer group names


@dataclass
class Plan:
    server: str  # the redacted address
    created_at: float
    workload: str
    workload_reason: str
    seen: Seen
    actions: list[Action]
    notes: list[str] = field(default_factory=list)
    version: int = PLAN_VERSION
    # Redis Cluster only (empty for a standalone server): what each primary looked like, by address, and
    # the layout (address -> "node-id slot-ranges") a saved plan must still find before it is applied.
    nodes: dict[str, Seen] = field(default_factory=dict)
    layout: dict[str, str] = field(default_factory=dict)

    @property
    def is_cluster(self) -> bool:
        return bool(self.layout or self.nodes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def save(self, path: Path) -> None:
        path.write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if data.get("version") != PLAN_VERSION:
            raise PlanFormatError(f"plan format version {data.get('version')!r}, this redisguard reads "
                                  f"{PLAN_VERSION}")
        try:
            return cls(server=str(data["server"]), created_at=float(data["created_at"]),
                       workload=str(data["workload"]), workload_reason=str(data["workload_reason"]),
                       seen=Seen(**data["seen"]), actions=[Action(**raw) for raw in data["actions"]],
                       notes=list(data.get("notes", [])),
                       nodes={str(k): Seen(**v) for k, v in dict(data.get("nodes", {})).items()},
                       layout={str(k): str(v) for k, v in dict(data.get("layout", {})).items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanFormatError(f"not a redisguard plan ({type(exc).__name__}: {exc})") from None

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlanFormatError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise PlanFormatError(f"{path} is not a redisguard plan (not UTF-8 text)") from None
        except json.JSONDecodeError as exc:
            raise PlanFormatError(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise PlanFormatError(f"{path} is not a redisguard plan (JSON nested too deep)") from None
        if not isinstance(data, dict):
            raise PlanFormatError(f"{path} is not a redisguard plan")
        return cls.from_dict(data)


def changes_that_matter(planned: Seen, now: Seen) -> list[str]:
    """Why a saved plan must not be applied now (empty: it may)."""
    reasons = []
    if planned.run_id != now.run_id:
        reasons.append("the server restarted (or is another server) since the plan was made: run_id "
                       f"{planned.run_id[:12]}… is now {now.run_id[:12]}…")
    if planned.role != now.role:
        reasons.append(f"its role changed from {planned.role} to {now.role}")
    for name, value in planned.config.items():
        if now.config.get(name) != value:
            reasons.append(f"{name} changed from {value!r} to {now.config.get(name)!r} since the plan was made")
    for key, groups in planned.streams.items():
        current = now.streams.get(key)
        name = visible(bounded(key, _NAME_LIMIT))
        if current is None:
            reasons.append(f"stream '{name}' is gone")
        elif sorted(current) != sorted(groups):
            reasons.append(f"stream '{name}' now has groups {_names(sorted(current))} "
                           f"(the plan saw {_names(sorted(groups))})")
    return reasons


_NAME_LIMIT = 80


def _names(names: list[str]) -> str:
    shown = ", ".join(f"'{visible(bounded(name, _NAME_LIMIT))}'" for name in names[:5])
    return f"[{shown}{f', … {len(names) - 5} more' if len(names) > 5 else ''}]"
