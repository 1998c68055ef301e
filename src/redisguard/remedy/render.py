"""The plan and the run's outcome as text for a terminal or a pipe (format only, no computation)."""

from __future__ import annotations

import shlex

from redisguard.keynames import bounded, quote_cli, visible
from redisguard.remedy.engine import ActionResult, Outcome
from redisguard.remedy.plan import Action, Plan
from redisguard.units import fmt_bytes

__all__ = ["command_line", "render_action", "render_outcome", "render_plan"]


def command_line(argv: list[str]) -> str:
    """A command as redis-cli reads it (placeholders in <> are shown as they are)."""
    return " ".join(arg if arg.startswith("<") and arg.endswith(">") else quote_cli(arg) for arg in argv)


def render_action(number: int, action: Action) -> list[str]:
    lines = [f"{number}. [{visible(bounded(action.id))}] {visible(action.title)}",
             *([f"   node:   {visible(action.node)}"] if action.node else []),
             f"   what:   {visible(action.what)}"]
    shown = action.commands[:5]
    for argv in shown:
        lines.append(f"   run:    {command_line(argv)}")
    if len(action.commands) > len(shown):
        lines.append(f"           ... and {len(action.commands) - len(shown)} more like it")
    lines += [f"   effect: {visible(action.effect)}",
              f"   how:    {visible(action.estimate)}",
              f"   risk:   {visible(action.risk)}" + ("" if action.undoable else " (cannot be undone)")]
    return lines


def render_plan(plan: Plan, dry_run: bool, left_out: int = 0) -> str:
    """The plan for a person; ``left_out`` actions were removed by ``--only``/``--skip``."""
    total = sum(a.bytes_freed or 0 for a in plan.actions)
    lines = [f"Plan for {visible(plan.server)}: workload {plan.workload} ({visible(plan.workload_reason)})."]
    if not plan.actions and left_out:
        lines.append(f"Nothing to do: --only/--skip left out all {left_out} action(s) of the plan.")
    elif not plan.actions:
        lines.append("Nothing to do: no finding here has an automatic remedy.")
    else:
        lines.append(f"{len(plan.actions)} action(s), expected to free about {fmt_bytes(total)} now.")
    if plan.is_cluster:
        primaries = sum(1 for seen in plan.nodes.values() if seen.role == "primary")
        replicas = f" and {len(plan.nodes) - primaries} replicas (configuration only)" \
            if len(plan.nodes) > primaries else ""
        lines.append(f"Redis Cluster: {primaries} primaries{replicas}, each action runs on the node it names.")
        for address in plan.nodes:
            mine = [a for a in plan.actions if a.node == address]
            freed = sum(a.bytes_freed or 0 for a in mine)
            lines.append(f"  {visible(address)}: {len(mine)} action(s), about {fmt_bytes(freed)} freed now")
    lines.append("")
    for number, action in enumerate(plan.actions, 1):
        lines += [*render_action(number, action), ""]
    for note in plan.notes:
        lines.append(f"note: {visible(note)}")
    if dry_run and plan.actions:
        lines.append("Dry run: nothing was written. Apply with --apply (each action is confirmed; --yes to skip "
                     "asking), or save it with --plan-out plan.json and apply that later with --apply --plan.")
    return "\n".join(lines).rstrip() + "\n"


def _result_line(result: ActionResult) -> str:
    freed = "" if result.freed is None else f" (used memory {fmt_bytes(result.used_before)} -> " \
                                            f"{fmt_bytes(result.used_after)})"
    where = f" on {visible(result.node)}" if result.node else ""
    return f"  {result.status:<11} {visible(bounded(result.id))}{where}: {visible(result.detail)}{freed}".rstrip()


def render_outcome(outcome: Outcome, audit_path: str) -> str:
    done = [r for r in outcome.results if r.status == "done"]
    lines = [f"Done {len(done)} of {len(outcome.results)} action(s)."]
    lines += [_result_line(result) for result in outcome.results]
    if outcome.interrupted:
        lines.append("Interrupted (Ctrl-C): stopped after the current batch; the actions marked 'not run' were not.")
    if outcome.failed:
        lines.append("Stopped at the first error: the actions after it were not run.")
    undo = shlex.join(["redisguard", "fix", "--undo", audit_path])
    lines.append(f"Audit log: {visible(audit_path)} (undo the configuration changes: {undo} URL)")
    return "\n".join(lines) + "\n"
