"""The server-side scripts a fix may run (the guard only lets these through EVALSHA)."""

from __future__ import annotations

from redisguard.remedy.guard import register_script
from redisguard.streams._safety import TRIM_SCRIPT

__all__ = ["DELCONSUMER_SCRIPT", "DELCONSUMER_SHA", "TRIM_SCRIPT", "TRIM_SHA"]

TRIM_SHA = register_script(TRIM_SCRIPT)

# Removes consumer ARGV[2] of group ARGV[1] only if it holds no pending entry right now (XGROUP
# DELCONSUMER would silently drop its pending entries). Returns 1 removed, 0 gone, -1 it holds entries.
DELCONSUMER_SCRIPT = """
local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
for _, c in ipairs(consumers) do
  local name, pending
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = tonumber(c[i + 1]) end
  end
  if name == ARGV[2] then
    if pending > 0 then return -1 end
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
    return 1
  end
end
return 0
"""
DELCONSUMER_SHA = register_script(DELCONSUMER_SCRIPT)
