"""The safe trim point: the oldest entry some consumer group still needs.

For each group: its oldest pending entry if it has any, else the entry after its last-delivered id.
The minimum over all groups (compared as ``(ms, seq)``) is the safe point: every entry before it was
delivered to and acknowledged by every group. A stream with no groups has no safe point (nothing is
known to be processed), so nothing is trimmed. A group that never read pins the point at its start: that
is correct, and it is reported rather than skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.exceptions as rex

from redisguard.snapshot import StreamGroup
from redisguard.streams.clients import AsyncClient, resolve_client
from redisguard.streams.ids import StreamId, format_id, next_id, parse_id

__all__ = ["TRIM_SCRIPT", "GroupPosition", "SafePoint", "safe_point_of_groups", "safe_trim_point"]


@dataclass(frozen=True)
class GroupPosition:
    group: str
    needs_from: StreamId  # the oldest entry this group still needs
    pending: int


@dataclass(frozen=True)
class SafePoint:
    id: StreamId
    pinned_by: str  # the group holding the point back
    groups: tuple[GroupPosition, ...]

    @property
    def text(self) -> str:
        return format_id(self.id)


def safe_point_of_groups(groups: list[StreamGroup]) -> SafePoint | None:
    """From collected group state (XINFO GROUPS + XPENDING summary). None: no groups, trim nothing."""
    positions = []
    for group in groups:
        if group.pending:  # oldest pending not visible (XPENDING denied): the group may need any entry
            needs = parse_id(group.oldest_pending_id or "0-0")
        else:
            needs = next_id(parse_id(group.last_delivered_id))
        positions.append(GroupPosition(group.name, needs, group.pending))
    if not positions:
        return None
    pinned = min(positions, key=lambda position: position.needs_from)
    return SafePoint(id=pinned.needs_from, pinned_by=pinned.group, groups=tuple(positions))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def safe_trim_point(target: str | AsyncClient, stream: str) -> SafePoint | None:
    """The safe trim point of ``stream`` now, read-only (None: no groups or no stream: trim nothing).

    Groups move while you look: to trim, use :func:`redisguard.streams.trim_safe`/``atrim_safe``, which
    compute and trim in one atomic script.
    """
    client, owned = await resolve_client(target)
    try:
        try:
            raw_groups = await client.xinfo_groups(stream)
        except rex.ResponseError:
            return None
        groups = []
        for raw in raw_groups:
            group = StreamGroup(name=_text(raw["name"]), consumers=int(raw["consumers"]),
                                pending=int(raw["pending"]), last_delivered_id=_text(raw["last-delivered-id"]))
            if group.pending:
                summary = await client.xpending(stream, group.name)
                group.oldest_pending_id = _text(summary["min"]) if summary.get("min") else None
            groups.append(group)
        return safe_point_of_groups(groups)
    finally:
        if owned:
            await client.aclose()


# Computes the safe point from the live group state and trims before it, atomically (one script call),
# so no group can move between the computation and the trim. Returns {point or false, trimmed}.
# ARGV[1]: "~" (approximate, whole macro nodes) or "=" (exact); ARGV[2]: LIMIT for "~" (0 = default).
TRIM_SCRIPT = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {false, 0} end
local groups = redis.call('XINFO', 'GROUPS', key)
if #groups == 0 then return {false, 0} end
local best_ms, best_seq = nil, nil
for _, g in ipairs(groups) do
  local name, pending, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1]
    elseif g[i] == 'pending' then pending = tonumber(g[i + 1])
    elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  local ms, seq
  if pending > 0 then
    local summary = redis.call('XPENDING', key, name)
    local dash = string.find(summary[2], '-')
    ms = tonumber(string.sub(summary[2], 1, dash - 1))
    seq = tonumber(string.sub(summary[2], dash + 1))
  else
    local dash = string.find(last, '-')
    ms = tonumber(string.sub(last, 1, dash - 1))
    seq = tonumber(string.sub(last, dash + 1)) + 1
  end
  if best_ms == nil or ms < best_ms or (ms == best_ms and seq < best_seq) then
    best_ms, best_seq = ms, seq
  end
end
local point = string.format('%.0f-%.0f', best_ms, best_seq)
local trimmed
if ARGV[1] == '~' and tonumber(ARGV[2]) > 0 then
  trimmed = redis.call('XTRIM', key, 'MINID', '~', point, 'LIMIT', ARGV[2])
else
  trimmed = redis.call('XTRIM', key, 'MINID', ARGV[1], point)
end
return {point, trimmed}
"""
