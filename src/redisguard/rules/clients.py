"""Clients: idle connection leaks, output buffers that grow (slow pub/sub readers, MONITOR), maxclients."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot
from redisguard.units import fmt_bytes

__all__ = ["idle_clients", "near_maxclients", "output_buffers"]


@rule
def idle_clients(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    summary = node.clients
    if summary is None:
        return
    idle = summary.idle_for_at_least(t.idle_client_s)
    idle_groups = [g for g in summary.groups if g.max_idle_s >= t.idle_client_s]
    if idle < t.idle_clients_count:
        return
    timeout = node.config.get("timeout")
    fixes = []
    if timeout == "0":
        fixes.append(Fix.redis('CONFIG', 'SET', 'timeout', '300', node=node.address, risk=
                         "connections idle for 5 minutes are closed: pools must reconnect (most do)"))
    fixes.append(Fix.manual("cap the application's connection pool size and close clients on shutdown",
                     "none to Redis"))
    per_client = summary.total_mem // summary.count if summary.count else 0
    yield Finding(
        id="clients.idle", severity=Severity.WARNING, node=node.address,
        title=f"{idle} clients idle for ≥ {t.idle_client_s} s (of {summary.count}): a connection leak"
              + (" and timeout is 0, so they are never closed" if timeout == "0" else ""),
        evidence={"connected_clients": summary.count, "idle_clients": idle, "timeout": timeout,
                  "groups": "; ".join(f"{g.group}: {g.count}" for g in idle_groups[:5]) or None},
        bytes_at_stake=idle * per_client, fixes=fixes,
    )


@rule
def output_buffers(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    summary = node.clients
    if summary is None:
        return
    heavy = [c for c in summary.top_by_memory if c.omem >= t.client_omem_bytes and "S" not in c.flags]
    if not heavy:
        return
    total = sum(c.omem for c in heavy)
    kinds = ", ".join(sorted({"MONITOR" if "O" in c.flags else "pub/sub" if "P" in c.flags else "normal"
                              for c in heavy}))
    fixes = [Fix.redis('CLIENT', 'KILL', 'ID', str(c.id),
                       node=node.address, risk=f"disconnects {c.addr} ({c.name or 'unnamed'}); it must reconnect")
             for c in heavy[:5]]
    fixes.append(Fix.redis('CONFIG', 'SET', 'client-output-buffer-limit',
                           'normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60', node=node.address, risk=
                     "subscribers that fall behind are disconnected instead of growing without bound"))
    if node.config.get("maxmemory-clients") in ("0", None) and node.server.at_least(redis=(7, 0)):
        fixes.append(Fix.redis('CONFIG', 'SET', 'maxmemory-clients', '5%', node=node.address, risk=
                         "Redis 7+/Valkey: evicts the clients using the most memory when all clients together pass it"))
    yield Finding(
        id="clients.output-buffers", severity=Severity.WARNING if total < node.used_memory * 0.1
        else Severity.CRITICAL, node=node.address,
        title=f"{len(heavy)} client(s) ({kinds}) hold {fmt_bytes(total)} of output buffers they are not reading",
        evidence={f"client {c.id} {c.addr}": f"omem {fmt_bytes(c.omem)}, flags {c.flags}, cmd {c.cmd}, "
                                             f"name {c.name or '-'}" for c in heavy[:10]},
        bytes_at_stake=total, fixes=fixes,
    )


@rule
def near_maxclients(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    connected = node.info_int("connected_clients")
    maxclients = int(node.config.get("maxclients") or node.info_int("maxclients") or 0)
    if not maxclients or connected < maxclients * t.maxclients_share:
        return
    yield Finding(
        id="clients.near-maxclients",
        severity=Severity.CRITICAL if connected >= maxclients * 0.95 else Severity.WARNING, node=node.address,
        title=f"{connected} of maxclients {maxclients} connections in use: new connections will be refused",
        evidence={"connected_clients": connected, "maxclients": maxclients},
        fixes=[Fix.redis('CONFIG', 'SET', 'maxclients', str(maxclients * 2), node=node.address, risk=
                   "each connection costs memory (about 20 KiB plus buffers); check the file-descriptor limit"),
               Fix.manual("find the application holding the connections: CLIENT LIST groups them by name and "
                          "address (the clients.* findings list the biggest)", "read-only")],
    )
