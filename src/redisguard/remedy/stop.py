"""Ctrl-C during apply: the current batch finishes, the audit log is completed, then the run stops."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "StopFlag"]


class Interrupted(Exception):
    """Raised between batches once Ctrl-C was pressed."""


class StopFlag:
    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Interrupted

    @contextmanager
    def on_sigint(self) -> Iterator[StopFlag]:
        """While inside, SIGINT sets the flag instead of raising KeyboardInterrupt mid-command."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(_signum: int, _frame: FrameType | None) -> None:
            self.set()

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
