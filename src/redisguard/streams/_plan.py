"""Trimming as plan → apply: :func:`plan_trim` says what a trim would remove (and, for an emergency trim
past the safe point, how many unprocessed entries each group loses), :func:`apply_trim` does it.

A safe trim is applied by the atomic safe-point script (:data:`redisguard.streams._safety.TRIM_SCRIPT`),
which recomputes the point from the groups' state at that moment (they may have moved since the plan:
it can only free more, never an entry a group still needs). On a Redis whose ``XTRIM ... ACKED`` works
(see :mod:`redisguard.streams._capabilities`) the server trims what every group acknowledged itself, in a
script that first checks the stream has groups (an ACKED trim of a stream without groups deletes
everything). Every mistake is a one-line :class:`~redisguard.errors.RedisguardError`: a key that is not a
stream, a bad id or option, a key outside the user's ACL key patterns (exit 2), a command the user may
not run (exit 3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import redis
import redis.exceptions as rex

from redisguard.collect.gaps import Gaps
from redisguard.collect.streams import describe_stream, server_time_ms
from redisguard.errors import RefusedError, UsageError
from redisguard.keynames import quote_cli, to_bytes, to_text
from redisguard.snapshot import StreamInfo
from redisguard.streams._capabilities import ServerVersion, acked_trim_works, server_of
from redisguard.streams._errors import NotAStreamError
from redisguard.streams._health import EntryCount, StreamHealth, count_before, stream_health
from redisguard.streams._ids import StreamId, format_id, next_id, parse_id
from redisguard.streams._trim import trim_safe

__all__ = ["ACKED_TRIM_SCRIPT", "GroupLoss", "TrimOutcome", "TrimPlan", "apply_trim", "plan_trim"]

SyncClient = redis.Redis | redis.RedisCluster
Method = Literal["safe-point-script", "acked", "minid"]

# XTRIM ... ACKED where it works: only after checking, atomically, that the stream has groups.
ACKED_TRIM_SCRIPT = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return 0 end
if #redis.call('XINFO', 'GROUPS', key) == 0 then return 0 end
return redis.call('XTRIM', key, 'MAXLEN', ARGV[1], '0', 'ACKED')
"""


@dataclass(frozen=True)
class GroupLoss:
    group: str
    unprocessed_lost: EntryCount  # entries this group had not processed that the emergency cut removes


@dataclass(frozen=True)
class TrimPlan:
    """What trimming one stream would do. ``cut_point``: entries before it are removed (the safe point, or
    the emergency cut); None: nothing to trim (no consumer groups, or an empty stream)."""

    health: StreamHealth
    server: ServerVersion
    method: Method
    exact: bool
    drop_unprocessed: bool
    cut_point: str | None
    entries_to_free: EntryCount
    bytes_to_free: int
    losses: tuple[GroupLoss, ...] = ()

    @property
    def key(self) -> str:
        return self.health.key

    @property
    def stream(self) -> StreamInfo:
        return self.health.stream


@dataclass(frozen=True)
class TrimOutcome:
    plan: TrimPlan
    method: Method
    trimmed: int
    point: str | None  # the point the trim used (the script's, recomputed at that moment)
    length_after: int


def _key_denied(exc: rex.ResponseError) -> bool:
    text = str(exc).lower()
    return "access" in text and "key" in text  # NOPERM for a key outside the user's patterns (6.2-8.x)


