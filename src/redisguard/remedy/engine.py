"""Apply a plan: action by action, each confirmed (unless --yes), stopping at the first error or Ctrl-C,
every command audited; reports what was done and what was not."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import redis
import redis.exceptions as rex

from redisguard.errors import one_line
from redisguard.remedy.auditlog import AuditLog
from redisguard.remedy.executor import ActionFailed, ActionSkipped, Executor
from redisguard.remedy.gather import role_of
from redisguard.remedy.guard import GuardError, check_command
from redisguard.remedy.ops_keys import apply_delete, apply_expire
from redisguard.remedy.ops_server import apply_config, apply_kill, apply_purge, apply_rewrite
from redisguard.remedy.ops_streams import apply_claim, apply_delconsumers, apply_trim
from redisguard.remedy.plan import Action, Plan
from redisguard.remedy.stop import Interrupted, StopFlag
from redisguard.remedy.version import ServerVersion

__all__ = ["ActionResult", "Outcome", "apply_plan", "check_plan_commands"]


@dataclass
class ActionResult:
    id: str
    status: str  # done | failed | skipped | interrupted | not run
    detail: str = ""
    used_before: int | None = None
    used_after: int | None = None
    node: str | None = None  # Redis Cluster: the node it ran on

    @property
    def freed(self) -> int | None:
        if self.used_before is None or self.used_after is None:
            return None
        return self.used_before - self.used_after


@dataclass
class Outcome:
    results: list[ActionResult] = field(default_factory=list)
    interrupted: bool = False
    failed: bool = False
    lost_connection: bool = False  # the failure was the server going away (killed, stopped, network)


def check_plan_commands(plan: Plan) -> None:
    """Every literal command a plan lists must pass the guard (an edited plan file cannot sneak one in)."""
    for action in plan.actions:
        for argv in action.commands:
            if argv and argv[0].upper() == "EVAL":
                continue  # the display form of redisguard's own scripts; what runs is EVALSHA of a known sha
            check_command(argv)


def _run(ex: Executor, action: Action, nx: bool) -> str:
    if action.kind == "config":
        return apply_config(ex, action)
    if action.kind == "rewrite":
        return apply_rewrite(ex, action)
    if action.kind == "purge":
        return apply_purge(ex, action)
    if action.kind == "kill":
        return apply_kill(ex, action)
    if action.kind == "trim":
        return apply_trim(ex, action)
    if action.kind == "delconsumers":
        return apply_delconsumers(ex, action)
    if action.kind == "claim":
        return apply_claim(ex, action)
    if action.kind == "expire":
        return apply_expire(ex, action, nx)
    if action.kind == "delete":
        return apply_delete(ex, action)
    raise ActionFailed(f"unknown action kind {action.kind!r}")


# Configuration is per node and every node of a cluster carries the same: these run on replicas too
# (CONFIG SET and CONFIG REWRITE change no data). Every other kind writes data: primaries only.
_ANY_ROLE = frozenset({"config", "rewrite"})


class _Executors:
    """The executor of each action: the one client of a standalone server, or (Redis Cluster) the client of
    the node the action names, whose role is checked before every action (a failover since: not written)."""

    def __init__(self, client: redis.Redis, node_clients: Mapping[str, redis.Redis] | None, audit: AuditLog,
                 stop: StopFlag, max_impact_ms: float | None, nx: bool) -> None:
        self.default = Executor(client, audit, stop, max_impact_ms)
        self.node_clients = node_clients or {}
        self.audit, self.stop, self.max_impact_ms, self.nx = audit, stop, max_impact_ms, nx
        self.by_node: dict[str, tuple[Executor, bool]] = {}

    def for_action(self, action: Action) -> tuple[Executor, bool]:
        self.audit.node = action.node
        if action.node is None:
            return self.default, self.nx
        client = self.node_clients.get(action.node)
        if client is None:
            raise ActionFailed(f"no connection to node {action.node} (not a primary of the cluster now)")
        if action.kind not in _ANY_ROLE and role_of(client)[0] != "master":
            raise ActionFailed(f"node {action.node} is a replica now (a failover since the plan was made): "
                               "fix never writes to a replica; make a new plan")
        if action.node not in self.by_node:
            version = ServerVersion.from_info({str(k): str(v) for k, v in client.info("server").items()})
            self.by_node[action.node] = (Executor(client, self.audit, self.stop, self.max_impact_ms),
                                         version.redis_compatible >= (7, 0))
        return self.by_node[action.node]


def apply_plan(plan: Plan, client: redis.Redis, audit: AuditLog, *, stop: StopFlag, max_impact_ms: float | None,
               confirm: Callable[[Action], bool], nx: bool,
               report: Callable[[Action, ActionResult], None] | None = None,
               node_clients: Mapping[str, redis.Redis] | None = None) -> Outcome:
    """Run the plan's actions in order. A Redis Cluster plan names each action's node: ``node_clients``
    holds a client per primary address, and each action runs on its own node, with the same throttle."""
    executors = _Executors(client, node_clients, audit, stop, max_impact_ms, nx)
    outcome = Outcome()
    audit.event("start", workload=plan.workload, actions=[a.id for a in plan.actions], run_id=plan.seen.run_id,
                **({"run_ids": {addr: seen.run_id for addr, seen in plan.nodes.items()}} if plan.nodes else {}))
    for index, action in enumerate(plan.actions):
        audit.node = None
        if outcome.failed or outcome.interrupted:
            outcome.results.append(ActionResult(action.id, "not run", node=action.node))
            continue
        if stop.stopped:
            outcome.interrupted = True
            outcome.results.append(ActionResult(action.id, "not run", node=action.node))
            continue
        if not confirm(action):
            audit.event("skipped", action=action.id, reason="not confirmed")
            outcome.results.append(ActionResult(action.id, "skipped", "not confirmed", node=action.node))
            continue
        result = ActionResult(action.id, "done", node=action.node)
        try:
            ex, node_nx = executors.for_action(action)
            result.used_before = ex.used_memory()
            audit.event("action-start", action=action.id, number=index + 1, kind=action.kind,
                        used_memory=result.used_before)
            result.detail = _run(ex, action, node_nx)
        except ActionSkipped as exc:
            result.status, result.detail = "skipped", str(exc)
        except Interrupted:
            result.status, result.detail = "interrupted", "stopped by Ctrl-C after the current batch"
            outcome.interrupted = True
        except (ActionFailed, GuardError) as exc:
            result.status, result.detail = "failed", str(exc)
            outcome.failed = True
        except rex.RedisError as exc:
            result.status, result.detail = "failed", _failure(exc)
            outcome.failed = True
            outcome.lost_connection = isinstance(exc, rex.ConnectionError | rex.TimeoutError)
        except Exception as exc:  # a bug must still stop the run with the audit log complete
            result.status, result.detail = "failed", f"internal error: {type(exc).__name__}: {exc}"
            outcome.failed = True
        try:
            result.used_after = ex.used_memory() if result.used_before is not None else None
        except rex.RedisError:
            result.used_after = None
        audit.event("action-end", action=action.id, status=result.status, detail=result.detail,
                    used_memory=result.used_after, freed=result.freed)
        outcome.results.append(result)
        if report is not None:
            report(action, result)
    audit.node = None
    audit.event("end", interrupted=outcome.interrupted, failed=outcome.failed,
                done=[r.id for r in outcome.results if r.status == "done"],
                not_done=[r.id for r in outcome.results if r.status != "done"])
    return outcome


def _failure(exc: rex.RedisError) -> str:
    """An action's failure in the user's words: the server gone or silent is said so, not as redis-py's class."""
    text = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, rex.TimeoutError):
        return f"no reply before the timeout ({text})"
    if isinstance(exc, rex.ConnectionError):
        return f"lost the connection ({text})"
    return f"{type(exc).__name__}: {text}"
