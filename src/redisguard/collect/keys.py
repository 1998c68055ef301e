"""The doctor's keyspace sample: a bounded scan through the keyspace engine (:mod:`redisguard.keyspace`)."""

from __future__ import annotations

import redis

from redisguard.collect.node import KeySampler
from redisguard.collect.probe import Probe
from redisguard.snapshot import KeySample

__all__ = ["default_key_sampler"]


def default_key_sampler(max_keys: int) -> KeySampler:
    """A sampler that scans at most ``max_keys`` keys per node (all of them if fewer), of the client's database."""

    def sample(client: redis.Redis, probe: Probe) -> KeySample | None:
        from redisguard.keyspace import sample_for_doctor

        db = int(client.connection_pool.connection_kwargs.get("db", 0) or 0)  # redis://host:port/N samples db N
        return probe.run("keyspace sample (SCAN or RANDOMKEY, MEMORY USAGE, TYPE, PTTL, OBJECT ENCODING, lengths)",
                         lambda: sample_for_doctor(client, max_keys=max_keys, db=db))

    return sample
