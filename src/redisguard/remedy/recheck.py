"""What the server looks like now, in the terms a saved plan recorded (read-only)."""

from __future__ import annotations

import redis
import redis.exceptions as rex

from redisguard.keynames import to_bytes, to_text
from redisguard.remedy.live import ConfigNotVisible, read_config
from redisguard.remedy.plan import Seen

__all__ = ["seen_now"]


def seen_now(client: redis.Redis, planned: Seen) -> Seen:
    server = client.info("server")
    memory = client.info("memory")
    role = client.info("replication").get("role", "master")
    try:
        config = read_config(client, list(planned.config)) if planned.config else {}
    except ConfigNotVisible:
        config = {}
    streams: dict[str, list[str]] = {}
    for key in planned.streams:
        try:
            groups = client.xinfo_groups(to_bytes(key))
        except rex.ResponseError:
            continue  # gone, or not a stream any more
        streams[key] = sorted(to_text(group["name"]) for group in groups)
    return Seen(run_id=str(server.get("run_id", "")), role="primary" if role == "master" else "replica",
                version=planned.version, used_memory=int(memory.get("used_memory", 0)),
                maxmemory=int(memory.get("maxmemory", 0)), config=config, streams=streams)
