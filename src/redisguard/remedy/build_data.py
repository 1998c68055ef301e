"""Action builders for the data and the clients: stream trims, consumers, claims, TTLs, deletions,
disconnections (pure)."""

from __future__ import annotations

from redisguard.keynames import bounded as _b
from redisguard.remedy.facts import Facts, FixOptions
from redisguard.remedy.plan import Action
from redisguard.rules import Finding
from redisguard.snapshot import ClientEntry
from redisguard.units import fmt_bytes

__all__ = ["client_actions", "key_actions", "stream_actions"]

TRIM_LIMIT = 10_000
_SCRIPT = "<redisguard safe-trim script: the safe point and XTRIM MINID ~ in one atomic call>"
_DELCONSUMER = "<redisguard script: XGROUP DELCONSUMER only if the consumer still holds no pending entry>"


def _trim(facts: Facts, key: str, options: FixOptions, notes: list[str]) -> Action | None:
    sf = facts.streams[key]
    if options.drop_unprocessed and sf.cut_point is not None and sf.dropped > 0:
        lost = ", ".join(f"group {_b(g)}: {n} unprocessed" for g, n in sf.losses.items()) or "no group loses entries"
        return Action(
            id=f"trim:{key}", kind="trim", title=f"trim {_b(key)} past the safe point to {sf.cut_point} "
            f"(--drop-unprocessed): {lost} entries LOST",
            what=f"removes the {sf.dropped} entries before {sf.cut_point} whether processed or not",
            commands=[["XTRIM", key, "MINID", "~", sf.cut_point]],
            effect=f"frees about {fmt_bytes(sf.dropped * sf.entry_bytes)}; {lost}",
            bytes_freed=int(sf.dropped * sf.entry_bytes),
            estimate=f"{sf.dropped} entries x {sf.entry_bytes:.0f} B (listpack size of a sample of them)",
            risk=f"DATA LOSS: {lost} entries are gone for good", undoable=False, rule="streams.backlog",
            params={"key": key, "cut_point": sf.cut_point, "drop": True})
    if sf.safe_point is None:
        notes.append(f"stream {_b(key)}: no consumer groups, so nothing is known to be processed: not trimmed")
        return None
    if sf.trimmable == 0:
        notes.append(f"stream {_b(key)}: nothing is safe to trim: the safe point {sf.safe_point} is pinned by group "
                     f"{_b(str(sf.pinned_by))} (its oldest pending or next undelivered entry); it is never skipped")
        return None
    count = f"{sf.trimmable}{'+' if sf.capped else ''}"
    return Action(
        id=f"trim:{key}", kind="trim", title=f"safe trim of {_b(key)}: {count} entries every group has acknowledged",
        what=f"removes entries before the safe point {sf.safe_point} (pinned by group {_b(str(sf.pinned_by))}); "
             "the point is computed again and trimmed in one atomic script, repeated until a call frees nothing",
        commands=[["EVAL", _SCRIPT, "1", key, "~", str(TRIM_LIMIT), "xtrim"]],
        effect=f"frees about {fmt_bytes(sf.trimmable * sf.entry_bytes)}; no unprocessed entry is removed",
        bytes_freed=int(sf.trimmable * sf.entry_bytes),
        estimate=f"{count} entries before the safe point (redisguard.streams.plan_trim) x {sf.entry_bytes:.0f} B "
                 "per entry (listpack size of a sample of them); whole nodes only (~), so slightly less may go",
        risk="none to unprocessed data: only entries every group acknowledged go; not undoable",
        undoable=False, rule="streams.backlog", params={"key": key, "drop": False})


