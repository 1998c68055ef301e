"""Action builders for the configuration: memory limit and policy, lazyfree, client limits, defrag,
persistence, and persisting it all (pure)."""

from __future__ import annotations

from redisguard.remedy.config_audit import audit, config_set_argv, same_value
from redisguard.remedy.facts import Facts
from redisguard.remedy.plan import Action, Plan
from redisguard.remedy.recommend import HEADROOM, MIN_MEMORY, Workload, recommend, recommended_maxmemory
from redisguard.rules import Finding
from redisguard.units import fmt_bytes

__all__ = ["config_actions", "rewrite_action"]

_CONFIG_RISK = "takes effect at once; undone exactly by `redisguard fix --undo AUDIT` (previous value recorded)"


def _config(action_id: str, title: str, what: str, settings: dict[str, str], effect: str, risk: str,
            rule: str | None = None, bytes_freed: int | None = None, estimate: str = "") -> Action:
    return Action(id=action_id, kind="config", title=title, what=what,
                  commands=[config_set_argv(name, value) for name, value in settings.items()],
                  effect=effect, bytes_freed=bytes_freed, estimate=estimate or "nothing is freed directly",
                  risk=f"{risk}; {_CONFIG_RISK}" if risk else _CONFIG_RISK, undoable=True, rule=rule,
                  params={"set": settings})


def _maxmemory(facts: Facts, workload: Workload, notes: list[str]) -> Action | None:
    node = facts.node
    current, used = node.maxmemory, node.used_memory
    if facts.host_memory < MIN_MEMORY:  # INFO total_system_memory is 0 on platforms Redis cannot measure
        notes.append(f"maxmemory: the host's memory is not known (total_system_memory {facts.host_memory}), so no "
                     "maxmemory is worked out: give --memory SIZE (the host's or the container's limit)")
        return None
    target = recommended_maxmemory(workload, facts.host_memory)
    share = f"{HEADROOM[workload]:.0%} of {fmt_bytes(facts.host_memory)}"
    if target <= used * 1.1:
        notes.append(f"maxmemory: the recommended {fmt_bytes(target)} ({share}) is not above used memory "
                     f"({fmt_bytes(used)}) with 10 % to spare, so it is not changed: free memory first, or give "
                     "Redis a bigger host")
        return None
    if current == 0:
        why = "maxmemory is not set: Redis can take all of the host's RAM and be OOM-killed"
    elif current < target and used >= current * 0.9:
        why = f"used memory is {used / current:.0%} of maxmemory {fmt_bytes(current)}, and the host has room"
    elif current > target * 1.05:
        why = (f"maxmemory {fmt_bytes(current)} leaves too little headroom on a {fmt_bytes(facts.host_memory)} "
               "host for fork copy-on-write and buffers")
    else:
        return None
    default_source = ("--memory" if facts.host_memory != node.info_int("total_system_memory") else
                      "INFO total_system_memory (give --memory for a container limit)")
    return _config("maxmemory", f"set maxmemory to {fmt_bytes(target)} ({share})",
                   f"{why}; {fmt_bytes(target)} leaves the rest for fork copy-on-write, buffers and the OS",
                   {"maxmemory": str(target)},
                   f"room for {fmt_bytes(target - used)} more data before the policy acts",
                   "too high and the host can run out of RAM in a fork; the host size used is "
                   + (facts.memory_source or default_source),
                   rule="memory.maxmemory-unset" if current == 0 else "memory.used-critical")


def _policy(facts: Facts, workload: Workload) -> Action | None:
    policy = facts.node.policy
    if workload == "cache":
        if policy.startswith("allkeys-") or (policy.startswith("volatile-")
                                             and facts.node.keys_with_expiry >= facts.node.total_keys * 0.5):
            return None
        return _config("maxmemory-policy", f"maxmemory-policy {policy} -> allkeys-lru",
                       "a cache may drop any key: evict the least recently used instead of refusing writes",
                       {"maxmemory-policy": "allkeys-lru"}, "writes no longer fail at maxmemory: keys are evicted",
                       "any key can be evicted, including ones without a TTL: only for data that can be rebuilt",
                       rule="eviction.volatile-without-ttls" if policy.startswith("volatile-") else None)
    if policy == "noeviction":
        return None
    return _config("maxmemory-policy", f"maxmemory-policy {policy} -> noeviction",
                   f"a {workload} must not lose data to eviction: at maxmemory writes are refused instead",
                   {"maxmemory-policy": "noeviction"}, "no more evictions",
                   "writers get OOM errors at maxmemory and must back off", rule="eviction.evicting-store")


