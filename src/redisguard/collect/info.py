"""INFO, kept section by section as the server's own text values."""

from __future__ import annotations

import redis

from redisguard._wire.info import parse_info_text
from redisguard.collect.gaps import Gaps, reason_for
from redisguard.collect.raw import raw_replies

__all__ = ["collect_info", "parse_info_text"]


def collect_info(client: redis.Redis, gaps: Gaps) -> dict[str, dict[str, str]]:
    with raw_replies(client, "INFO"):
        return _collect_info(client, gaps)


def _collect_info(client: redis.Redis, gaps: Gaps) -> dict[str, dict[str, str]]:
    for section in ("everything", "all", None):  # "everything" includes modules; older servers lack it
        args = ("INFO", section) if section else ("INFO",)
        try:
            raw = client.execute_command(*args)
        except redis.exceptions.ResponseError as exc:
            if "syntax" in str(exc).lower() or "wrong number" in str(exc).lower():
                continue
            gaps.note("INFO", reason_for(exc, "INFO"))
            return {}
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return parse_info_text(text)
    return {}