def stream_actions(facts: Facts, options: FixOptions, notes: list[str]) -> list[Action]:
    out: list[Action] = []
    for stream in facts.node.streams:
        if stream.key in facts.streams:
            trim = _trim(facts, stream.key, options, notes)
            if trim is not None:
                out.append(trim)
        for group in stream.groups:
            idle = [c for c in group.consumer_details if c.pending == 0 and c.idle_ms >= options.dead_idle_ms]
            live = [c for c in group.consumer_details if c.idle_ms < options.dead_idle_ms]
            dead = [c for c in group.consumer_details if c.pending > 0 and c.idle_ms >= options.dead_idle_ms
                    and c.name != options.claim_to]
            if idle:
                names = [c.name for c in idle]
                out.append(Action(
                    id=f"consumers:{stream.key}:{group.name}", kind="delconsumers",
                    title=f"remove {len(idle)} idle consumer(s) of {_b(group.name)} on {_b(stream.key)} "
                          "holding nothing",
                    what="XGROUP DELCONSUMER for consumers idle for at least "
                         f"{options.dead_idle_ms // 1000} s with no pending entry (checked again atomically)",
                    commands=[["EVAL", _DELCONSUMER, "1", stream.key, group.name, name] for name in names],
                    effect="the group's consumer list shows only live consumers", bytes_freed=None,
                    estimate="a few hundred bytes per consumer", risk="none to data: a consumer with pending "
                    "entries is never removed; a removed one is re-created when it reads again",
                    undoable=False, rule="streams.dead-consumers",
                    params={"key": stream.key, "group": group.name, "consumers": names}))
            if not dead:
                continue
            held = sum(c.pending for c in dead)
            if options.claim_to is None:
                notes.append(f"{_b(group.name)} on {_b(stream.key)}: {len(dead)} dead consumer(s) hold {held} pending "
                             "entries: give --claim-to LIVE_CONSUMER to move them to a live consumer")
                continue
            if options.claim_to not in {c.name for c in live}:
                notes.append(f"{_b(group.name)} on {_b(stream.key)}: --claim-to {_b(options.claim_to)} is not a "
                             "live consumer of this group (idle less than the dead-consumer threshold): "
                             "nothing claimed")
                continue
            out.append(Action(
                id=f"claim:{stream.key}:{group.name}", kind="claim",
                title=f"move {held} pending entries of {len(dead)} dead consumer(s) of {_b(group.name)} on "
                      f"{_b(stream.key)} to {_b(options.claim_to)}",
                what="XPENDING lists exactly each dead consumer's entries; XCLAIM gives them to the live one "
                     "(XAUTOCLAIM cannot be limited to one consumer)",
                commands=[["XCLAIM", stream.key, group.name, options.claim_to, str(options.dead_idle_ms),
                           "<ids from XPENDING ... IDLE ms - + 100 consumer>"] for _ in dead[:1]],
                effect=f"{held} entries are processed again by {_b(options.claim_to)} (at-least-once)",
                bytes_freed=None, estimate="frees nothing until they are acknowledged",
                risk="entries are delivered again: handlers must be idempotent; not undoable",
                undoable=False, rule="streams.dead-consumers",
                params={"key": stream.key, "group": group.name, "to": options.claim_to,
                        "from": [c.name for c in dead], "min_idle_ms": options.dead_idle_ms}))
    return out


