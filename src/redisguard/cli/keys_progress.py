"""The keys scan's progress bar (rich, on stderr): imported only when a person is watching a terminal."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["progress_bar"]


class _Bar:
    """A rich progress bar on stderr with keys/s and ETA; thread-safe (one scan thread per shard)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("scanning", total=None)
        self._lock = threading.Lock()
        self._done = 0

    def total(self, value: int) -> None:
        self._progress.update(self._task, total=value or None)

    def advance(self, keys: int) -> None:
        with self._lock:
            self._done += keys
            self._progress.update(self._task, completed=self._done)


class _KeysPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} keys/s")


@contextmanager
def progress_bar() -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(advance, total) hooks for the scan, drawing a transient bar while the block runs."""
    with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), _KeysPerSecond(),
                  TextColumn("ETA"), TimeRemainingColumn(), transient=True,
                  console=Console(stderr=True, emoji=False)) as progress:
        bar = _Bar(progress)
        yield bar.advance, bar.total
