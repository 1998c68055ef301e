"""doctor is read-only and works under the least-privilege ACL user that `redisguard acl` prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import redis

from redisguard.connect.acl import acl_setuser_line
from redisguard.localserver import LocalServer

REDISGUARD = [sys.executable, "-m", "redisguard"]
WRITE_OR_DANGEROUS = ("keys", "flushall", "flushdb", "debug", "monitor", "config|set", "set", "del", "unlink",
                      "xadd", "xack", "xtrim", "xdel", "xgroup", "xclaim", "xautoclaim", "expire", "hset")


def _load(client: redis.Redis) -> None:
    client.set("plain", "v")
    client.set("session:1", "s", ex=1000)
    client.hset("user:1", mapping={"name": "ada", "role": "admin"})
    client.rpush("queue", *range(50))
    for index in range(120):
        client.xadd("events", {"n": str(index)})
    client.xgroup_create("events", "indexers", id="0")
    client.xreadgroup("indexers", "i1", {"events": ">"}, count=40)


def _expires_at_ms(client: redis.Redis, key: bytes) -> int:
    """Absolute expiry in ms: TIME and PTTL in one round trip, so a busy machine cannot skew the sum."""
    pipe = client.pipeline(transaction=True)
    pipe.time()
    pipe.pttl(key)
    (seconds, micros), pttl = pipe.execute()
    return int(seconds) * 1000 + int(micros) // 1000 + pttl if pttl >= 0 else int(pttl)


def _state(client: redis.Redis) -> dict[str, object]:
    keys = sorted(client.scan_iter(count=1000))
    return {
        "dump": {key: client.dump(key) for key in keys},
        # absolute expiry in ms (the remaining TTL moves on while doctor runs); compared with a tolerance
        "expires_at_ms": {key: _expires_at_ms(client, key) for key in keys},
        "dbsize": client.dbsize(),
        "groups": client.xinfo_groups("events"),
        "pending": client.xpending("events", "indexers"),
        "consumers": [(c["name"], c["pending"]) for c in client.xinfo_consumers("events", "indexers")],
    }


def _commands(client: redis.Redis) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in client.info("commandstats").items()}


@pytest.mark.parametrize("with_config", [False, True], ids=["acl", "acl-with-config"])
def test_doctor_under_least_privilege_user_is_read_only(make_server, with_config: bool) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="noeviction")
    admin = srv.client()
    _load(admin)
    line = acl_setuser_line("diag", with_config=with_config, password="diag-pw-123")
    assert line.startswith("ACL SETUSER diag ")
    admin.execute_command(*line.split())
    admin.execute_command("ACL", "LOG", "RESET")
    before, calls_before = _state(admin), _commands(admin)
    url = f"redis://diag:diag-pw-123@127.0.0.1:{srv.port}/0"
    result = subprocess.run([*REDISGUARD, "doctor", url, "--json"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode in (0, 1, 2), result.stderr
    report = json.loads(result.stdout)
    assert "diag-pw-123" not in result.stdout + result.stderr
    # The same user through --user/--password, and the streams and keys it needed were seen.
    by_option = subprocess.run([*REDISGUARD, "doctor", f"redis://127.0.0.1:{srv.port}/0", "--user", "diag",
                                "--password", "diag-pw-123", "--json"], capture_output=True, text=True,
                               timeout=120, check=False)
    assert by_option.returncode == result.returncode, by_option.stderr
    assert report["nodes"][0]["streams"] == 1
    assert report["nodes"][0]["key_sample"]["scanned"] == 5
    # Fewer draws than keys: the sample is drawn with RANDOMKEY, which the user must be allowed too.
    sampled = subprocess.run([*REDISGUARD, "doctor", url, "--json", "--key-sample", "3"], capture_output=True,
                             text=True, timeout=120, check=False)
    assert sampled.returncode == result.returncode, sampled.stderr
    sample = json.loads(sampled.stdout)["nodes"][0]["key_sample"]
    assert (sample["scanned"], sample["exact"], sample["keyspace_size"]) == (3, False, 5)
    calls_after = _commands(admin)
    after = _state(admin)
    expiry_before, expiry_after = before.pop("expires_at_ms"), after.pop("expires_at_ms")
    assert after == before  # every key byte-identical, same stream/group/pending/consumer state
    assert expiry_before.keys() == expiry_after.keys()  # type: ignore[attr-defined]
    for key, expires in expiry_before.items():  # type: ignore[attr-defined]
        assert abs(expiry_after[key] - expires) <= 5, key  # type: ignore[index]  # same expiry, +-clock rounding
    ran = {name for name, calls in calls_after.items() if calls > calls_before.get(name, 0)}
    forbidden = {name for name in ran if name.split("|")[0] in WRITE_OR_DANGEROUS or name in WRITE_OR_DANGEROUS}
    assert forbidden == set(), forbidden
    denied = {str(entry["object"]) for entry in admin.acl_log()}
    gaps = {gap["what"] for gap in report["not_visible"]}
    if with_config:
        assert denied == set()
        assert gaps == set()
    else:
        assert denied in ({"config|get"}, {"config"})  # 7.0 logs the subcommand, 6.2 the command
        assert gaps == {"CONFIG GET"}
    admin.close()


def test_acl_command_prints_the_line() -> None:
    result = subprocess.run([*REDISGUARD, "acl"], capture_output=True, text=True, timeout=60, check=False,
                            env={**os.environ})
    assert result.returncode == 0
    assert result.stdout.startswith("ACL SETUSER redisguard reset on ><password> ~* resetchannels -@all ")
    assert "+config|get" not in result.stdout
    for dangerous in ("+keys", "+flushall", "+debug", "+monitor", "+config|set", "+set ", "+@write"):
        assert dangerous not in result.stdout
    with_config = subprocess.run([*REDISGUARD, "acl", "--with-config"], capture_output=True, text=True,
                                 timeout=60, check=False)
    assert "+config|get" in with_config.stdout