def key_actions(facts: Facts, findings: list[Finding], options: FixOptions) -> list[Action]:
    out: list[Action] = []
    for pattern in options.delete_patterns:
        pf = facts.patterns[f"delete:{pattern}"]
        big = f"; {len(pf.big)} aggregate(s) over {fmt_bytes(options.big)} emptied in steps if UNLINK is " \
              "unavailable" if pf.big else ""
        out.append(Action(
            id=f"delete:{pattern}", kind="delete", title=f"delete the {pf.keys} keys matching {_b(pattern)}",
            what="SCAN MATCH in throttled batches, UNLINK each batch (freed in the background)" + big,
            commands=[["SCAN", "<cursor>", "MATCH", pattern, "COUNT", "<batch>"], ["UNLINK", "<keys of the batch>"]],
            effect=f"frees about {fmt_bytes(pf.bytes)}", bytes_freed=pf.bytes,
            estimate=f"MEMORY USAGE of the {pf.keys} matching keys (SCAN MATCH now)",
            risk="DATA LOSS: the keys are gone for good (you named the pattern)", undoable=False,
            params={"pattern": pattern, "big": options.big}))
    patterns = list(options.expire_patterns)
    for finding in findings:
        if finding.id == "keys.cache-without-ttl":
            pattern = str(finding.evidence.get("pattern"))
            if pattern not in patterns:
                patterns.append(pattern)
    for pattern in patterns:
        found = facts.patterns.get(f"expire:{pattern}")
        if found is None or found.without_ttl == 0:
            continue
        pf = found
        top = int(options.ttl_s * (1 + options.jitter))
        out.append(Action(
            id=f"expire:{pattern}", kind="expire",
            title=f"give the {pf.without_ttl} keys matching {_b(pattern)} without a TTL one of {options.ttl_s}-{top} s",
            what="SCAN MATCH in throttled batches; EXPIRE with a random TTL in the window, only on keys without "
                 "one (EXPIRE ... NX on 7.0+, PTTL checked first before)",
            commands=[["SCAN", "<cursor>", "MATCH", pattern, "COUNT", "<batch>"],
                      ["EXPIRE", "<key>", f"<{options.ttl_s}..{top}>", "NX"]],
            effect=f"about {fmt_bytes(pf.ttl_bytes)} freed as they expire, spread over {top - options.ttl_s} s "
                   "so they do not all go at once", bytes_freed=None,
            estimate=f"MEMORY USAGE of the {pf.without_ttl} matching keys without a TTL; freed later, not now",
            risk="the keys expire: readers must tolerate a miss; a TTL can be removed with PERSIST, not by undo",
            undoable=False, rule="keys.cache-without-ttl" if pattern not in options.expire_patterns else None,
            params={"pattern": pattern, "ttl": options.ttl_s, "top": top}))
    return out


def _kill(action_id: str, title: str, what: str, chosen: list[ClientEntry], criteria: dict[str, int],
          rule: str) -> Action:
    return Action(
        id=action_id, kind="kill", title=title, what=what,
        commands=[["CLIENT", "KILL", "ID", str(c.id)] for c in chosen],
        effect=f"frees about {fmt_bytes(sum(c.tot_mem for c in chosen))} of client memory",
        bytes_freed=sum(c.tot_mem for c in chosen), estimate="tot-mem of each client in CLIENT LIST",
        risk="those clients are disconnected and must reconnect; each is checked again against the criteria "
             "just before; not undoable", undoable=False, rule=rule,
        params={"ids": [c.id for c in chosen], "addrs": {str(c.id): c.addr for c in chosen}, **criteria})


def _killable(client: ClientEntry, self_id: int) -> bool:
    # Never our own connection, a replica (S), the primary link (M), or MONITOR feeding an operator (O).
    return client.id != self_id and not any(flag in client.flags for flag in "SMO")


def idle_match(client: ClientEntry, idle_s: int) -> bool:
    """The clients.idle criterion: a plain connection (not blocked, not pub/sub) idle that long."""
    return client.idle_s >= idle_s and client.flags == "N"


def buffer_match(client: ClientEntry, omem: int) -> bool:
    return client.omem >= omem


def client_actions(facts: Facts, findings: list[Finding], options: FixOptions) -> list[Action]:
    ids = {finding.id for finding in findings}
    t = options.thresholds
    out = []
    if "clients.idle" in ids:
        chosen = [c for c in facts.clients if _killable(c, facts.self_id) and idle_match(c, t.idle_client_s)]
        if chosen:
            out.append(_kill("kill:idle", f"disconnect {len(chosen)} client(s) idle for >= {t.idle_client_s} s",
                             f"CLIENT KILL ID for each plain connection idle >= {t.idle_client_s} s (never TYPE "
                             "normal, never this connection, replicas, the primary link, blocked consumers or "
                             "subscribers)", chosen, {"idle_s": t.idle_client_s}, "clients.idle"))
    if "clients.output-buffers" in ids:
        chosen = [c for c in facts.clients if _killable(c, facts.self_id) and buffer_match(c, t.client_omem_bytes)]
        if chosen:
            out.append(_kill("kill:buffers", f"disconnect {len(chosen)} client(s) holding >= "
                             f"{fmt_bytes(t.client_omem_bytes)} of output buffer",
                             "CLIENT KILL ID for each client whose unread output buffer is over the threshold",
                             chosen, {"omem": t.client_omem_bytes}, "clients.output-buffers"))
    return out
