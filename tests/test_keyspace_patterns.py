"""Pattern grouping: examples, and properties (hypothesis) of the grouping and of the streaming cap."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from redisguard.keyspace._aggregate import Aggregator
from redisguard.keyspace._patterns import PatternGrouper, cut, raw_pattern


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Redis glob (``*``, ``?``, backslash escapes; no classes are produced by the grouper) as a regex."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


EXAMPLES = {
    b"user:1234:profile": "user:*:profile",
    b"session:9f1c2e4a-1b2c-4d5e-8f90-0123456789ab": "session:*",
    b"mail:bob.smith@example.com:inbox": "mail:*:inbox",
    b"log:2024-01-02T10:11:12Z": "log:*",
    b"order:2024-03-04:77": "order:*:*",
    b"img:5f2b9c0d1e2f3a4b5c6d7e8f": "img:*",
    b"tok:QWxhZGRpbjpvcGVuIHNlc2FtZQ12": "tok:*",
    b"cache/page/home.html": "cache/page/home.html",
    b"player42|score": "player*|score",
    b"v2#k": "v2#k",
    b"a*b?[c]": "a\\*b\\?\\[c\\]",
    b"bin:\xff\xfe\x01": "bin:*",
    b"rate:10.1.2.3:55": "rate:*.*.*.*:*",
}


def test_examples() -> None:
    grouper = PatternGrouper()
    for key, expected in EXAMPLES.items():
        assert grouper.raw(key) == expected, key


def test_ids_in_the_same_place_share_a_pattern() -> None:
    grouper = PatternGrouper()
    keys = [b"user:%d:cart" % n for n in range(500)] + [b"user:%032x:cart" % random.getrandbits(128)
                                                       for _ in range(50)]
    assert set(grouper.group_all(keys).values()) == {"user:*:cart"}


def test_cap_folds_the_tail_into_common_prefixes() -> None:
    keys = [b"app:%s:item" % word.encode() for word in ("alpha", "beta", "gamma", "delta", "omega")]
    keys += [b"other:thing:%s" % word.encode() for word in ("red", "green", "blue")]
    groups = PatternGrouper(cap=3).group_all(keys)
    assert set(groups.values()) == {"app:*", "other:*"}
    assert set(PatternGrouper(cap=100).group_all(keys).values()) == {k.decode() for k in keys}


separators = st.sampled_from(list(":/.-_|#"))
token = st.one_of(
    st.integers(min_value=0, max_value=10**12).map(str),
    st.sampled_from(["user", "cache", "session", "order", "v2", "item", "a", "x1y2", "page"]),
    st.uuids().map(str),
    st.binary(min_size=4, max_size=8).map(lambda b: b.hex()),
    st.text(alphabet="abcXYZ019*?[]\\", min_size=1, max_size=6),
)
key_text = st.lists(st.tuples(token, separators), min_size=1, max_size=5).map(
    lambda parts: "".join(t + s for t, s in parts)[:-1])
raw_keys = st.one_of(key_text.map(lambda t: t.encode()), st.binary(min_size=0, max_size=20))
key_sets = st.lists(raw_keys, min_size=1, max_size=60, unique=True)


@settings(max_examples=150, deadline=None)
@given(key_sets, st.integers(min_value=1, max_value=12), st.randoms(use_true_random=False))
def test_grouping_properties(keys: list[bytes], cap: int, rnd: random.Random) -> None:
    groups = PatternGrouper(cap=cap).group_all(keys)
    # every key is in exactly one group, whose glob matches it
    assert set(groups) == set(keys)
    for key, pattern in groups.items():
        assert glob_regex(pattern).fullmatch(key.decode("utf-8", "surrogateescape")), (key, pattern)
    # never more groups than the cap
    assert len(set(groups.values())) <= cap
    # deterministic, and independent of order and of caching state
    shuffled = list(keys)
    rnd.shuffle(shuffled)
    assert PatternGrouper(cap=cap).group_all(shuffled) == groups
    warm = PatternGrouper(cap=cap)
    warm.group_all(shuffled)
    assert warm.group_all(keys) == groups


@settings(max_examples=200, deadline=None)
@given(st.lists(raw_keys, min_size=1, max_size=20))
def test_fast_path_agrees_with_token_by_token(keys: list[bytes]) -> None:
    cache: dict[str, str] = {}
    for key in keys:
        text = key.decode("utf-8", "surrogateescape")
        assert raw_pattern(text, cache) == raw_pattern(text, {}, fast=False)


@settings(max_examples=100, deadline=None)
@given(key_sets, st.integers(min_value=1, max_value=8), st.randoms(use_true_random=False))
def test_streaming_cap_equals_grouping_everything_at_once(keys: list[bytes], cap: int, rnd: random.Random) -> None:
    """The aggregator folds as it goes; the result must equal grouping the whole set, in any order."""
    expected: dict[str, int] = {}
    for pattern in PatternGrouper(cap=cap).group_all(keys).values():
        expected[pattern] = expected.get(pattern, 0) + 1
    order = list(keys)
    rnd.shuffle(order)
    agg = Aggregator(cap=cap)
    for start in range(0, len(order), 7):
        batch = order[start:start + 7]
        replies: list[object] = []
        for key in batch:
            replies += [len(key) + 50, b"string", -1, b"embstr"]
        agg.add_batch(batch, replies)
    got: dict[str, int] = {}
    for (pattern, _, _, _), acc in agg.combos.items():
        got[pattern] = got.get(pattern, 0) + acc[0]
    assert got == expected
    assert len(agg.patterns) <= cap


def test_cut_composes() -> None:
    pattern = "a:b:c:d"
    assert cut(pattern, 2) == "a:b:*"
    assert cut(cut(pattern, 3), 2) == cut(pattern, 2)
    assert cut(pattern, 0) == "*"
    assert cut(pattern, 9) == pattern


def test_vanished_and_moved_replies_are_counted_not_raised() -> None:
    import hiredis

    agg = Aggregator()
    keys = [b"gone:1", b"gone:2", b"moved:1", b"here:1"]
    replies: list[object] = [
        None, b"none", -2, None,
        50, b"none", -2, None,  # deleted between MEMORY USAGE and TYPE
        hiredis.ReplyError("MOVED 1234 127.0.0.1:7001"), hiredis.ReplyError("MOVED 1234 127.0.0.1:7001"),
        hiredis.ReplyError("MOVED 1234 127.0.0.1:7001"), hiredis.ReplyError("MOVED 1234 127.0.0.1:7001"),
        72, b"string", -1, b"embstr",
    ]
    agg.add_batch(keys, replies)
    assert agg.vanished == 3
    assert agg.seen == 4
    assert sum(acc[0] for acc in agg.combos.values()) == 1


@settings(max_examples=100, deadline=None)
@given(key_sets, st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=4))
def test_merging_per_node_aggregations_equals_one_scan(keys: list[bytes], cap: int, nodes: int) -> None:
    """Cluster fan-out: aggregating per node, then merging, gives what one scan of everything gives."""

    def aggregate(part: list[bytes]) -> Aggregator:
        agg = Aggregator(cap=cap, top_k=3)
        replies: list[object] = []
        for key in part:
            replies += [len(key) * 3 + 40, b"hash" if len(key) % 2 else b"string", len(key) * 1000 - 1, None]
        agg.add_batch(part, replies)
        return agg

    whole = aggregate(keys)
    merged = Aggregator(cap=cap, top_k=3)
    for index in range(nodes):
        merged.merge(aggregate(keys[index::nodes]))
    assert merged.combos == whole.combos
    assert merged.depth == whole.depth
    assert {t: sorted(h) for t, h in merged.heaps.items()} == {t: sorted(h) for t, h in whole.heaps.items()}
    assert (merged.seen, merged.vanished) == (whole.seen, whole.vanished)


production_token = st.one_of(
    token,
    st.integers(min_value=0, max_value=99_999_999).map(lambda n: f"SKU{n:08d}"),
    st.integers(min_value=0, max_value=10**7).map(lambda n: f"u{n}"),
    st.binary(min_size=20, max_size=20).map(lambda b: b.hex()),  # sha1-like
    st.text(alphabet="ABCDEFGHIJKLMNOPabcdefghijklmnop0123456789+=", min_size=8, max_size=70),
    st.tuples(*[st.integers(min_value=0, max_value=255)] * 4).map(lambda ip: ".".join(map(str, ip))),
    st.dates().map(str),
    st.sampled_from(["2024-05-01T10:20", "bob@example.com", "v1", "a12", "eu-west-1", "x-1", "\u0663\u0664"]),
)
production_keys = st.one_of(
    st.lists(st.tuples(production_token, separators), min_size=1, max_size=5).map(
        lambda parts: "".join(t + s for t, s in parts)[:-1].encode("utf-8", "surrogateescape")),
    raw_keys,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(production_keys, min_size=1, max_size=30))
def test_byte_level_naming_agrees_with_token_by_token(keys: list[bytes]) -> None:
    """The grouper's byte-level caches (digits as 0, the part before a variable last token) give every key
    exactly the pattern the token-by-token reference gives, whatever keys warmed the caches before."""
    grouper = PatternGrouper()
    for key in keys + keys[::-1]:
        assert grouper.raw(key) == grouper.reference(key), key


def test_byte_level_naming_on_production_like_names() -> None:
    grouper = PatternGrouper()
    cases = {
        b"product:SKU00953584:json": "product:SKU*:json",
        b"product:SKU12345678:json": "product:SKU*:json",
        b"cache:api:v2:f40ea7401b5c7baaafac7eb0d7a40065f4d8cf40": "cache:api:v2:*",
        b"cache:api:v3:f40ea7401b5c7baaafac7eb0d7a40065f4d8cf40": "cache:api:v3:*",
        b"session:9f1c2e4a-1b2c-4d5e-8f90-0123456789ab": "session:*",
        b"token:QWxhZGRpbjpvcGVuIHNlc2FtZQ12": "token:*",
        b"ratelimit:10.1.2.3:55": "ratelimit:*.*.*.*:*",
        b"v2:a12": "v2:a12",
        b"v3:a12": "v3:a12",
        b"x:2024-05-01T10:20:30": "x:*",
        b"x:2024-05-01T10:20:31ab12cd34": grouper.reference(b"x:2024-05-01T10:20:31ab12cd34"),
    }
    for _ in range(2):  # cold, then warm caches
        for key, expected in cases.items():
            assert grouper.raw(key) == expected == grouper.reference(key), key


def _letters(rnd: random.Random, size: int = 24) -> str:
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(size))


def test_a_family_of_unrecognised_ids_spreads_alone_and_the_others_keep_their_detail() -> None:
    """Random letters, user names: no token rule sees an id, but 51+ values after one prefix do. Only that
    place becomes ``*``; the cap is not reached, so no other family loses a segment (as the depth cut did)."""
    rnd = random.Random(7)
    keys = [f"token:{_letters(rnd)}".encode() for _ in range(600)]
    names = [_letters(rnd, 8).lower() for _ in range(80)]
    keys += [f"user:{name}:{part}".encode() for name in names for part in ("cart", "profile")]
    keys += [b"product:SKU%08d:json" % n for n in range(100)] + [b"cache:api:v2:%040x" % n for n in range(100)]
    keys += [f"{word}:x".encode() for word in names[:60]]  # 60 families: many families, not one variable part
    keys += [b"config:%s" % word.encode() for word in names[:50]]  # 50 values: still words
    groups = PatternGrouper().group_all(keys)
    assert set(groups.values()) == ({"token:*", "user:*:cart", "user:*:profile", "product:SKU*:json", "cache:api:v2:*"}
                                    | {f"{word}:x" for word in names[:60]} | {f"config:{word}" for word in names[:50]})


family_keys = st.lists(
    st.tuples(st.sampled_from(["token", "user", "cache:api"]), st.integers(min_value=0, max_value=120),
              st.sampled_from(["", ":cart", ":profile"])),
    min_size=100, max_size=300, unique=True,
).map(lambda rows: [f"{family}:{_letters(random.Random(n), 10)}{tail}".encode() for family, n, tail in rows])


@settings(max_examples=60, deadline=None)
@given(family_keys, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=4))
def test_spread_folds_the_same_streaming_merged_or_all_at_once(keys: list[bytes], rnd: random.Random,
                                                               nodes: int) -> None:
    """Under the cap, spread found as keys stream in (in any order, in batches, across nodes merged) gives
    exactly the grouping of the whole set."""
    expected: dict[str, int] = {}
    for pattern in PatternGrouper().group_all(keys).values():
        expected[pattern] = expected.get(pattern, 0) + 1
    order = list(keys)
    rnd.shuffle(order)

    def aggregate(part: list[bytes]) -> Aggregator:
        agg = Aggregator()
        for start in range(0, len(part), 7):
            batch = part[start:start + 7]
            agg.add_batch(batch, [value for key in batch for value in (len(key) + 50, b"string", -1, b"raw")])
        return agg

    merged = Aggregator()
    for index in range(nodes):
        merged.merge(aggregate(order[index::nodes]))
    for agg in (aggregate(order), merged):
        got: dict[str, int] = {}
        for (pattern, _, _, _), acc in agg.combos.items():
            got[pattern] = got.get(pattern, 0) + acc[0]
        assert got == expected
