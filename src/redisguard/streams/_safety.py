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

from redisguard._wire.decode import text
from redisguard.snapshot import StreamGroup
from redisguard.streams._clients import AsyncClient, resolve_client
from redisguard.streams._ids import StreamId, format_id, next_id, parse_id

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


_text = text  # the wire layer's one decode helper


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
# ARGV[1]: "~" (approximate, whole macro nodes) or "=" (exact); ARGV[2]: LIMIT for "~" (0 = default);
# ARGV[3]: "xdel" for an exact trim on Redis < 7.0 (see below), else "xtrim".
# Ids are compared and incremented as decimal strings, never through tonumber(): Lua numbers are doubles,
# exact only up to 2^53, and ids go up to 2^64 - 1 in both parts (same rules as ids.py).
TRIM_SCRIPT = """
local MAX = '18446744073709551615'
local function less(a, b)  -- decimal strings without leading zeros, as Redis prints them
  if #a ~= #b then return #a < #b end
  return a < b
end
local function incr(s)
  local i = #s
  while i > 0 and string.sub(s, i, i) == '9' do i = i - 1 end
  if i == 0 then return '1' .. string.rep('0', #s) end
  return string.sub(s, 1, i - 1) .. string.char(string.byte(s, i) + 1) .. string.rep('0', #s - i)
end
local function split(id)
  local dash = string.find(id, '-', 1, true)
  return string.sub(id, 1, dash - 1), string.sub(id, dash + 1)
end
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {false, 0} end
local groups = redis.call('XINFO', 'GROUPS', key)
if #groups == 0 then return {false, 0} end
local best_ms, best_seq = nil, nil
for _, g in ipairs(groups) do
  local name, pending, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1]
    elseif g[i] == 'pending' then pending = g[i + 1]
    elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  local ms, seq
  if pending > 0 then
    ms, seq = split(redis.call('XPENDING', key, name)[2])
  else
    ms, seq = split(last)
    if seq ~= MAX then seq = incr(seq)
    elseif ms ~= MAX then ms, seq = incr(ms), '0' end  -- MAX-MAX has no next id: keep it (trims less)
  end
  if best_ms == nil or less(ms, best_ms) or (ms == best_ms and less(seq, best_seq)) then
    best_ms, best_seq = ms, seq
  end
end
local point = best_ms .. '-' .. best_seq
local trimmed
if ARGV[1] == '=' and ARGV[3] == 'xdel' then
  -- Redis 6.2's exact MINID trim also deletes entries at or after the point whose id differs from the
  -- first of its node by 2^32 - 1 or more (seq or ms: 49.7 days). Whole nodes (~) are removed correctly
  -- there: remove those, then delete the rest before the point by id (at most 1,000 a call).
  trimmed = redis.call('XTRIM', key, 'MINID', '~', point)
  local rest = redis.call('XRANGE', key, '-', '(' .. point, 'COUNT', 1000)
  if #rest > 0 then
    local ids = {}
    for i, entry in ipairs(rest) do ids[i] = entry[1] end
    trimmed = trimmed + redis.call('XDEL', key, unpack(ids))
  end
elseif ARGV[1] == '~' and tonumber(ARGV[2]) > 0 then
  trimmed = redis.call('XTRIM', key, 'MINID', '~', point, 'LIMIT', ARGV[2])
else
  trimmed = redis.call('XTRIM', key, 'MINID', ARGV[1], point)
end
return {point, trimmed}
"""
