"""The keyspace analysis on its own schedule, in the background: never inside a scrape.

Every ``interval`` seconds an analysis with the keys engine, paced by ``--max-impact``: sampled
(``--keys-sample`` draws) when the keyspace is larger than that, a full scan when it is not (drawing more
keys than there are would only repeat them). The last result is what the ``redisguard_keys_pattern_*``
families show. The first run waits for a scrape to have counted the keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import redis.exceptions as rex

from redisguard.connect import ConnectError, ConnectionOptions
from redisguard.exporter.model import KeyspaceResult
from redisguard.keyspace import ScanSettings, scan_deployment

__all__ = ["KeyspaceLoop"]


class KeyspaceLoop:
    def __init__(self, options: ConnectionOptions, *, interval: float, sample: int, max_impact_ms: float,
                 on_result: Callable[[KeyspaceResult], None], total_keys: Callable[[], int | None]) -> None:
        self._options = options
        self._interval = interval
        self._sample = sample
        self._settings = ScanSettings(max_impact_ms=max_impact_ms, cap=200, top_k=5)
        self._total_keys = total_keys
        self._on_result = on_result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="redisguard-keyspace", daemon=True)

    def start(self) -> KeyspaceLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def run_once(self, total_keys: int) -> KeyspaceResult:
        settings = replace(self._settings, sample=self._sample if total_keys > self._sample else None)
        try:
            report = scan_deployment(self._options, settings)
        except ConnectError as exc:
            return KeyspaceResult(report=None, finished_at=time.time(), error=str(exc))
        except rex.RedisError as exc:
            return KeyspaceResult(report=None, finished_at=time.time(),
                                  error=f"{self._options.display}: {str(exc).splitlines()[0] if str(exc) else exc}")
        return KeyspaceResult(report=report, finished_at=time.time())

    def _loop(self) -> None:
        while not self._stop.is_set():
            total = self._total_keys()
            if total is None:  # no scrape has counted the keys yet
                if self._stop.wait(1.0):
                    return
                continue
            self._on_result(self.run_once(total))
            if self._stop.wait(self._interval):
                return
