"""Read what a plan needs from the live server (read-only): the snapshot as doctor collects it, plus the
full client list, every stream's safe trim count, and the keys a pattern matches."""

from __future__ import annotations

from typing import Any

import redis
import redis.exceptions as rex

from redisguard.collect.clients import _entry  # the one CLIENT LIST parser
from redisguard.collect.node import collect_node
from redisguard.connect import ConnectionOptions, Node
from redisguard.keynames import to_bytes, to_text
from redisguard.keyspace import doctor_key_sampler
from redisguard.remedy.bulk import KEY_PTTL, KEY_TYPE, KEY_USAGE, BatchRunner
from redisguard.remedy.entrysize import entry_bytes
from redisguard.remedy.facts import Facts, FixOptions, PatternFacts, StreamFacts
from redisguard.remedy.live import ConfigNotVisible, read_config
from redisguard.remedy.version import ServerVersion
from redisguard.snapshot import ClientEntry, NodeSnapshot, StreamInfo
from redisguard.streams import plan_trim

__all__ = ["CONFIG_NAMES", "collect", "gather"]

CONFIG_NAMES = ("maxmemory", "maxmemory-policy", "lazyfree-lazy-eviction", "lazyfree-lazy-expire",
                "lazyfree-lazy-server-del", "lazyfree-lazy-user-del", "timeout", "client-output-buffer-limit",
                "activedefrag", "save", "appendonly", "appendfsync", "stream-node-max-bytes",
                "stream-node-max-entries")
_SAMPLE_ENTRIES = 100


def collect(conn: ConnectionOptions, key_sample: int) -> NodeSnapshot:
    """The node's snapshot, collected as doctor does (this node only, even in a cluster)."""
    node, _probe = collect_node(Node(conn.display, "primary", conn),
                                key_sampler=doctor_key_sampler(key_sample) if key_sample else None)
    return node


def _clients(client: redis.Redis, denied: list[str]) -> tuple[list[ClientEntry], int]:
    """Every other client and our own id; none where CLIENT ID or CLIENT LIST is denied (noted in ``denied``)."""
    own, raw = 0, None
    try:
        own = int(client.client_id())
    except rex.NoPermissionError:
        denied.append("client|id")
    try:
        raw = list(client.client_list())
    except rex.NoPermissionError:
        denied.append("client|list")
    if raw is None or not own:
        return [], own
    return [_entry(item) for item in raw if int(item.get("id", 0)) != own], own


def _info(client: redis.Redis, section: str, denied: list[str]) -> dict[str, Any]:
    try:
        return dict(client.info(section))
    except rex.NoPermissionError:
        if "info" not in denied:
            denied.append("info")
        return {}


def _entry_bytes(client: redis.Redis, key: bytes, start: str, config: dict[str, str], legacy: bool) -> float:
    rows: Any = client.xrange(key, min=start, count=_SAMPLE_ENTRIES)
    first: Any = client.xrange(key, count=1)
    master = list(first[0][1]) if first else None
    return entry_bytes([dict(fields) for _, fields in rows], master,
                       int(config.get("stream-node-max-bytes", "4096") or 4096),
                       int(config.get("stream-node-max-entries", "100") or 100), legacy=legacy)


def _stream(client: redis.Redis, stream: StreamInfo, options: FixOptions, config: dict[str, str],
            version: ServerVersion) -> StreamFacts:
    """What trimming the stream would remove, planned by the streams library (read-only)."""
    key = to_bytes(stream.key)
    safe = plan_trim(client, key)
    point = safe.health.safe_point
    try:
        per_entry = _entry_bytes(client, key, stream.first_id or "-", config, legacy=version.redis_compatible < (7, 0))
    except rex.NoPermissionError:  # XRANGE denied (redis_exporter's ACL): MEMORY USAGE / XLEN, a coarser mean
        per_entry = (stream.memory_bytes or 0) / max(stream.length, 1)
    facts = StreamFacts(key=stream.key, safe_point=safe.cut_point, pinned_by=None if point is None else point.pinned_by,
                        trimmable=safe.entries_to_free.value, capped=not safe.entries_to_free.exact,
                        entry_bytes=per_entry)
    if options.drop_unprocessed and options.maxlen is not None:
        emergency = plan_trim(client, key, drop_unprocessed=True, maxlen=options.maxlen)
        if emergency.cut_point is not None:
            facts.cut_point = emergency.cut_point
            facts.dropped = emergency.entries_to_free.value
            facts.losses = {loss.group: loss.unprocessed_lost.value for loss in emergency.losses}
    return facts


