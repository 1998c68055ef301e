"""Connections retry only connection failures: an OOM or NOPERM reply is sent once, never repeated."""

from __future__ import annotations

import pytest
import redis

from redisguard.connect import ConnectionOptions, open_client
from redisguard.localserver import LocalServer


def _errorstat(client: redis.Redis, name: str) -> int:
    stats = client.info("errorstats")
    return int(stats.get(f"errorstat_{name}", {}).get("count", 0))


def test_oom_reply_is_not_retried(make_server) -> None:
    srv: LocalServer = make_server(maxmemory_policy="noeviction")
    with srv.client() as admin:
        admin.set("filler", "x" * 2 * 1024 * 1024)
        admin.config_set("maxmemory", "1mb")  # now over the limit: the next write is refused
        before = _errorstat(admin, "OOM")
        client = open_client(ConnectionOptions.build(srv.url, retries=5))
        try:
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                client.set("one-more", "y")
        finally:
            client.close()
        assert _errorstat(admin, "OOM") == before + 1


def test_noperm_reply_is_not_retried(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as admin:
        admin.execute_command("ACL", "SETUSER", "reader", "on", ">pw", "~*", "-@all", "+ping", "+hello",
                              "+client|setname", "+get")
        admin.execute_command("ACL", "LOG", "RESET")
        client = open_client(ConnectionOptions.build(srv.url, username="reader", password="pw", retries=5))
        try:
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.set("k", "v")
        finally:
            client.close()
        log = admin.acl_log()
        assert len(log) == 1, log  # one denial, not one per retry (and none for the connection set-up)
        assert str(log[0]["object"]).lower() == "set"
        assert int(log[0]["count"]) == 1
