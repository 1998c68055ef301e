"""--max-impact's pacing: the other clients' load read from INFO stats slows the scan down."""

from __future__ import annotations

import socket
import threading
import time

from redisguard._wire.pipe import RawPipe
from redisguard.connect import ConnectionOptions
from redisguard.keyspace import ScanSettings, scan_deployment
from redisguard.keyspace._throttle import Throttle
from redisguard.localserver import LocalServer

_PINGS = 500
_LOAD_LIMIT_S = 30.0  # the load thread stops by itself after this, whatever happens to the test


def test_duty_follows_the_other_clients_load() -> None:
    pauses: list[float] = []
    throttle = Throttle(max_impact_ms=1.0, sleep=pauses.append)
    throttle.observe(batch_seconds=0.002, probe_added_ms=0.0, commands=1000)  # 2 µs of server time per command
    throttle.set_others_rate(0.0)
    assert throttle.duty == 0.5  # an idle server: the scan may take half of its time
    throttle.after_batch(0.002)
    throttle.set_others_rate(150_000)  # 0.3 of the server busy with others: 0.7 - 0.3 left for the scan
    assert abs(throttle.duty - 0.4) < 1e-9
    throttle.after_batch(0.002)
    throttle.set_others_rate(1_000_000)  # saturated by others: the scan keeps its minimum share
    assert throttle.duty == 0.05
    throttle.after_batch(0.002)
    assert pauses[0] < pauses[1] < pauses[2]
    assert abs(pauses[0] - 0.002) < 1e-9 and abs(pauses[2] - 0.002 * 19) < 1e-9
    assert throttle.load.min_duty == 0.05 and throttle.load.others_ops_per_s == 1_000_000


def test_on_a_busy_machine_the_servers_own_time_sizes_and_paces_the_batch() -> None:
    """A 20 ms round trip for 100 commands the server ran in 2 µs each: the wait another client could see
    is 0.2 ms (the rest was the machine's scheduling), so the batch keeps its size and no pause is added."""
    pauses: list[float] = []
    throttle = Throttle(max_impact_ms=1.0, max_batch=1000, sleep=pauses.append)
    first = throttle.batch
    throttle.set_server_cost(2e-6)
    throttle.observe(batch_seconds=0.020, probe_added_ms=15.0, commands=100)
    assert abs(throttle.probes[-1] - 0.4) < 1e-9  # the probe's 15 ms is bounded by twice the server's time
    assert throttle.batch == first
    throttle.set_others_rate(0.0)
    throttle.after_batch(0.020)
    assert pauses == []  # 19.8 ms of the round trip already left the server to others
    throttle.observe(batch_seconds=0.0002, probe_added_ms=0.0, commands=100)
    throttle.after_batch(0.0002)
    assert len(pauses) == 1 and abs(pauses[0] - 0.0002) < 1e-9  # an idle machine: duty 0.5, pause = server time
    without = Throttle(max_impact_ms=1.0, max_batch=1000, sleep=pauses.append)
    without.observe(batch_seconds=0.020, probe_added_ms=15.0, commands=100)
    assert without.batch < first  # by the round trip alone the same batch looks 20 ms long


def _load(port: int, stop: threading.Event) -> None:
    """Pipelined PINGs from another client, as fast as it can, until ``stop`` (or the time limit)."""
    payload = b"*1\r\n$4\r\nPING\r\n" * _PINGS
    expected = len(b"+PONG\r\n") * _PINGS
    deadline = time.monotonic() + _LOAD_LIMIT_S
    with socket.create_connection(("127.0.0.1", port)) as sock:
        while not stop.is_set() and time.monotonic() < deadline:
            sock.sendall(payload)
            got = 0
            while got < expected:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                got += len(chunk)


def _fill(server: LocalServer, keys: int) -> None:
    with server.client() as admin:
        for start in range(0, keys, 1000):
            admin.mset({f"k:{n}": "v" for n in range(start, min(keys, start + 1000))})


def test_scan_reads_the_servers_load_and_backs_off(server: LocalServer) -> None:
    _fill(server, 4000)
    # --rate stretches the scan over ~2.7 s, so INFO stats is read at least twice.
    settings = ScanSettings(max_impact_ms=1.0, rate=1500)
    idle = scan_deployment(ConnectionOptions.build(server.url), settings).nodes[0]
    stop = threading.Event()
    loader = threading.Thread(target=_load, args=(server.port, stop), daemon=True)
    loader.start()
    try:
        busy = scan_deployment(ConnectionOptions.build(server.url), settings).nodes[0]
    finally:
        stop.set()
        loader.join(timeout=10)
    assert idle.seen == busy.seen == 4000
    assert idle.others_ops_per_s is not None and busy.others_ops_per_s is not None
    assert idle.min_duty is not None and busy.min_duty is not None
    assert idle.others_ops_per_s < 100  # nothing but the scan itself: its own commands are taken out
    assert idle.min_duty == 0.5
    assert busy.others_ops_per_s > 10 * max(idle.others_ops_per_s, 100)
    assert busy.server_ops_per_s is not None and busy.server_ops_per_s > busy.others_ops_per_s / 10
    assert busy.min_duty < idle.min_duty  # the scan took a smaller share of a busy server's time


def test_the_keys_scan_probes_every_batch_until_the_servers_cost_is_known_then_every_20_ms(server: LocalServer) -> None:
    """``probe_due`` (the keys scan's loop) on a fake clock; the batches in between are sized by the server's
    own cost per command alone (``observe_untimed``)."""
    now = [100.0]
    throttle = Throttle(max_impact_ms=1.0, max_batch=1000, clock=lambda: now[0])
    with server.client() as client, RawPipe(client) as probe:
        assert not throttle.probe_due()  # no probe connection: nothing to time with
        throttle.attach_probe(probe)
        assert throttle.probe_due() and throttle.probe_due()  # the cost is not known yet: every batch
        throttle.observe_untimed(100)
        assert throttle.probes == []  # nothing to size an untimed batch by yet
        throttle.set_server_cost(2e-6)
        assert throttle.probe_due()
        assert not throttle.probe_due()  # the same instant
        now[0] += 0.019
        assert not throttle.probe_due()
        now[0] += 0.002
        assert throttle.probe_due()
        first = throttle.batch
        throttle.observe_untimed(100)  # 0.2 ms of server time: under a quarter of the budget, so it grows
        assert abs(throttle.probes[-1] - 0.2) < 1e-9 and throttle.batch > first
        grown = throttle.batch
        throttle.observe_untimed(300)  # 0.6 ms: over 0.4 of the budget, so it shrinks
        assert abs(throttle.probes[-1] - 0.6) < 1e-9 and throttle.batch < grown