def measure_pattern(client: redis.Redis, pattern: str, big: int, max_impact_ms: float | None) -> PatternFacts:
    """Keys matching ``pattern``: how many, how many without a TTL, their bytes, the aggregates over ``big``."""
    facts = PatternFacts(pattern=pattern, keys=0, without_ttl=0, bytes=0, ttl_bytes=0)
    with BatchRunner(client, max_impact_ms=max_impact_ms) as runner:
        for keys in runner.keys(to_bytes(pattern)):
            cmds = [part for key in keys for part in (KEY_USAGE(key), KEY_PTTL(key), KEY_TYPE(key))]
            replies = runner.run(cmds, {"memory": len(keys), "pttl": len(keys), "type": len(keys)})
            for at, key in enumerate(keys):
                size, pttl, kind = replies[3 * at: 3 * at + 3]
                if not isinstance(size, int):
                    continue  # gone since SCAN returned it
                facts.keys += 1
                facts.bytes += size
                if pttl == -1:
                    facts.without_ttl += 1
                    facts.ttl_bytes += size
                if size > big and kind in (b"hash", b"set", b"zset", b"list"):
                    facts.big.append((to_text(key), kind.decode(), size))
    return facts


def gather(client: redis.Redis, node: NodeSnapshot, options: FixOptions, expire_patterns: list[str],
           max_impact_ms: float | None) -> Facts:
    denied: list[str] = []
    server = {str(k): str(v) for k, v in _info(client, "server", denied).items()}
    memory = _info(client, "memory", denied)
    try:
        config = read_config(client, list(CONFIG_NAMES))
    except ConfigNotVisible as exc:
        config = dict(node.config)
        if not config and "permission" in str(exc).lower():  # denied by the ACL (not renamed away)
            denied.append("config|get")
    clients, own = _clients(client, denied)
    version = ServerVersion.from_info(server)
    streams = {s.key: _stream(client, s, options, config, version) for s in node.streams}
    patterns = {f"delete:{p}": measure_pattern(client, p, options.big, max_impact_ms) for p in options.delete_patterns}
    for pattern in expire_patterns:
        patterns[f"expire:{pattern}"] = measure_pattern(client, pattern, options.big, max_impact_ms)
    return Facts(node=node, version=version,
                 host_memory=options.memory or int(memory.get("total_system_memory", 0) or 0),
                 config=config, config_file=server.get("config_file", ""),
                 allocator=str(memory.get("mem_allocator", "")), run_id=server.get("run_id", ""),
                 self_id=own, clients=clients, streams=streams, patterns=patterns,
                 memory_source=options.memory_source, not_visible=denied)


def role_of(client: redis.Redis) -> tuple[str, str | None]:
    """(``master`` or ``slave``/``replica``, the primary's address for a replica). Raises
    ``NoPermissionError`` where the user may run neither ROLE nor INFO."""
    try:
        role = client.execute_command("ROLE")
    except rex.NoPermissionError:
        info = client.info("replication")
        if info.get("role") == "master":
            return "master", None
        return "slave", f"{info.get('master_host')}:{info.get('master_port')}"
    first = to_text(role[0])
    if first == "master":
        return "master", None
    return first, f"{to_text(role[1])}:{role[2]}"