def _recommended_subset(facts: Facts, workload: Workload, names: tuple[str, ...]) -> dict[str, str]:
    # None of these depends on the host's memory, which may not be known (0): any valid size gives them.
    settings = [s for s in recommend(workload, max(facts.host_memory, MIN_MEMORY), facts.version) if s.name in names]
    return {d.name: d.recommended for d in audit(facts.config, settings) if d.current is not None}


def config_actions(facts: Facts, findings: list[Finding], workload: Workload, notes: list[str]) -> list[Action]:
    ids = {finding.id for finding in findings}
    out = [a for a in (_maxmemory(facts, workload, notes), _policy(facts, workload)) if a is not None]
    lazy = _recommended_subset(facts, workload, ("lazyfree-lazy-eviction", "lazyfree-lazy-expire",
                                                 "lazyfree-lazy-server-del", "lazyfree-lazy-user-del"))
    if lazy:
        out.append(_config("lazyfree", f"turn on {', '.join(lazy)}",
                           "frees big values in a background thread on eviction, expiry and DEL",
                           lazy, "no multi-millisecond stalls when a big key is freed", ""))
    if "clients.idle" in ids and facts.config.get("timeout") == "0":
        out.append(_config("timeout", "close idle connections after 300 s (timeout 300)",
                           "timeout is 0, so leaked connections are never closed", {"timeout": "300"},
                           "idle connections are closed by Redis from now on",
                           "pools must reconnect (most do); blocked consumers and subscribers are exempt",
                           rule="clients.idle"))
    buffers = facts.config.get("client-output-buffer-limit", "")
    if "clients.output-buffers" in ids and buffers and not same_value(
            "client-output-buffer-limit", buffers, "pubsub 33554432 8388608 60"):
        out.append(_config("pubsub-buffer-limit", "limit pub/sub output buffers (32 MiB hard, 8 MiB for 60 s)",
                           "a subscriber that does not read is disconnected instead of growing without bound",
                           {"client-output-buffer-limit": "pubsub 33554432 8388608 60"},
                           "pub/sub buffers capped at 32 MiB per client",
                           "slow subscribers are disconnected and must resubscribe", rule="clients.output-buffers"))
    if "fragmentation.high" in ids:
        out += _defrag(facts, notes)
    out += _persistence(facts, ids, workload)
    for action in (a for a in out if a.kind == "config"):  # set only what differs from the server's value
        wanted = action.params["set"]
        changed = {n: v for n, v in wanted.items() if not (n in facts.config and same_value(n, facts.config[n], v))}
        if changed != wanted:
            action.params["set"] = changed
            action.commands = [config_set_argv(n, v) for n, v in changed.items()]
    return [action for action in out if action.kind != "config" or action.params["set"]]


def _defrag(facts: Facts, notes: list[str]) -> list[Action]:
    out: list[Action] = []
    if "jemalloc" not in facts.allocator:
        notes.append(f"fragmentation: the allocator is {facts.allocator or 'unknown'}, not jemalloc: no MEMORY "
                     "PURGE or active defrag; a restart (replica first, then fail over) is the remedy")
        return out
    excess = facts.node.info_int("mem_fragmentation_bytes")
    out.append(Action(id="memory-purge", kind="purge", title="MEMORY PURGE",
                      what="asks jemalloc to return dirty pages to the OS", commands=[["MEMORY", "PURGE"]],
                      effect="RSS drops by the dirty pages jemalloc held", bytes_freed=None,
                      estimate=f"RSS, not used memory; at most the {fmt_bytes(excess)} of fragmentation",
                      risk="brief CPU use; nothing to undo", undoable=False, rule="fragmentation.high"))
    if facts.config.get("activedefrag") == "yes":
        return out
    if facts.version.defrag_crash_range:
        notes.append(f"activedefrag is not turned on: {facts.version.text} is in the 7.4-8.2 range with active "
                     "defrag crash bugs")
        return out
    out.append(_config("activedefrag", "turn on active defragmentation (activedefrag yes)",
                       "moves live values so jemalloc can release fragmented pages", {"activedefrag": "yes"},
                       f"fragmentation ({fmt_bytes(excess)}) shrinks over minutes",
                       "background CPU (bounded by active-defrag-cycle-max)", rule="fragmentation.high"))
    return out


