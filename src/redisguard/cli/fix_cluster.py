"""``redisguard fix`` on a Redis Cluster, the command-line side: the plan over every primary (or a saved one
checked against the cluster now), and ``--undo`` of a cluster run, node by node."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from redisguard.cli.options import fail
from redisguard.cli.output import echo
from redisguard.connect import ConnectionOptions, Topology, open_client
from redisguard.keynames import visible
from redisguard.remedy.auditlog import AuditLog, default_audit_path
from redisguard.remedy.cluster import plan_cluster, saved_plan_changes
from redisguard.remedy.engine import check_plan_commands
from redisguard.remedy.executor import ActionFailed, Executor
from redisguard.remedy.facts import FixOptions
from redisguard.remedy.gather import role_of
from redisguard.remedy.guard import GuardError
from redisguard.remedy.live import ConfigNotVisible, read_config
from redisguard.remedy.plan import Plan, PlanFormatError
from redisguard.remedy.stop import StopFlag
from redisguard.remedy.undo import UndoPlan, changed_since

__all__ = ["cluster_plan", "read_plan", "undo_cluster", "undo_tail"]


def undo_tail(failed: str | None, irreversible: list[str], audit: Path) -> None:
    """The end of an undo's text report, standalone or cluster: what stopped it, what no undo can restore."""
    if failed:
        echo(f"stopped: {failed}")
    for what in irreversible:
        echo(f"cannot be undone: {what}")
    echo(f"audit log of the undo: {audit}")




def read_plan(path: Path) -> Plan:
    """A saved plan whose every literal command passes the guard (standalone or cluster); one line if not."""
    try:
        plan = Plan.load(path)
        check_plan_commands(plan)
    except (PlanFormatError, GuardError) as exc:
        fail(f"--plan {path}: {exc}", 2)
        raise
    return plan


def cluster_plan(client: redis.Redis, conn: ConnectionOptions, topology: Topology, options: FixOptions,
                 saved: tuple[Path, Plan] | None, max_impact: float, key_sample: int) -> Plan:
    """A Redis Cluster: one plan over every primary (whichever node the URL names, a replica included)."""
    if role_of(client)[0] != "master":
        echo(f"note: {conn.display} is a replica; in a cluster fix plans for every primary, so it goes on with "
              "them and never writes to a replica", err=True)
    if saved is None:
        return plan_cluster(topology, options, key_sample, max_impact, conn.display)
    plan_in, plan = saved
    if not plan.is_cluster:
        fail(f"--plan {plan_in} was made for a standalone server and this is a Redis Cluster node: make a new plan",
             2)
    reasons = saved_plan_changes(plan, topology, client)
    if reasons:
        fail(f"--plan {plan_in} refused: the cluster changed since the plan was made: " + "; ".join(reasons)
             + " (make a new plan)", 2)
    return plan


def current_values(client: redis.Redis, names: list[str], path: Path) -> dict[str, str]:
    """CONFIG GET of the parameters a run set, to check nobody changed them since; refused in one line."""
    try:
        return read_config(client, names) if names else {}
    except ConfigNotVisible as exc:
        fail(f"--undo {path}: cannot check the current values before restoring them ({exc}): nothing was changed", 2)
        raise


def undo_cluster(conn: ConnectionOptions, path: Path, undo: UndoPlan, audit_path: Path | None, as_json: bool) -> int:
    """Restore each node's configuration on that node (CONFIG SET is per node), checking it is the same
    server (run_id) first; a node that became a replica since still gets its own values back."""
    changed = sorted(set(undo.by_node) | set(undo.rewrote_nodes))
    for address in changed:
        if address not in undo.run_ids:
            fail(f"--undo {path}: node {address} is not in the run's start record: nothing was changed", 2)
    clients: dict[str, redis.Redis] = {}
    try:
        for address in changed:
            host, _, port = address.rpartition(":")
            clients[address] = open_client(conn.for_node(host.strip("[]"), int(port)))
            now = str(clients[address].info("server").get("run_id", ""))
            if now != undo.run_ids[address]:
                fail(f"--undo {path}: node {address} restarted (or is another server) since that run: its "
                     "configuration now comes from its config file; nothing was changed on any node", 2)
        log = AuditLog(audit_path or default_audit_path(), conn.display)
        restored: list[tuple[str, str]] = []
        failed = None
        kept: dict[str, dict[str, str]] = {}  # per node: the settings changed since that run, left alone
        for address in changed:
            applied = undo.applied_by_node.get(address, {})
            if found := changed_since(applied, current_values(clients[address], list(applied), path)):
                kept[address] = found
        log.event("start", undo_of=str(path), run_ids={a: undo.run_ids[a] for a in changed}, actions=["undo"],
                  changed_since=kept)
        try:
            for address in changed:
                log.node = address
                ex = Executor(clients[address], log, StopFlag(), None)
                values = undo.by_node.get(address, {})
                for name, value in reversed(list(values.items())):
                    if name.lower() in kept.get(address, {}):
                        continue
                    ex.call("undo", "CONFIG", "SET", name, value)
                    restored.append((address, name))
                if address in undo.rewrote_nodes and values:
                    ex.call("undo", "CONFIG", "REWRITE")
        except ActionFailed as exc:
            failed = f"{log.node}: {exc}"
        finally:
            log.node = None
            log.event("end", failed=failed is not None, done=[f"{a} {n}" for a, n in restored])
            log.close()
    finally:
        for client in clients.values():
            client.close()
    if as_json:
        echo(json.dumps({"restored": {a: {n: undo.by_node[a][n] for aa, n in restored if aa == a}
                                       for a in dict.fromkeys(a for a, _ in restored)},
                          "failed": failed, "changed_since": kept, "cannot_undo": undo.irreversible,
                          "audit": str(log.path)}, indent=2))
    else:
        for address, name in restored:
            echo(f"restored {name} to {undo.by_node[address][name]!r} on {address}")
        for address, names in kept.items():
            for name, now in names.items():
                echo(f"left {name} at {visible(now)!r} on {address}: changed since that run, which set it to "
                     f"{visible(undo.applied_by_node[address][name])!r}; not restored")
        if not restored and not failed and not kept:
            echo("no configuration change to undo in that run")
        undo_tail(failed, undo.irreversible, log.path)
    return 2 if failed or kept else 0
