"""``redisguard exporter`` against real servers: values, labels, absent unknowns, multi-target, ACLs, a cluster
from one seed, a hung server, shared collections, and no password anywhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from tests.exporter_helpers import find, first_metrics, get, parse, running, settle

from redisguard.connect.acl import acl_setuser_line
from redisguard.localserver import free_port


def fill(admin, streams: int = 2, entries: int = 10, read: int = 4) -> None:
    for index in range(streams):
        key = f"orders:{index}"
        for _ in range(entries):
            admin.xadd(key, {"payload": "x" * 50})
        admin.xgroup_create(key, "billing", id="0")
        admin.xreadgroup("billing", "b1", {key: ">"}, count=read)
        admin.xack(key, "billing", *[entry[0] for entry in admin.xrange(key, count=1)])


@pytest.mark.min_redis(7, 0)
def test_values_match_info_and_stream_state(make_server) -> None:
    server = make_server(maxmemory="50mb")
    admin = server.client()
    fill(admin)
    admin.set("plain", "v" * 2_000_000)  # a dataset of a realistic share of used memory
    settle(admin)
    with running(server.url) as (base, _):
        series = parse(get(f"{base}/metrics"))
        info = admin.info("memory")
    (used,) = find(series, "redis_memory_used_bytes")
    assert abs(used - info["used_memory"]) <= 0.05 * info["used_memory"]
    assert find(series, "redis_memory_max_bytes") == [50 * 1024 * 1024]
    assert find(series, "redis_up") == [1.0]
    assert find(series, "redis_db_keys", db="db0") == [3.0]
    for index in range(2):
        labels = {"db": "db0", "stream": f"orders:{index}", "group": "billing"}
        assert find(series, "redis_stream_length", db="db0", stream=f"orders:{index}") == [10.0]
        assert find(series, "redis_stream_group_lag", **labels) == [6.0]  # 10 entries, 4 read
        assert find(series, "redis_stream_group_messages_pending", **labels) == [3.0]  # 4 read, 1 acked
        assert find(series, "redisguard_stream_memory_bytes", stream=f"orders:{index}")[0] > 0
        assert find(series, "redisguard_stream_oldest_pending_age_seconds", stream=f"orders:{index}")[0] >= 0
    headroom = find(series, "redisguard_memory_limit_headroom_bytes")[0]
    assert abs(headroom - (50 * 1024 * 1024 - info["used_memory"])) <= 0.05 * info["used_memory"]
    assert find(series, "redisguard_scrape_partial") == [0.0]
    assert all(dict(labels).get("node") == f"127.0.0.1:{server.port}"
               for (name, labels) in series if name.startswith("redis_stream"))


@pytest.mark.min_redis(7, 0)
def test_unknown_lag_is_absent_with_pending_still_exported(make_server) -> None:
    server = make_server()
    admin = server.client()
    ids = [admin.xadd("tomb", {"n": str(n)}) for n in range(5)]
    admin.xgroup_create("tomb", "g", id="0")
    admin.xreadgroup("g", "c", {"tomb": ">"}, count=2)
    admin.xdel("tomb", ids[3])  # a deletion after the group's position: Redis no longer knows the lag
    assert admin.xinfo_groups("tomb")[0]["lag"] is None
    with running(server.url) as (base, _):
        series = parse(get(f"{base}/metrics"))
    assert find(series, "redis_stream_group_lag", stream="tomb") == []
    assert find(series, "redis_stream_group_messages_pending", stream="tomb") == [2.0]
    assert find(series, "redisguard_stream_safe_trim_entries", stream="tomb") == []


def test_no_maxmemory_means_no_headroom_and_no_forecast(make_server) -> None:
    server = make_server()
    with running(server.url) as (base, _):
        for _ in range(8):
            series = parse(get(f"{base}/metrics"))
    assert find(series, "redis_memory_max_bytes") == [0.0]
    assert find(series, "redisguard_memory_limit_headroom_bytes") == []
    assert find(series, "redisguard_memory_seconds_to_limit") == []


def test_max_streams_counts_the_rest(make_server) -> None:
    server = make_server()
    fill(server.client(), streams=5, entries=2, read=1)
    with running(server.url, max_streams=3) as (base, _):
        series = parse(get(f"{base}/metrics"))
    assert len(find(series, "redis_stream_length")) == 3
    assert find(series, "redisguard_streams_found") == [5.0]
    assert find(series, "redisguard_streams_not_exported") == [2.0]


def test_consumer_series_only_when_asked(make_server) -> None:
    server = make_server()
    fill(server.client(), streams=1)
    with running(server.url) as (base, _):
        assert find(parse(get(f"{base}/metrics")), "redis_stream_group_consumer_messages_pending") == []
    with running(server.url, consumer_metrics=True) as (base, _):
        series = parse(get(f"{base}/metrics"))
    assert find(series, "redis_stream_group_consumer_messages_pending", consumer="b1") == [3.0]


def test_status_json_and_no_password_anywhere(make_server) -> None:
    secret = "Sup3r-s3cret-pw"
    server = make_server(password=secret, maxmemory="20mb")
    fill(server.client(), streams=1)
    port = free_port()
    env = {**os.environ, "REDISCLI_AUTH": secret}
    proc = subprocess.Popen(
        [sys.executable, "-m", "redisguard", "exporter", f"redis://127.0.0.1:{server.port}", "--listen",
         f"127.0.0.1:{port}", "--keys-interval", "1s"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        first_metrics(port, proc)  # it answers
        time.sleep(1.5)  # the background keyspace analysis has run once
        metrics = get(f"http://127.0.0.1:{port}/metrics")
        status = json.loads(get(f"http://127.0.0.1:{port}/status"))
        scraped = get(f"http://127.0.0.1:{port}/scrape?target=redis://default:{secret}@127.0.0.1:{server.port}")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert "redisguard_keys_pattern_bytes" in metrics
    assert "redis_up" in scraped
    (node,) = status["nodes"]
    assert node["up"] and node["memory"]["max_bytes"] == 20 * 1024 * 1024
    assert 0 < node["memory"]["share"] < 1 and node["keys"] == 1 and node["clients"] >= 1
    assert {"fragmentation_ratio", "rss_bytes"} <= set(node["memory"]) and "hit_rate" in node
    assert ("forecast" in node and node["findings"] == []) or isinstance(node["findings"], list)
    for text in (metrics, json.dumps(status), scraped, out, err):
        assert secret not in text
    assert proc.returncode == 0


def test_a_scrape_target_with_its_own_credentials_is_reached_with_them(make_server) -> None:
    """The exporter's password (for its own target) must not replace the one a /scrape URL names."""
    first, second = make_server(password="exporter-own-pw"), make_server(password="second-servers-pw")
    env = {**os.environ, "REDISCLI_AUTH": "exporter-own-pw"}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "redisguard", "exporter", f"redis://127.0.0.1:{first.port}",
                             "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first_metrics(port, proc)
        own = parse(get(f"http://127.0.0.1:{port}/scrape?target=redis://:second-servers-pw@127.0.0.1:{second.port}"))
        borrowed = parse(get(f"http://127.0.0.1:{port}/scrape?target=127.0.0.1:{second.port}"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert find(own, "redis_up") == [1.0]
    assert find(borrowed, "redis_up") == [0.0]  # no credentials of its own: the exporter's, which are wrong there


def test_multi_target_scrape(make_server) -> None:
    first, second = make_server(), make_server(maxmemory="30mb")
    with running(first.url) as (base, _):
        one = parse(get(f"{base}/scrape?target=127.0.0.1:{second.port}"))
        two = parse(get(f"{base}/scrape?target=redis://127.0.0.1:{first.port}"))
        with pytest.raises(urllib.error.HTTPError) as missing:
            get(f"{base}/scrape")
        missing.value.close()
    assert find(one, "redis_memory_max_bytes", node=f"127.0.0.1:{second.port}") == [30 * 1024 * 1024]
    assert find(two, "redis_memory_max_bytes", node=f"127.0.0.1:{first.port}") == [0.0]
    assert missing.value.code == 400


@pytest.mark.min_redis(7, 0)
def test_runs_under_the_exporter_acl_profile_with_nothing_denied(make_server) -> None:
    server = make_server()
    admin = server.client()
    fill(admin)
    admin.execute_command(*acl_setuser_line("exp", password="exp-pw", profile="exporter").split())
    url = f"redis://exp:exp-pw@127.0.0.1:{server.port}/0"
    with running(url, keys_interval=3600) as (base, exporter):
        series = parse(get(f"{base}/metrics"))
        deadline = time.monotonic() + 20
        while exporter.default.keyspace is None and time.monotonic() < deadline:
            time.sleep(0.1)
    assert exporter.default.keyspace is not None and exporter.default.keyspace.error is None
    assert find(series, "redis_up") == [1.0]
    assert find(series, "redisguard_not_visible") == []
    assert find(series, "redisguard_stream_oldest_pending_age_seconds", stream="orders:0")


@pytest.mark.min_redis(7, 0)
def test_redis_exporter_recommended_acl_degrades_family_by_family(make_server) -> None:
    server = make_server()
    admin = server.client()
    fill(admin)
    # redis_exporter's README line for a dedicated exporter user
    line = (
        "ACL SETUSER rx on >rx-pw ~* -@all +@connection +memory -readonly +strlen +config|get +xinfo +pfcount "
        "-quit +zcard +type +xlen -readwrite -command +client -wait +scard +llen +hlen +get +eval +slowlog "
        "+cluster|info +cluster|slots +cluster|nodes -hello -echo +info +latency +scan -reset -auth -asking"
    )
    admin.execute_command(*line.split())
    with running(f"redis://rx:rx-pw@127.0.0.1:{server.port}/0") as (base, _):
        series = parse(get(f"{base}/metrics"))
    assert find(series, "redis_up") == [1.0]
    assert find(series, "redis_stream_group_lag", stream="orders:0") == [6.0]
    assert find(series, "redis_stream_group_messages_pending", stream="orders:0") == [3.0]
    denied = {dict(labels)["command"] for (name, labels) in series if name == "redisguard_not_visible"}
    assert "XPENDING" in denied  # its family (oldest pending age) is absent, the rest is there
    assert find(series, "redisguard_stream_oldest_pending_age_seconds") == []


@pytest.mark.cluster
def test_cluster_from_one_seed_covers_every_primary(cluster) -> None:
    admin_nodes = cluster.primary_nodes
    import redis

    rc = redis.RedisCluster(host="127.0.0.1", port=admin_nodes[0].port)
    try:
        for index in range(30):
            rc.xadd(f"exp-cluster:{index}", {"v": "1"})
    finally:
        rc.close()
    with running(cluster.url) as (base, _):
        series = parse(get(f"{base}/metrics"))
    nodes = {dict(labels)["node"] for (name, labels) in series if name == "redis_memory_used_bytes"}
    assert nodes == {f"127.0.0.1:{node.port}" for node in admin_nodes}
    assert find(series, "redis_up") == [1.0, 1.0, 1.0]
    streams = {dict(labels)["stream"]: dict(labels)["node"] for (name, labels) in series
               if name == "redis_stream_length" and dict(labels)["stream"].startswith("exp-cluster:")}
    assert len(streams) == 30 and len(set(streams.values())) == 3


def test_hung_server_scrapes_return_within_the_timeout_without_piling_up(make_server) -> None:
    server = make_server()
    fill(server.client(), streams=1)
    admin = server.client()
    assert server.process is not None
    with running(server.url, scrape_timeout=1.0) as (base, _):
        assert find(parse(get(f"{base}/metrics")), "redis_up") == [1.0]
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            results = []
            for _ in range(6):
                began = time.monotonic()
                series = parse(get(f"{base}/metrics"))
                results.append((time.monotonic() - began, series))
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        for took, series in results:
            # The scrape timeout plus slack for a loaded machine, and still far from the 10 s command timeout a
            # scrape without its own deadline would wait on a paused server.
            assert took < 1.0 + 3.0
            assert find(series, "redis_up") == [0.0] or find(series, "redisguard_scrape_partial") == [1.0]
        deadline = time.monotonic() + 15
        while True:  # back to normal once the server runs again
            series = parse(get(f"{base}/metrics"))
            if find(series, "redis_up") == [1.0] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert find(series, "redis_up") == [1.0]
        time.sleep(0.5)
        clients = int(admin.info("clients")["connected_clients"])
    assert clients <= 2  # the exporter's one connection and this test's admin client


def test_concurrent_scrapes_share_one_collection(make_server) -> None:
    server = make_server()
    admin = server.client()
    assert server.process is not None
    # cache_ttl 3 s: a request that the handler thread delivers only after the shared collection ended
    # gets its result instead of starting another (the first scrape's result has expired by then)
    with running(server.url, scrape_timeout=10.0, cache_ttl=3.0) as (base, _):
        get(f"{base}/metrics")
        time.sleep(3.1)
        before = int(admin.info("commandstats")["cmdstat_info"]["calls"])
        connections = int(admin.info("stats")["total_connections_received"])
        os.kill(server.process.pid, signal.SIGSTOP)  # hold the first collection in flight
        try:
            threads = [threading.Thread(target=get, args=(f"{base}/metrics",)) for _ in range(8)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 10  # until the eight requests are being handled (waiting)
            while sum("process_request" in t.name for t in threading.enumerate()) < 8 \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        for thread in threads:
            thread.join(timeout=20)
        after = int(admin.info("commandstats")["cmdstat_info"]["calls"])
        assert int(admin.info("stats")["total_connections_received"]) == connections
    # eight scrapes, one collection: one INFO from the exporter plus this test's own INFO calls
    assert after - before == 1 + 2


def _start_exporter(url: str, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "redisguard", "exporter", url, "--listen", f"127.0.0.1:{port}",
                             "--keys-interval", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_unreachable_or_refused_target_is_redis_up_0_and_no_password_in_logs(make_server) -> None:
    server = make_server(password="right-password")
    wrong = "Wr0ng-pa55word"
    port = free_port()
    proc = _start_exporter(f"redis://default:{wrong}@127.0.0.1:{server.port}/0", port)
    try:
        metrics = first_metrics(port, proc)
        status = get(f"http://127.0.0.1:{port}/status")
        gone = get(f"http://127.0.0.1:{port}/scrape?target=127.0.0.1:1")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert find(parse(metrics), "redis_up") == [0.0]
    assert find(parse(gone), "redis_up") == [0.0]
    assert "authentication failed" in json.loads(status)["error"]
    down = json.loads(status)
    assert all(node["error"] for node in down["nodes"] if not node["up"])  # each down node says why
    assert down["total"] == {"used_bytes": None, "max_bytes": None, "keys": None, "clients": None}  # unknown, not 0
    assert "scrape of" in err  # the failure is logged, one line per scrape...
    for text in (metrics, status, gone, out, err):
        assert wrong not in text  # ...and the password is in none of it
    assert "Traceback" not in err


def test_a_database_the_server_lacks_is_redis_up_0_with_the_reason(make_server) -> None:
    server = make_server()
    port = free_port()
    proc = _start_exporter(f"redis://127.0.0.1:{server.port}/99", port)
    try:
        metrics = first_metrics(port, proc)
        status = get(f"http://127.0.0.1:{port}/status")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert find(parse(metrics), "redis_up") == [0.0]
    assert "has no database 99" in json.loads(status)["error"]
    assert "Traceback" not in err and "has no database 99" in err


def test_a_bad_scrape_target_is_http_400_in_one_line_never_a_traceback(make_server) -> None:
    """Each of these made the handler raise (a traceback on stderr, the connection dropped, no reply)."""
    import urllib.error
    import urllib.parse

    server = make_server()
    port = free_port()
    proc = _start_exporter(f"redis://127.0.0.1:{server.port}/0", port)
    bad = {"127.0.0.1:0": "port 0", f"127.0.0.1:{server.port}/0?foo=bar": "unknown option 'foo'",
           "a" * 300 + ":6379": "invalid host name", "http://x": "schemes", "redis://u:Pw-9x1@127.0.0.1:0/0": "port 0"}
    try:
        first_metrics(port, proc)
        for target, said in bad.items():
            url = f"http://127.0.0.1:{port}/scrape?target={urllib.parse.quote(target)}"
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(url, timeout=30)
            body = caught.value.read().decode()
            assert caught.value.code == 400 and said in body and body.count("\n") == 1, (target, body)
            assert "Pw-9x1" not in body
        assert "redis_up" in get(f"http://127.0.0.1:{port}/scrape?target=127.0.0.1:{server.port}")  # still serving
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err and "Pw-9x1" not in err
