"""Applying key actions in throttled batches: EXPIRE with jitter on keys without a TTL; UNLINK (or, where
UNLINK is unavailable, DEL of small keys and aggregates over --big emptied step by step)."""

from __future__ import annotations

import random

from redisguard._wire.resp import bulk, command, keyed
from redisguard.keynames import to_bytes, to_text
from redisguard.remedy.bulk import KEY_PTTL, KEY_TYPE, KEY_UNLINK, KEY_USAGE, BatchRunner
from redisguard.remedy.executor import ActionFailed, Executor
from redisguard.remedy.plan import Action

__all__ = ["apply_delete", "apply_expire"]

_STEP = 100
_EMPTY_WITH = {"hash": ("HSCAN", "HDEL"), "set": ("SSCAN", "SREM"), "zset": ("ZSCAN", "ZREM")}


def apply_expire(ex: Executor, action: Action, nx: bool, rng: random.Random | None = None) -> str:
    """EXPIRE key <ttl..top> NX (7.0+), or PTTL first and EXPIRE only the keys at -1 (6.2)."""
    draw = rng or random.Random()
    ttl, top = int(action.params["ttl"]), int(action.params["top"])
    uniform, span = draw.random, top - ttl + 1
    expire, tail = keyed(b"EXPIRE", after=2 if nx else 1), b"$2\r\nNX\r\n" if nx else b""
    done = 0
    with ex.runner() as runner:
        for found in runner.keys(to_bytes(action.params["pattern"])):
            keys = found
            if not nx:
                pttls = ex.batch(action.id, runner, "PTTL", found, [KEY_PTTL(k) for k in found],
                                 units={"pttl": len(found)})
                keys = [k for k, p in zip(found, pttls, strict=True) if p == -1]
                if not keys:
                    continue
            # Each key's TTL is a uniform draw from [ttl, top] (random() rather than randint: half the cost).
            cmds = [expire(k) + bulk(b"%d" % min(top, ttl + int(uniform() * span))) + tail for k in keys]
            replies = ex.batch(action.id, runner, "EXPIRE", keys, cmds,
                               [f"<{ttl}..{top}>", *(["NX"] if nx else [])], units={"expire": len(keys)})
            done += sum(1 for reply in replies if reply == 1)
            ex.stop.check()
    return f"{done} keys given a TTL"


def _unavailable(error: str) -> bool:
    lowered = error.lower()
    return lowered.startswith(("noperm", "err unknown command")) or "unknown command" in lowered


def _empty_in_steps(ex: Executor, action: Action, key: bytes, kind: str) -> None:
    """Empty an aggregate a bounded step at a time; Redis deletes the key when its last element goes."""
    if kind == "list":
        while int(ex.call(action.id, "LLEN", key)) > _STEP:
            ex.stop.check()
            ex.call(action.id, "LTRIM", key, "0", str(-_STEP - 1))
        ex.call(action.id, "DEL", key)
        return
    scan, remove = _EMPTY_WITH[kind]
    cursor: bytes | int = b"0"
    while True:
        ex.stop.check()
        cursor, items = ex.call(action.id, scan, key, cursor, "COUNT", str(_STEP))
        if isinstance(items, dict):
            members = list(items)
        else:
            members = list(items[::2]) if kind in ("hash", "zset") else list(items)  # field, value, ...
        if members:
            ex.call(action.id, remove, key, *members)
        if int(cursor) == 0:
            break
    left = ex.call(action.id, "MEMORY", "USAGE", key)
    if left is not None:  # elements added meanwhile
        if int(left) > int(action.params["big"]):
            raise ActionFailed(f"{to_text(key)!r} grew back over --big while it was emptied: left as it is")
        ex.call(action.id, "DEL", key)


def _delete_without_unlink(ex: Executor, action: Action, runner: BatchRunner, keys: list[bytes], big: int) -> int:
    meta = ex.batch(action.id, runner, "TYPE", keys, [c for k in keys for c in (KEY_TYPE(k), KEY_USAGE(k))],
                    units={"type": len(keys), "memory": len(keys)})
    freed = 0
    for at, key in enumerate(keys):
        kind, size = to_text(meta[2 * at]), meta[2 * at + 1]
        if kind == "none" or not isinstance(size, int):
            continue
        if size > big and kind in ("hash", "set", "zset", "list"):
            _empty_in_steps(ex, action, key, kind)
        elif size > big:
            raise ActionFailed(f"{to_text(key)!r} is a {kind} of {size} bytes, over --big, and UNLINK is not "
                               "available: it is not deleted in one blocking call")
        else:
            ex.call(action.id, "DEL", key)
        freed += 1
    return freed


def apply_delete(ex: Executor, action: Action) -> str:
    big = int(action.params["big"])
    deleted, fallback = 0, False
    with ex.runner() as runner:
        for keys in runner.keys(to_bytes(action.params["pattern"])):
            if not fallback:
                try:
                    # A cluster node refuses a multi-key command across slots (CROSSSLOT): one key each there.
                    cmds = [KEY_UNLINK(k) for k in keys] if action.node else [command(b"UNLINK", *keys)]
                    replies = ex.batch(action.id, runner, "UNLINK", keys, cmds, units={"unlink": len(keys)})
                    deleted += sum(int(reply) for reply in replies)
                    ex.stop.check()
                    continue
                except ActionFailed as exc:
                    if not _unavailable(str(exc).partition(": ")[2]):
                        raise
                    fallback = True
                    ex.audit.event("fallback", action=action.id, reason=f"UNLINK unavailable ({exc}): DEL of "
                                   "small keys, aggregates over --big emptied in steps")
            deleted += _delete_without_unlink(ex, action, runner, keys, big)
            ex.stop.check()
    return f"{deleted} keys deleted" + (" (UNLINK unavailable: DEL and step-by-step emptying)" if fallback else "")

