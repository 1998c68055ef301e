"""Read a command's reply as the server sent it, without changing the client for anyone else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

__all__ = ["raw_replies"]


def _identity(response: Any, **_: Any) -> Any:
    return response


@contextmanager
def raw_replies(client: redis.Redis, *commands: str) -> Iterator[redis.Redis]:
    """Within the block, ``commands`` skip redis-py's reply parsing on ``client``; restored afterwards.

    redis-py flattens INFO's sections and joins SLOWLOG arguments; the collectors need them as sent.
    """
    callbacks = client.response_callbacks
    saved = {name: callbacks.get(name) for name in commands}
    for name in commands:
        client.set_response_callback(name, _identity)
    try:
        yield client
    finally:
        for name, callback in saved.items():
            if callback is None:
                callbacks.pop(name, None)
            else:
                client.set_response_callback(name, callback)
