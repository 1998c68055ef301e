"""Bulk EXPIRE and UNLINK over 1,000,000 keys: exactly the matching keys, TTLs within the jitter window.

Run once, on the newest server under test (the other versions run the same code paths on smaller
keyspaces in test_fix_actions.py); bounded to a few minutes on a shared 2-core machine."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.conftest import BINARIES
from tests.fix_data import fill_strings, run_json

from redisguard._wire.pipe import RawPipe
from redisguard._wire.resp import keyed
from redisguard.localserver import LocalServer

MATCHING = 1_000_000
OTHERS = 100_000


def _pttls(client, pattern: str) -> list[int]:
    """Every matching key's PTTL, pipelined as raw RESP (redis-py's packing took 13 s per million keys)."""
    out: list[int] = []
    keys = list(client.scan_iter(pattern, count=5000))
    pttl = keyed(b"PTTL")
    with RawPipe(client) as pipe:
        for start in range(0, len(keys), 20_000):
            chunk = keys[start:start + 20_000]
            pipe.send(b"".join([pttl(key) for key in chunk]), len(chunk))
            out += pipe.read_many(len(chunk))
    assert all(isinstance(ttl, int) for ttl in out), "an error reply among the PTTLs"
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bulk_expire_and_unlink_over_a_million_keys(make_server, redis_binary, tmp_path: Path) -> None:
    if redis_binary != BINARIES[0]:
        pytest.skip("the 1M-key run is done once, on the newest server under test")
    srv: LocalServer = make_server()
    with srv.client() as client:
        fill_strings(client, "session:", MATCHING)
        fill_strings(client, "user:", OTHERS)
        client.set("session:kept", "v", ex=500_000)
        began = time.monotonic()
        code, out = run_json("fix", srv.url, "--only", "expire", "--expire-pattern", "session:*", "--ttl", "7200",
                             "--jitter", "0.25", "--key-sample", "0", "--max-impact", "2", "--apply", "--yes",
                             "--audit", str(tmp_path / "expire.jsonl"))
        assert code == 0, out
        assert out["results"][0]["detail"] == f"{MATCHING} keys given a TTL"
        ttls = _pttls(client, "session:*")
        # Every TTL was set after `began`, so at most this much of it has run down (however loaded the machine).
        elapsed_ms = int((time.monotonic() - began) * 1000) + 1000
        assert len(ttls) == MATCHING + 1
        window = [t for t in ttls if t <= 9_000_000 + 1000]
        assert len(window) == MATCHING and min(window) >= 7_200_000 - elapsed_ms  # never below the jitter window
        assert max(window) > 9_000_000 * 0.999 - elapsed_ms and len({t // 60_000 for t in window}) > 20  # spread
        assert next(t for t in ttls if t > 9_001_000) > 400_000_000  # the key that had a TTL kept its own
        assert set(_pttls(client, "user:*")) == {-1}
        code, out = run_json("fix", srv.url, "--only", "delete", "--delete-pattern", "session:*", "--key-sample", "0",
                             "--max-impact", "2", "--apply", "--yes", "--audit", str(tmp_path / "unlink.jsonl"))
        assert code == 0, out
        assert out["results"][0]["detail"] == f"{MATCHING + 1} keys deleted"
        assert client.dbsize() == OTHERS and not list(client.scan_iter("session:*", count=10_000))
