"""Keys (from the keyspace sample): cache-like patterns without TTL, and big keys."""

from __future__ import annotations

import re
from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot
from redisguard.units import fmt_bytes

__all__ = ["CACHE_LIKE", "big_keys", "cache_keys_without_ttl"]

CACHE_LIKE = re.compile(r"(cache|session|sess\b|sid\b|tmp|temp|token|otp|nonce|ratelimit|rate[-_:]?limit|"
                        r"throttle|lock|csrf|captcha|preview|thumb)", re.IGNORECASE)


@rule
def cache_keys_without_ttl(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    sample = node.key_sample
    if sample is None or not sample.ttl_visible:
        return
    for pattern in sample.patterns:
        if not CACHE_LIKE.search(pattern.pattern) or pattern.keys == 0:
            continue
        if pattern.types.get("stream"):
            continue  # a stream is a queue, whatever its name: an EXPIRE would drop unprocessed entries
        share = pattern.no_ttl_share
        if share < t.no_ttl_share:
            continue
        evidence: dict[str, str | int | float | bool | None] = {
            "pattern": pattern.pattern, "keys_seen": pattern.seen, "without_ttl": pattern.no_ttl,
            "bytes": pattern.bytes, "sampled": not sample.exact, "estimated_keys": pattern.keys,
        }
        if not sample.exact and pattern.keys_low is not None and pattern.keys_high is not None:
            evidence["estimated_keys_95ci"] = f"{pattern.keys_low:,.0f}-{pattern.keys_high:,.0f}"
        yield Finding(
            id="keys.cache-without-ttl", severity=Severity.WARNING, node=node.address,
            title=f"{share:.0%} of keys like {pattern.pattern} look like cache/session data but never expire",
            evidence=evidence,
            bytes_at_stake=int(pattern.bytes * share),
            fixes=[Fix.manual("set a TTL where these keys are written (SET key value EX <seconds>)",
                              "keys expire: readers must tolerate a miss"),
                   Fix.redisguard("keys", "--pattern", pattern.pattern, node=node.address,
                                  risk="read-only: lists the existing keys of this pattern")],
        )


@rule
def big_keys(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    sample = node.key_sample
    if sample is None:
        return
    big = [key for key in sample.biggest() if key.bytes >= t.big_key_bytes]
    if not big:
        return
    yield Finding(
        id="keys.big-keys", severity=Severity.WARNING, node=node.address,
        title=f"{len(big)} key(s) of ≥ {fmt_bytes(t.big_key_bytes)}, the largest {big[0].key} at "
              f"{fmt_bytes(big[0].bytes)}: big keys block Redis when deleted or read whole",
        evidence={f"{k.type} {k.key}": f"{fmt_bytes(k.bytes)}, {k.length} elements, {k.encoding}"
                  for k in big[:10]},
        bytes_at_stake=sum(key.bytes for key in big),
        fixes=[Fix.redis("UNLINK", key.key, node=node.write_address,
                         risk="deletes the key (in the background): the data is gone")
               for key in big[:3]]
        + [Fix.manual("split big hashes/sets/lists into buckets (key:{id % N})", "an application change")],
    )
