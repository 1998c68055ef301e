"""From findings and facts to a plan (pure): which actions, in which order, and what the plan saw."""

from __future__ import annotations

import time

from redisguard.remedy.access import CANNOT_PLAN, HIDDEN_RULES
from redisguard.remedy.build_config import config_actions, rewrite_action
from redisguard.remedy.build_data import client_actions, key_actions, stream_actions
from redisguard.remedy.facts import Facts, FixOptions
from redisguard.remedy.infer import infer_workload
from redisguard.remedy.plan import Action, Plan, Seen
from redisguard.rules import RULES, Finding, Thresholds
from redisguard.snapshot import NodeSnapshot

__all__ = ["action_rank", "expire_patterns_for", "findings_for", "make_plan", "seen_of"]

# Memory is freed first (in an OOM incident the rest may need room), configuration next, then TTLs.
_ORDER = {"trim": 0, "claim": 1, "delconsumers": 2, "delete": 3, "kill": 4, "purge": 5, "config": 6,
          "expire": 7, "rewrite": 9}


# Findings whose remedy is a note elsewhere in the plan (the pinned safe point, the dead consumers).
_EXPLAINED = {"streams.group-never-read", "streams.pending", "streams.dead-consumers"}
_HINTS = {"keys.big-keys": ": deleting data is never inferred; name it with --delete-pattern KEY_OR_PATTERN",
          "streams.backlog": ": nothing is safe to trim yet (see the notes); --drop-unprocessed --maxlen N "
                             "trims past the safe point after showing what each group loses"}


def action_rank(action: Action) -> int:
    """Where an action goes in a plan (memory freed first, then configuration, TTLs, CONFIG REWRITE last)."""
    return _ORDER.get(action.kind, 8)


def findings_for(node: NodeSnapshot, thresholds: Thresholds) -> list[Finding]:
    findings = [finding for check in RULES for finding in check(node, thresholds)]
    return sorted(findings, key=lambda finding: finding.sort_key)


def expire_patterns_for(findings: list[Finding], options: FixOptions) -> list[str]:
    patterns = list(options.expire_patterns)
    for finding in findings:
        pattern = finding.evidence.get("pattern")
        if finding.id == "keys.cache-without-ttl" and isinstance(pattern, str) and pattern not in patterns:
            patterns.append(pattern)
    return patterns


def seen_of(facts: Facts, touched: list[str]) -> Seen:
    node = facts.node
    return Seen(run_id=facts.run_id, role=node.role, version=facts.version.text, used_memory=node.used_memory,
                maxmemory=node.maxmemory, config={name: facts.config.get(name, "") for name in touched},
                streams={s.key: sorted(g.name for g in s.groups) for s in node.streams})


def make_plan(facts: Facts, findings: list[Finding], options: FixOptions, server: str) -> Plan:
    notes: list[str] = []
    if options.workload is not None:
        workload, reason = options.workload, "given with --workload"
    else:
        workload, reason = infer_workload(facts.node)
    hidden = facts.not_visible
    for name in hidden:
        notes.append(f"cannot plan {CANNOT_PLAN.get(name, 'what depends on it')}: needs "
                     f"{name.replace('|', ' ').upper()}, which this user may not run")
    actions: list[Action] = [
        *stream_actions(facts, options, notes),
        *key_actions(facts, findings, options),
        # Without the client list, or without INFO (memory, version, config file), those actions would be
        # planned on values the plan did not see: left out, and said so above.
        *(client_actions(facts, findings, options) if not {"client|list", "client|id"} & set(hidden) else []),
        *(config_actions(facts, findings, workload, notes) if "info" not in hidden else []),
    ]
    actions.sort(key=action_rank)
    rewrite = rewrite_action(facts, actions, notes) if "info" not in hidden else None
    if rewrite is not None:
        actions.append(rewrite)
    touched = sorted({name for a in actions if a.kind == "config" for name in a.params["set"]})
    remedied = {a.rule for a in actions if a.rule}
    if any(a.kind == "trim" for a in actions):
        remedied |= {"streams.untrimmed", "eviction.noeviction-backlog", "memory.used-high", "memory.used-critical"}
    unplanned = tuple(prefix for name in hidden for prefix in HIDDEN_RULES.get(name, ()))
    for finding in findings:
        if finding.id in remedied or finding.severity == 0 or finding.id in _EXPLAINED:
            continue
        if unplanned and finding.id.startswith(unplanned):  # not planned for want of a permission: said above
            continue
        notes.append(f"finding {finding.id} ({finding.title}) has no automatic remedy in this plan"
                     + _HINTS.get(finding.id, ": see `redisguard doctor` for its fixes"))
    return Plan(server=server, created_at=time.time(), workload=workload, workload_reason=reason,
                seen=seen_of(facts, touched), actions=actions, notes=notes)
