"""The doctor's key analysis: a bounded sample (or, when it fits, a full scan) as a :class:`KeySample`."""

from __future__ import annotations

import redis

from redisguard.keynames import to_text
from redisguard.keyspace.aggregate import Aggregator
from redisguard.keyspace.patterns import cut
from redisguard.keyspace.scan import ScanSettings, scan_client
from redisguard.snapshot import BigKey, KeySample, PatternSample

__all__ = ["sample_for_doctor"]


def _text(value: bytes | None) -> str:
    return "unknown" if value is None else value.decode("utf-8", "replace")


def sample_for_doctor(client: redis.Redis, *, max_keys: int, db: int = 0) -> KeySample:
    """Look at up to ``max_keys`` keys of ``db`` through ``client`` (a standalone server or one node).

    When the database holds at most ``max_keys`` keys it is scanned in full (``exact=True``);
    otherwise ``max_keys`` uniform draws (RANDOMKEY, with replacement) are analysed, so the counts in
    ``patterns`` scaled by ``keyspace_size / scanned`` are unbiased estimates. ``big_keys`` are the 10
    biggest keys seen, with their element counts.
    """
    current = int(client.connection_pool.connection_kwargs.get("db", 0) or 0)
    settings = ScanSettings(sample=max(1, max_keys), db=None if db == current else db, top_k=10)
    scan = scan_client(client, settings, address=str(client.connection_pool.connection_kwargs.get("host", "")))
    agg: Aggregator = scan.aggregator
    patterns: dict[str, list[int]] = {}
    by_type: dict[str, int] = {}
    bytes_by_type: dict[str, int] = {}
    with_ttl = 0
    sampled_bytes = 0
    for (pattern, typ, _enc, bucket), (count, size, *_) in agg.combos.items():
        row = patterns.setdefault(cut(pattern, agg.depth), [0, 0, 0])
        row[0] += count
        row[1] += size
        if bucket == 0:
            row[2] += count
        else:
            with_ttl += count
        by_type[_text(typ)] = by_type.get(_text(typ), 0) + count
        bytes_by_type[_text(typ)] = bytes_by_type.get(_text(typ), 0) + size
        sampled_bytes += size
    big = [BigKey(key=to_text(key), type=_text(typ), bytes=size, length=length,
                  encoding=None if enc is None else _text(enc), ttl_ms=None if pttl < 0 else pttl)
           for typ, heap in agg.heaps.items() for size, key, enc, pttl, length in heap]
    big.sort(key=lambda item: (-item.bytes, item.key))
    return KeySample(
        db=db, scanned=agg.seen, keyspace_size=scan.dbsize, sampled_bytes=sampled_bytes, with_ttl=with_ttl,
        by_type=by_type, bytes_by_type=bytes_by_type, big_keys=big[:10],
        patterns=[PatternSample(pattern=name, keys=row[0], bytes=row[1], no_ttl=row[2])
                  for name, row in sorted(patterns.items(), key=lambda item: (-item[1][1], item[0]))],
        vanished=agg.vanished, exact=scan.mode == "full",
    )