def refusal(exc: rex.ResponseError, name: str) -> Exception:
    """The one-line error for a reply that refused a stream operation on ``name`` (text form)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if text.upper().startswith("NOPERM") or isinstance(exc, rex.NoPermissionError):
        if _key_denied(exc):
            return UsageError(f"{quote_cli(name)} is outside the key patterns this user may access ({text})",
                              kind="key-denied")
        return RefusedError(f"permission denied ({text}); `redisguard acl --for trim` prints the ACL line "
                            "with what trim needs", kind="noperm")
    if text.upper().startswith("WRONGTYPE"):
        return NotAStreamError(f"{quote_cli(name)} is not a stream", kind="wrongtype")
    return RefusedError(f"the server refused a command on {quote_cli(name)} ({text})", kind="refused")


def _server(client: SyncClient, key: bytes) -> ServerVersion:
    try:
        if isinstance(client, redis.RedisCluster):
            info = client.info("server", target_nodes=client.get_node_from_key(key))
        else:
            info = client.info("server")
    except rex.ResponseError:
        return ServerVersion.from_info({})  # INFO denied or renamed: unknown, so the portable path
    return server_of(info)


def _parse(text: str, what: str) -> StreamId:
    try:
        return parse_id(text)
    except ValueError as exc:
        raise UsageError(f"{what} {quote_cli(text)}: {exc}", kind="bad-id") from None


def _cut_point(client: SyncClient, key: bytes, maxlen: int | None, minid: str | None) -> str | None:
    if minid is not None:
        return format_id(_parse(minid, "--minid"))
    assert maxlen is not None
    last: Any
    kept: Any
    if maxlen == 0:
        last = client.xrevrange(key, count=1)
        return None if not last else format_id(next_id(parse_id(last[0][0])))
    kept = client.xrevrange(key, count=maxlen)
    return None if len(kept) < maxlen else to_text(kept[-1][0])


def _now_ms(client: SyncClient) -> int:
    try:
        return server_time_ms(client)  # type: ignore[arg-type]
    except rex.ResponseError:
        return int(time.time() * 1000)  # TIME denied or renamed: this machine's clock


def check_trim_options(drop_unprocessed: bool, maxlen: int | None, minid: str | None) -> None:
    """The trim options make sense together (a :class:`UsageError` if not), checked before any I/O."""
    if not drop_unprocessed and (maxlen is not None or minid is not None):
        given = "--maxlen" if maxlen is not None else "--minid"
        raise UsageError(f"{given} trims past the safe point, so it drops entries a group has not processed: add "
                         "--drop-unprocessed to say so (without either, trim stops at the safe point)", kind="options")
    if drop_unprocessed == (maxlen is None and minid is None) or (maxlen is not None and minid is not None):
        raise UsageError("--drop-unprocessed goes with exactly one of --maxlen N or --minid ID", kind="options")
    if maxlen is not None and maxlen < 0:
        raise UsageError(f"--maxlen {maxlen}: must be 0 or more", kind="options")


def plan_trim(client: SyncClient, stream: str | bytes, *, node: str = "", exact: bool = False,
              drop_unprocessed: bool = False, maxlen: int | None = None, minid: str | None = None) -> TrimPlan:
    """What trimming ``stream`` would remove (read-only).

    Without ``drop_unprocessed``: up to the safe point. With it, exactly one of ``maxlen`` (keep the newest
    N) or ``minid`` (remove entries before this id), and the plan counts the unprocessed entries each group
    loses.
    """
    check_trim_options(drop_unprocessed, maxlen, minid)
    key = stream if isinstance(stream, bytes) else to_bytes(stream)
    name = to_text(key)
    if minid is not None:
        _parse(minid, "--minid")  # a bad id is refused before anything is read
    try:
        server = _server(client, key)
        info = describe_stream(client, key, _now_ms(client), Gaps(node))  # type: ignore[arg-type]
        if info is None:
            raise NotAStreamError(f"no stream named {quote_cli(name)} (or it is not a stream)", kind="missing")
        health = stream_health(client, info, node)
        if not drop_unprocessed:
            point = health.safe_point
            method: Method = "acked" if acked_trim_works(server) and info.groups else "safe-point-script"
            return TrimPlan(health=health, server=server, method=method, exact=exact, drop_unprocessed=False,
                            cut_point=None if point is None else point.text, entries_to_free=health.safe_to_trim,
                            bytes_to_free=health.bytes_safe_to_trim)
        cut = _cut_point(client, key, maxlen, minid)
        if cut is None:
            return TrimPlan(health=health, server=server, method="minid", exact=exact, drop_unprocessed=True,
                            cut_point=None, entries_to_free=EntryCount(0, "walk"), bytes_to_free=0)
        cut_id = parse_id(cut)
        freed = count_before(client, key, info, cut_id)
        losses = []
        for group in (health.safe_point.groups if health.safe_point else ()):
            needed_before = count_before(client, key, info, group.needs_from)
            lost = max(0, freed.value - needed_before.value)
            exact_count = freed.exact and needed_before.exact
            losses.append(GroupLoss(group.group, EntryCount(lost, "walk" if exact_count else "estimate")))
        per_entry = (info.memory_bytes or 0) / info.length if info.length else 0
        return TrimPlan(health=health, server=server, method="minid", exact=exact, drop_unprocessed=True,
                        cut_point=cut, entries_to_free=freed, bytes_to_free=int(per_entry * freed.value),
                        losses=tuple(losses))
    except rex.ResponseError as exc:
        raise refusal(exc, name) from None


def _xtrim_minid(client: SyncClient, key: bytes, cut: str, *, exact: bool, old: bool) -> int:
    """``XTRIM key MINID cut``; exact on Redis < 7 as whole nodes, then XDEL by id (its exact MINID trim
    also deletes entries after the cut that are far apart in a node: see TRIM_SCRIPT)."""
    if not (exact and old):
        return int(client.xtrim(key, minid=cut, approximate=not exact))
    trimmed = int(client.xtrim(key, minid=cut, approximate=True))
    while True:
        rest: Any = client.xrange(key, min="-", max="(" + cut, count=1000)
        if not rest:
            return trimmed
        trimmed += int(client.xdel(key, *[entry_id for entry_id, _ in rest]))


def apply_trim(client: SyncClient, plan: TrimPlan) -> TrimOutcome:
    """Do what ``plan`` says. A safe trim recomputes the safe point atomically (groups may have moved since
    the plan); an emergency trim removes the entries before the plan's cut point, as shown."""
    key = to_bytes(plan.key)
    try:
        if plan.drop_unprocessed:
            trimmed = 0 if plan.cut_point is None else _xtrim_minid(
                client, key, plan.cut_point, exact=plan.exact,
                old=not plan.server.at_least(redis=(7, 0, 0)))  # 6.2, or unknown: the careful path
            point = plan.cut_point
        elif plan.method == "acked":
            script: Any = client.register_script(ACKED_TRIM_SCRIPT)
            trimmed = int(script(keys=[key], args=["=" if plan.exact else "~"]))
            point = plan.cut_point
        else:
            done = trim_safe(client, key, exact=plan.exact)
            trimmed, point = done.trimmed, done.point
        length_after = int(client.xlen(key))
    except rex.ResponseError as exc:
        raise refusal(exc, plan.key) from None
    return TrimOutcome(plan=plan, method=plan.method, trimmed=trimmed, point=point, length_after=length_after)
