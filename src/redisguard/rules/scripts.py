"""Lua/function memory: scripts cached without bound (usually scripts built with inline values)."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot
from redisguard.units import fmt_bytes

__all__ = ["script_memory"]


@rule
def script_memory(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    scripts = node.info_int("used_memory_scripts") or node.info_int("used_memory_scripts_eval")
    lua_vm = node.info_int("used_memory_lua") or node.info_int("used_memory_vm_eval")
    cached = node.info_int("number_of_cached_scripts")
    if scripts + lua_vm < t.scripts_bytes and cached < t.cached_scripts:
        return
    yield Finding(
        id="scripts.cache-growth", severity=Severity.WARNING, node=node.address,
        title=f"{cached} cached Lua scripts using {fmt_bytes(scripts + lua_vm)}: scripts are probably generated "
              "with values inlined, so every call caches a new one",
        evidence={"number_of_cached_scripts": cached, "used_memory_scripts": scripts, "used_memory_lua": lua_vm},
        bytes_at_stake=scripts + lua_vm,
        fixes=[Fix.manual("pass values through KEYS/ARGV so one script serves every call", "an application change"),
               Fix.redis('SCRIPT', 'FLUSH', 'ASYNC',
                         node=node.address, risk="clients get NOSCRIPT on EVALSHA until they reload (redis-py does)")],
    )
