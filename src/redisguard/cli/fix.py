"""``redisguard fix``: a plan for the findings that have a remedy; applied only with --apply, audited, undoable."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import click
import redis
import redis.exceptions as rex

from redisguard._wire.errors import named_command, reason_for_text
from redisguard.cli.config import host_memory
from redisguard.cli.doctor import _thresholds
from redisguard.cli.fix_cluster import cluster_plan, current_values, read_plan, undo_cluster, undo_tail
from redisguard.cli.options import FiniteRange, connection_options, fail, is_terminal, writable_file
from redisguard.cli.output import echo
from redisguard.connect import ConnectionOptions, discover, open_client
from redisguard.errors import from_redis, one_line
from redisguard.keynames import visible
from redisguard.remedy.access import missing_line, user_of
from redisguard.remedy.auditlog import AuditLog, default_audit_path, read_audit
from redisguard.remedy.build_config import settle_persistence
from redisguard.remedy.cluster import open_node_clients
from redisguard.remedy.engine import ActionResult, apply_plan
from redisguard.remedy.facts import DEFAULT_BIG, FixOptions
from redisguard.remedy.gather import collect, gather, role_of
from redisguard.remedy.plan import Action, Plan, changes_that_matter
from redisguard.remedy.planner import expire_patterns_for, findings_for, make_plan
from redisguard.remedy.recheck import seen_now
from redisguard.remedy.recommend import WORKLOADS, Workload
from redisguard.remedy.render import render_action, render_outcome, render_plan
from redisguard.remedy.stop import StopFlag
from redisguard.remedy.undo import changed_since, undo_plan
from redisguard.remedy.version import ServerVersion
from redisguard.units import parse_bytes

__all__ = ["command"]




def _size(text: str, option: str) -> int:
    try:
        value = parse_bytes(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size like 10mb", param_hint=option) from None
    if value <= 0:
        raise click.BadParameter("must be positive", param_hint=option)
    return value


def _select(plan: Plan, only: tuple[str, ...], skip: tuple[str, ...], *, applying: bool) -> int:
    """Keep the --only actions, drop the --skip ones; how many were left out. A selector that matches no
    action may be a typo, or a remedy this server does not need (the plan's notes say why): said on stderr,
    with the plan's action ids. Where that leaves ``--apply`` nothing to do, it is refused (exit 2) before
    anything is written: ``--only lazyfre`` must not end as a successful run."""
    ids = ", ".join(a.id for a in plan.actions) or "none"
    unmatched = [f"{option} {visible(selector)!r}" for option, selectors in (("--only", only), ("--skip", skip))
                 for selector in selectors if not any(action.matches(selector) for action in plan.actions)]
    before = len(plan.actions)
    if only:
        plan.actions = [a for a in plan.actions if any(a.matches(s) for s in only)]
    if skip:
        plan.actions = [a for a in plan.actions if not any(a.matches(s) for s in skip)]
    if only or skip:
        settle_persistence(plan)
    for said in unmatched:
        if applying and not plan.actions:
            fail(f"{said} matches no action of this plan (its actions: {visible(ids)}): nothing applied", 2)
        echo(f"redisguard: {said} matches no action of this plan (its actions: {visible(ids)})", err=True)
    return before - len(plan.actions)


def _refuse_replica(client: redis.Redis, conn: ConnectionOptions, *, writing: bool = True) -> list[str]:
    """Refuse a replica. Where the user may run neither ROLE nor INFO: refused too when ``writing``,
    else (a dry run writes nothing) the role is unknown and ``["role"]`` is returned for the notes."""
    try:
        role, primary = role_of(client)
    except rex.NoPermissionError:
        if not writing:
            return ["role"]
        client.close()
        fail(f"{conn.display}: fix --apply writes only to a primary and cannot tell what this server is: "
             + missing_line(user_of(conn), ["role", "info"], "fix"), 3)
        return []
    if role != "master":
        client.close()
        fail(f"{conn.display} is a replica (of {primary}): fix only writes to a primary; run it against "
             f"redis://{primary}", 3)
    return []


def _confirm(assume_yes: bool) -> Callable[[Action], bool]:
    def ask(action: Action) -> bool:
        if assume_yes:
            return True
        echo("\n".join(render_action(0, action)).replace("0. ", "", 1), err=True)
        return click.confirm("Apply this action?", default=False, err=True)
    return ask


@click.command("fix")
@connection_options
@click.option("--apply", "do_apply", is_flag=True, help="Carry the plan out (default: dry run, nothing written).")
@click.option("--yes", "assume_yes", is_flag=True, help="With --apply: do not ask before each action.")
@click.option("--only", multiple=True, metavar="ACTION_OR_RULE",
              help="Only these actions (id, kind, or finding id; on a cluster also a node ADDRESS or ID@ADDRESS).")
@click.option("--skip", multiple=True, metavar="ACTION_OR_RULE", help="Leave these actions out.")
@click.option("--plan-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the plan (JSON) to review and apply later with --apply --plan.")
@click.option("--plan", "plan_in", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Apply this saved plan (refused if the server changed in a way that matters).")
@click.option("--workload", type=click.Choice(WORKLOADS), default=None, help="What the data is (default: inferred).")
@click.option("--memory", "memory_text", default=None, metavar="SIZE",
              help="The host's (or container's) memory for Redis (default: INFO total_system_memory).")
@click.option("--audit", "audit_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Audit log (JSON lines; default ./redisguard-audit-<time>.jsonl).")
@click.option("--undo", "undo_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Restore every configuration change recorded in this audit log.")
@click.option("--max-impact", type=FiniteRange(min=0.05), default=1.0, show_default=True, metavar="MS",
              help="Latency budget for bulk work: other clients wait at most about this much more.")
@click.option("--big", "big_text", default=str(DEFAULT_BIG), show_default=True, metavar="SIZE",
              help="Aggregates over this size are never freed in one blocking call.")
@click.option("--delete-pattern", multiple=True, metavar="PATTERN",
              help="Delete the keys matching this glob pattern (UNLINK, throttled). Never inferred.")
@click.option("--expire-pattern", multiple=True, metavar="PATTERN",
              help="Give keys matching this pattern that have no TTL one (also inferred from doctor's finding).")
@click.option("--ttl", type=click.IntRange(min=1), default=86_400, show_default=True, help="Seconds, for TTLs set.")
@click.option("--jitter", type=FiniteRange(min=0.0, max=10.0), default=0.1, show_default=True,
              help="TTLs are spread over [ttl, ttl * (1 + jitter)].")
@click.option("--drop-unprocessed", is_flag=True,
              help="With --maxlen: trim streams past the safe point (shows per group what is LOST first).")
@click.option("--maxlen", type=click.IntRange(min=0), default=None, help="With --drop-unprocessed: keep N newest.")
@click.option("--claim-to", default=None, metavar="CONSUMER",
              help="Move dead consumers' pending entries to this live consumer of the same group.")
@click.option("--consumer-idle", type=click.IntRange(min=0), default=None, metavar="SECONDS",
              help="A consumer idle this long is dead (default: the dead_consumer_idle_ms threshold, 30 min).")
@click.option("--key-sample", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Keys to sample for the TTL rule (0 to skip).")
@click.option("--threshold", "threshold_pairs", multiple=True, metavar="NAME=VALUE",
              help="Override a rule threshold, as for doctor.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and the outcome) as JSON.")
def command(conn: ConnectionOptions, do_apply: bool, assume_yes: bool, only: tuple[str, ...], skip: tuple[str, ...],
            plan_out: Path | None, plan_in: Path | None, workload: Workload | None, memory_text: str | None,
            audit_path: Path | None, undo_path: Path | None, max_impact: float, big_text: str,
            delete_pattern: tuple[str, ...], expire_pattern: tuple[str, ...], ttl: int, jitter: float,
            drop_unprocessed: bool, maxlen: int | None, claim_to: str | None, consumer_idle: int | None,
            key_sample: int, threshold_pairs: tuple[str, ...], as_json: bool) -> None:
    """Plan the remedies for what doctor finds, and (with --apply) carry them out, audited and undoable.

    On a Redis Cluster (any node's URL) the plan covers every primary, each action on the node it names.

    Dry run by default. Exit code: 0 done (or nothing to do), 2 refused or an action failed, 3 could not
    connect, lost the server mid-apply, or the server is a replica, 130 interrupted.
    """
    if do_apply or undo_path is not None:  # refused now, not after planning (or half an undo) is done
        writable_file(audit_path or default_audit_path(), "--audit")
    if plan_out is not None:
        writable_file(plan_out, "--plan-out")
    if undo_path is not None:
        raise SystemExit(run_undo(conn, undo_path, audit_path, as_json))
    if drop_unprocessed != (maxlen is not None):
        fail("--drop-unprocessed goes with --maxlen N (the newest entries to keep per stream)", 2)
    if plan_in is not None and not do_apply:
        fail("--plan applies a saved plan: add --apply (to see it again, read the file)", 2)
    # Read once, before any server is reached: a damaged or foreign file is refused first, and the plan
    # checked against the server is the one applied.
    saved = None if plan_in is None else (plan_in, read_plan(plan_in))
    interactive = is_terminal() and sys.stdin.isatty()
    if do_apply and not assume_yes and not interactive:
        fail("refusing to apply without confirmation: there is no terminal to ask on; review the plan and add --yes", 2)
    options = FixOptions(workload=workload, memory=host_memory(memory_text) if memory_text else None,
                         expire_patterns=expire_pattern, ttl_s=ttl, jitter=jitter, delete_patterns=delete_pattern,
                         big=_size(big_text, "--big"), drop_unprocessed=drop_unprocessed, maxlen=maxlen,
                         claim_to=claim_to, consumer_idle_ms=None if consumer_idle is None else consumer_idle * 1000,
                         thresholds=_thresholds(threshold_pairs))
    client = open_client(conn)
    try:
        _plan_and_apply(client, conn, options, saved, plan_out, only, skip, do_apply, audit_path, max_impact,
                        assume_yes, as_json, key_sample)
    except KeyboardInterrupt:
        fail("interrupted (Ctrl-C) while planning: nothing was written", 130)
    except rex.RedisError as exc:
        fail(_planning_failure(exc, conn.display), 3)
    finally:
        client.close()


def _planning_failure(exc: rex.RedisError, target: str) -> str:
    """One line for a Redis error that stopped the planning: nothing was changed by then."""
    text = one_line(str(exc)) or type(exc).__name__
    command, reason = named_command(text), reason_for_text(text)
    if isinstance(exc, rex.ResponseError) and command and reason:
        return f"{target}: fix needs {command.upper()}: {reason}; nothing was planned or changed"
    return str(from_redis(exc, target))


def _plan_and_apply(client: redis.Redis, conn: ConnectionOptions, options: FixOptions, saved: tuple[Path, Plan] | None,
                    plan_out: Path | None, only: tuple[str, ...], skip: tuple[str, ...], do_apply: bool,
                    audit_path: Path | None, max_impact: float, assume_yes: bool, as_json: bool,
                    key_sample: int) -> None:
    topology = discover(conn)
    if topology.mode == "cluster":
        plan = cluster_plan(client, conn, topology, options, saved, max_impact, key_sample)
    elif saved is not None:
        _refuse_replica(client, conn)
        plan = _load_plan(*saved, client)
    else:
        unknown_role = _refuse_replica(client, conn, writing=do_apply)
        node = collect(conn, key_sample)
        findings = findings_for(node, options.thresholds)
        facts = gather(client, node, options, expire_patterns_for(findings, options), max_impact)
        facts.not_visible += unknown_role
        plan = make_plan(facts, findings, options, conn.display)
        if facts.not_visible:
            echo(f"redisguard: {conn.display}: {missing_line(user_of(conn), facts.not_visible, 'fix')}; the plan "
                  "leaves out what needs them (its notes say what)", err=True)
    left_out = _select(plan, only, skip, applying=do_apply)
    if plan_out is not None:
        plan.save(plan_out)
    if not do_apply:
        echo(plan.to_json() if as_json else render_plan(plan, dry_run=True, left_out=left_out), nl=not as_json)
        return
    if not as_json:
        echo(render_plan(plan, dry_run=False, left_out=left_out))
    if not plan.is_cluster:
        raise SystemExit(_apply(plan, client, conn, audit_path, max_impact, assume_yes, as_json))
    node_clients = open_node_clients(topology, plan)
    try:
        raise SystemExit(_apply(plan, client, conn, audit_path, max_impact, assume_yes, as_json, node_clients))
    finally:
        for node_client in node_clients.values():
            node_client.close()


def _load_plan(path: Path, plan: Plan, client: redis.Redis) -> Plan:
    if plan.is_cluster:
        fail(f"--plan {path} was made for a Redis Cluster and this is a standalone server: make a new plan", 2)
    reasons = changes_that_matter(plan.seen, seen_now(client, plan.seen))
    if reasons:
        more = f"; and {len(reasons) - 5} more change(s)" if len(reasons) > 5 else ""
        fail(f"--plan {path} refused: " + "; ".join(reasons[:5]) + more + " (make a new plan)", 2)
    return plan


def _apply(plan: Plan, client: redis.Redis, conn: ConnectionOptions, audit_path: Path | None, max_impact: float,
           assume_yes: bool, as_json: bool, node_clients: dict[str, redis.Redis] | None = None) -> int:
    version = ServerVersion.from_info({str(k): str(v) for k, v in client.info("server").items()})
    path = audit_path or default_audit_path()
    audit = AuditLog(path, conn.display)
    stop = StopFlag()

    def report(action: Action, result: ActionResult) -> None:
        if not as_json:
            where = f" on {action.node}" if action.node else ""
            echo(f"{result.status}: {action.id}{where}: {result.detail}", err=True)

    try:
        with stop.on_sigint():
            outcome = apply_plan(plan, client, audit, stop=stop, max_impact_ms=max_impact,
                                 confirm=_confirm(assume_yes), nx=version.redis_compatible >= (7, 0),
                                 report=report, node_clients=node_clients)
    finally:
        audit.close()
    rewrite_failed = any(r.id == "config-rewrite" and r.status == "failed" for r in outcome.results)
    if as_json:
        echo(json.dumps({"plan": json.loads(plan.to_json()), "audit": str(path),
                               "results": [{**asdict(r), "freed": r.freed} for r in outcome.results],
                               "interrupted": outcome.interrupted, "failed": outcome.failed}, indent=2))
    else:
        echo(render_outcome(outcome, str(path)), nl=False)
        rewrite = next((a for a in plan.actions if a.kind == "rewrite"), None)
        if rewrite_failed and rewrite is not None:
            echo("CONFIG REWRITE failed: add these lines to the server's redis.conf so a restart keeps them:")
            for line in rewrite.params["lines"]:
                echo(f"  {line}")
    if outcome.interrupted:
        return 130
    if outcome.lost_connection:
        lost = next((r.node for r in outcome.results if r.status == "failed" and r.node), None)
        where = f"{conn.display} (cluster node {lost})" if lost else conn.display
        echo(f"redisguard: {where}: lost the server during the run (killed, stopped or unreachable): "
              f"the audit log {shlex.quote(str(path))} records what was done", err=True)
        return 3
    return 2 if outcome.failed else 0


def run_undo(conn: ConnectionOptions, path: Path, audit_path: Path | None, as_json: bool) -> int:
    """Restore every configuration value the run in ``path`` changed; say what cannot be undone."""
    try:
        undo = undo_plan(read_audit(path))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--undo {path}: cannot read it ({exc})", 2)
        return 2
    if undo.run_id is None:  # no start record: not an audit log (a typo, the plan file, a truncated copy)
        fail(f"--undo {path}: not an audit log of redisguard fix (no start record): nothing undone", 2)
        return 2
    if undo.is_cluster:
        return undo_cluster(conn, path, undo, audit_path, as_json)
    client = open_client(conn)
    try:
        _refuse_replica(client, conn)
        run_id = str(client.info("server").get("run_id", ""))
        if undo.run_id and run_id != undo.run_id:
            fail(f"--undo {path}: the server restarted (or is another server) since that run: its configuration "
                 "now comes from its config file; nothing was changed", 2)
        log = AuditLog(audit_path or default_audit_path(), conn.display)
        from redisguard.remedy.executor import ActionFailed, Executor

        ex = Executor(client, log, StopFlag(), None)
        restored, failed = [], None
        kept = changed_since(undo.applied, current_values(client, list(undo.applied), path))
        log.event("start", undo_of=str(path), run_id=run_id, actions=["undo"], changed_since=kept)
        try:
            for name, value in reversed(list(undo.restore.items())):
                if name.lower() in kept:
                    continue
                ex.call("undo", "CONFIG", "SET", name, value)
                restored.append(name)
            if undo.rewrote and restored:
                ex.call("undo", "CONFIG", "REWRITE")
        except ActionFailed as exc:
            failed = str(exc)
        finally:
            log.event("end", failed=failed is not None, done=restored)
            log.close()
    finally:
        client.close()
    if as_json:
        echo(json.dumps({"restored": {n: undo.restore[n] for n in restored}, "failed": failed,
                         "changed_since": kept, "cannot_undo": undo.irreversible, "audit": str(log.path)}, indent=2))
    else:
        for name in restored:
            echo(f"restored {name} to {undo.restore[name]!r}")
        for name, now in kept.items():
            echo(f"left {name} at {visible(now)!r}: changed since that run, which set it to "
                 f"{visible(undo.applied[name])!r}; not restored (set it by hand if that is still wanted)")
        if not undo.restore:
            echo("no configuration change to undo in that run")
        undo_tail(failed, undo.irreversible, log.path)
    return 2 if failed or kept else 0

