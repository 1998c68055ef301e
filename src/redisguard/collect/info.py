"""INFO, kept section by section as the server's own text values."""

from __future__ import annotations

import redis

from redisguard.collect.probe import Probe, reason_for
from redisguard.collect.raw import raw_replies

__all__ = ["collect_info", "parse_info_text"]


def parse_info_text(text: str) -> dict[str, dict[str, str]]:
    """``# Memory\\nused_memory:123`` -> ``{"memory": {"used_memory": "123"}}``.

    redis-py's own parser flattens the sections; the snapshot keeps them for the report.
    """
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("default", {})
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = sections.setdefault(line.lstrip("# ").strip().lower(), {})
            continue
        name, sep, value = line.partition(":")
        if sep:
            current[name] = value
    if not sections["default"]:
        del sections["default"]
    return sections


def collect_info(client: redis.Redis, probe: Probe) -> dict[str, dict[str, str]]:
    with raw_replies(client, "INFO"):
        return _collect_info(client, probe)


def _collect_info(client: redis.Redis, probe: Probe) -> dict[str, dict[str, str]]:
    for section in ("everything", "all", None):  # "everything" includes modules; older servers lack it
        args = ("INFO", section) if section else ("INFO",)
        try:
            raw = client.execute_command(*args)
        except redis.exceptions.ResponseError as exc:
            if "syntax" in str(exc).lower() or "wrong number" in str(exc).lower():
                continue
            probe.note("INFO", reason_for(exc, "INFO"))
            return {}
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return parse_info_text(text)
    return {}