def _persistence(facts: Facts, ids: set[str], workload: Workload) -> list[Action]:
    out = []
    if "persistence.aggressive-save" in ids:
        wanted = {"cache": "", "queue": "", "store": "3600 1 300 100"}[workload]
        if workload == "queue" and facts.config.get("appendonly") != "yes":
            wanted = "3600 1 300 100"  # a queue without AOF keeps its snapshots, less often
        out.append(_config("save", f"relax the save schedule to {wanted!r}",
                           f"save {facts.config.get('save')!r} forks a snapshot every few minutes or less",
                           {"save": wanted}, "fewer forks, so less copy-on-write memory and fewer latency spikes",
                           "more writes can be lost on a crash between snapshots (AOF covers it where on)",
                           rule="persistence.aggressive-save"))
    if "persistence.none-on-store" in ids and workload in ("queue", "store"):
        out.append(_config("appendonly", "enable AOF (appendonly yes, appendfsync everysec)",
                           "no RDB snapshots and no AOF: a restart loses everything",
                           {"appendonly": "yes", "appendfsync": "everysec"},
                           "every write logged; at most one second lost on power failure",
                           "starts an AOF rewrite now (a fork: copy-on-write memory) and adds disk I/O",
                           rule="persistence.none-on-store"))
    return out


_NO_FILE_NOTE = ("the server was started without a config file, so CONFIG REWRITE cannot persist the changes: "
                 "add these lines to its redis.conf (or its command line): ")


def _conf_lines(settings: dict[str, str]) -> list[str]:
    return [f"{name} {value}" if value else f'{name} ""' for name, value in settings.items()]


def settle_persistence(plan: Plan) -> None:
    """After ``--only``/``--skip``: the CONFIG REWRITE's lines, and the note for a server without a config file,
    name only the settings the plan still changes (they listed every recommended one). A cluster plan's
    actions are per node and are left as they are."""
    if plan.is_cluster:
        return
    settings: dict[str, str] = {}
    for action in plan.actions:
        if action.kind == "config":
            settings.update(action.params["set"])
    lines = _conf_lines(settings)
    had_note = any(note.startswith(_NO_FILE_NOTE) for note in plan.notes)
    plan.notes = [note for note in plan.notes if not note.startswith(_NO_FILE_NOTE)]
    if had_note and lines:
        plan.notes.append(_NO_FILE_NOTE + "; ".join(lines))
    for action in plan.actions:
        if action.kind == "rewrite":
            action.params["lines"] = lines


def rewrite_action(facts: Facts, actions: list[Action], notes: list[str]) -> Action | None:
    """CONFIG REWRITE after the config actions, where the server has a config file; else the lines."""
    settings: dict[str, str] = {}
    for action in actions:
        if action.kind == "config":
            settings.update(action.params["set"])
    if not settings:
        return None
    lines = _conf_lines(settings)
    if not facts.config_file:
        notes.append(_NO_FILE_NOTE + "; ".join(lines))
        return None
    return Action(id="config-rewrite", kind="rewrite", title=f"CONFIG REWRITE ({facts.config_file})",
                  what="writes the changed settings into the server's config file so a restart keeps them",
                  commands=[["CONFIG", "REWRITE"]], effect="the changes survive a restart", bytes_freed=None,
                  estimate="nothing is freed", risk="rewrites the config file (comments kept); needs write "
                  "permission on its directory; if it fails, the lines to add are printed",
                  undoable=True, params={"lines": lines, "config_file": facts.config_file})
