"""The two keyspaces ``bench/keys.py`` measures on, as streams of RESP commands.

* ``mixed``: the original 1M-key dataset (``user:N:profile`` strings, UUID sessions, hex cache pages,
  dated orders, small lists/sets/zsets, IP rate limits, five 50k-element lists).
* ``prod``: production-like names whose variable parts are not plain numbers (UUIDs, SKU-like and hex
  tokens, IPs, dates, mixed-case base64 tokens), mixed types and TTLs, and three big aggregates: a
  1M-element list, a 200k-member zset and a 500k-entry stream.
* ``store``: ``prod``'s keys and values with no TTL at all (Redis as a store).

TTLs are a month or more so a cached RDB still holds every key when it is reused.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["BIG_KEYS", "KEYSPACES", "commands", "mixed", "prod", "store"]

# The big aggregates of the ``prod`` keyspace: (key, type, elements).
BIG_KEYS: tuple[tuple[bytes, str, int], ...] = (
    (b"queue:ingest:backlog", "list", 1_000_000),
    (b"leaderboard:global:2024", "zset", 200_000),
    (b"events:firehose", "stream", 500_000),
)


def _bulk(arg: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(arg), arg)


def _cmd(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join([_bulk(a) for a in args])


def _uuid(rng: random.Random) -> bytes:
    return b"%08x-%04x-4%03x-a%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                             rng.getrandbits(12), rng.getrandbits(48))


def mixed(total: int, seed: int = 20240101) -> Iterator[bytes]:
    """The original mixed dataset: strings, hashes, lists, sets, zsets; a third with a TTL; five big lists."""
    rng = random.Random(seed)
    for n in range(total):
        roll = n % 20
        nb = str(n).encode()
        if roll < 8:
            yield _cmd(b"SET", b"user:%b:profile" % nb, b"x" * rng.randint(20, 200))
        elif roll < 11:
            key = b"session:" + _uuid(rng)
            fields: list[bytes] = []
            for f in range(rng.randint(3, 10)):
                fields += [b"f%d" % f, b"v" * rng.randint(5, 40)]
            yield _cmd(b"HSET", key, *fields)
            yield _cmd(b"PEXPIRE", key, b"%d" % rng.randint(30 * 86_400_000, 60 * 86_400_000))
        elif roll < 13:
            key = b"cache:page:%040x" % rng.getrandbits(160)
            yield _cmd(b"SET", key, b"p" * rng.randint(100, 1000), b"EX", b"%d" % rng.randint(40 * 86400, 90 * 86400))
        elif roll < 15:
            key = b"order:2024-%02d-%02d:%b" % (rng.randint(1, 12), rng.randint(1, 28), nb)
            yield _cmd(b"HSET", key, b"sku", b"s%d" % rng.randint(1, 9999), b"qty", b"%d" % rng.randint(1, 9),
                       b"total", b"%d.%02d" % (rng.randint(1, 999), rng.randint(0, 99)))
        elif roll == 15:
            yield _cmd(b"RPUSH", b"queue:jobs:%b" % nb, *(b"job-%d" % i for i in range(rng.randint(5, 50))))
        elif roll == 16:
            yield _cmd(b"SADD", b"tags:%b" % nb, *(b"t%d" % rng.randint(1, 500) for _ in range(rng.randint(2, 20))))
        elif roll == 17:
            args: list[bytes] = []
            for i in range(rng.randint(5, 30)):
                args += [b"%d" % rng.randint(0, 10_000), b"player%d" % i]
            yield _cmd(b"ZADD", b"leaderboard:game%d:%b" % (rng.randint(1, 20), nb), *args)
        else:
            key = b"rate:10.%d.%d.%d:%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255), n)
            yield _cmd(b"SET", key, b"%d" % rng.randint(1, 100), b"EX", b"%d" % (35 * 86400))
    for i in range(5):
        yield _cmd(b"RPUSH", b"big:list:%d" % i, *(b"item-%d" % j for j in range(50_000)))


_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def prod(total: int, seed: int = 20240202, big: tuple[int, int, int] | None = None, *,
         ttl: bool = True) -> Iterator[bytes]:
    """Production-like names and types, plus the three :data:`BIG_KEYS` (``big``: other element counts for
    them, as (list, zset, stream), for tests). ``ttl=False``: the same keys and values, none with a TTL."""
    rng = random.Random(seed)
    month = 30 * 86400

    def ex(seconds: int) -> tuple[bytes, ...]:  # drawn either way, so both variants hold the same keys
        return (b"EX", b"%d" % seconds) if ttl else ()

    for n in range(total):
        roll = n % 25
        if roll < 6:  # session:<uuid>: hash with a TTL
            key = b"session:" + _uuid(rng)
            fields: list[bytes] = []
            for f in (b"user", b"ip", b"ua", b"csrf", b"seen")[: rng.randint(2, 5)]:
                fields += [f, b"v" * rng.randint(8, 60)]
            yield _cmd(b"HSET", key, *fields)
            seconds = rng.randint(month, 2 * month)
            if ttl:
                yield _cmd(b"EXPIRE", key, b"%d" % seconds)
        elif roll < 11:  # product:SKU00953584:json: a JSON string, no TTL
            key = b"product:SKU%08d:json" % rng.randint(0, 99_999_999)
            yield _cmd(b"SET", key, b'{"name":"%b","price":%d}' % (b"p" * rng.randint(20, 300), rng.randint(1, 9999)))
        elif roll < 15:  # ratelimit:10.1.2.3:<n>: a counter with a TTL
            key = b"ratelimit:10.%d.%d.%d:%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255),
                                                 rng.randint(0, 99_999))
            yield _cmd(b"SET", key, b"%d" % rng.randint(1, 500), *ex(rng.randint(month, 2 * month)))
        elif roll < 18:  # cache:api:v2:<sha1 hex>: strings with a TTL
            key = b"cache:api:v2:%040x" % rng.getrandbits(160)
            yield _cmd(b"SET", key, b"c" * rng.randint(50, 2000), *ex(rng.randint(month, 3 * month)))
        elif roll < 20:  # cart:<user id>: a set of SKUs
            key = b"cart:u%07d" % rng.randint(0, 9_999_999)
            yield _cmd(b"SADD", key, *(b"SKU%08d" % rng.randint(0, 99_999_999) for _ in range(rng.randint(1, 12))))
        elif roll < 22:  # metrics:<host>:<date>: a small zset per host and day
            key = b"metrics:web-%02d.eu-west-1:2024-%02d-%02d:%d" % (rng.randint(1, 40), rng.randint(1, 12),
                                                                   rng.randint(1, 28), n)
            args: list[bytes] = []
            for i in range(rng.randint(3, 20)):
                args += [b"%d" % rng.randint(0, 10_000), b"m%d" % i]
            yield _cmd(b"ZADD", key, *args)
        elif roll < 23:  # token:<mixed-case base64>: a string with a TTL
            key = b"token:" + bytes(rng.choice(_B64) for _ in range(24))
            yield _cmd(b"SET", key, b"t" * 32, *ex(rng.randint(month, 2 * month)))
        elif roll < 24:  # inbox:<uuid>: a short list
            key = b"inbox:" + _uuid(rng)
            yield _cmd(b"RPUSH", key, *(b"msg-%d" % i for i in range(rng.randint(1, 15))))
        else:  # order:2024-05-01:<n>: a hash
            key = b"order:2024-%02d-%02d:%d" % (rng.randint(1, 12), rng.randint(1, 28), n)
            yield _cmd(b"HSET", key, b"sku", b"SKU%08d" % rng.randint(0, 99_999_999), b"qty", b"%d" % rng.randint(1, 9))
    (list_key, _, list_size), (zset_key, _, zset_size), (stream_key, _, stream_size) = BIG_KEYS
    if big is not None:
        list_size, zset_size, stream_size = big
    for start in range(0, list_size, 10_000):
        yield _cmd(b"RPUSH", list_key, *(b"job-%d" % j for j in range(start, min(list_size, start + 10_000))))
    for start in range(0, zset_size, 5_000):
        args = []
        for j in range(start, min(zset_size, start + 5_000)):
            args += [b"%d" % rng.randint(0, 1_000_000), b"player:%d" % j]
        yield _cmd(b"ZADD", zset_key, *args)
    for j in range(stream_size):
        yield _cmd(b"XADD", stream_key, b"*", b"kind", b"click", b"n", b"%d" % j)


def store(total: int) -> Iterator[bytes]:
    """``prod`` without a single TTL: Redis as a store (no key expires), where ``redisguard keys`` knows every
    key's TTL from INFO keyspace and does not send PTTL."""
    return prod(total, ttl=False)


KEYSPACES = {"mixed": mixed, "prod": prod, "store": store}


def commands(keyspace: str, total: int) -> Iterator[bytes]:
    return KEYSPACES[keyspace](total)


def load(port: int, stream: Iterator[bytes], host: str = "127.0.0.1") -> int:
    """Send the commands to a server we started (pipelined, 2,000 at a time); the number sent."""
    import socket

    import hiredis

    sent = 0
    with socket.create_connection((host, port)) as sock:
        reader = hiredis.Reader()
        chunk: list[bytes] = []

        def flush() -> None:
            sock.sendall(b"".join(chunk))
            for _ in chunk:
                reply = reader.gets()
                while reply is False:
                    reader.feed(sock.recv(1 << 20))
                    reply = reader.gets()
                if isinstance(reply, hiredis.ReplyError):
                    raise RuntimeError(str(reply))
            chunk.clear()

        for command in stream:
            chunk.append(command)
            sent += 1
            if len(chunk) >= 2000:
                flush()
        if chunk:
            flush()
    return sent
