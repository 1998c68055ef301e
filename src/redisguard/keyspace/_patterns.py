"""Group key names into patterns: variable parts become ``*``, with a cap on the number of patterns.

A key is split on the usual separators (``:`` ``/`` ``.`` ``-`` ``_`` ``|`` ``#``). Before splitting, whole
UUIDs, e-mail-like tokens and dates/timestamps (which contain separators themselves) become ``*``; after
splitting, each token is judged on its own: numbers, hex ids and hashes, base64-like blobs, tokens
holding non-UTF-8 bytes and very long tokens become ``*``; digit runs inside a longer word become ``*``
(``user42`` → ``user*``). Token decisions are cached (bounded), so grouping costs a regex split and a few
dict look-ups per key.

Spread. A segment that takes more than :data:`SPREAD` different values after the same prefix is a
variable part even when no rule above recognised it (user names, slugs, random letters): it becomes
``*`` there, and only there (the first segment excepted: many families are many families).
``user:alice:cart`` ... ``user:zoe:cart`` (80 names) is ``user:*:cart``, and ``token:<random letters>``
is ``token:*``, while every other family keeps its detail. The set of such prefixes is a function of
the set of raw patterns (a prefix only gains values as keys arrive, and merging prefixes only unites
their values), so it is the same whatever order the keys arrive in.

The cap. When more than ``cap`` patterns remain after spread, every pattern is cut after its first
``depth`` segments (``a:b:c:d`` at depth 2 is ``a:b:*``), lowering ``depth`` one step at a time until at
most ``cap`` patterns remain: the long tail folds into its common prefix. Cutting at depth ``d - 1`` is
a function of the cut at depth ``d``, and the number of patterns only shrinks as the depth drops, so
the final depth is the largest one at which the whole set fits the cap, whatever order the keys arrive
in. That makes the grouping deterministic and independent of SCAN order, and it lets streaming
aggregations (and the merge of per-node results on a cluster) fold as they go with the same final
answer. One limit: a cut is never undone, so where more than ``cap`` patterns were seen before a
family reached its spread, the depth can end lower than grouping all the keys at once would give.

Patterns are Redis glob patterns: literal ``* ? [ ] \\`` in key names are backslash-escaped, so a
pattern can be passed to ``SCAN MATCH`` / ``redisguard keys --pattern`` as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

__all__ = ["DEFAULT_CAP", "SPREAD", "UNLIMITED_DEPTH", "PatternGrouper", "cut", "depth_of", "note_segments",
           "raw_pattern", "spread_prefixes", "wildcard"]

DEFAULT_CAP = 300
SPREAD = 50  # more different values than this in one place, after the same prefix: a variable part
UNLIMITED_DEPTH = 1 << 30
_TOKEN_CACHE_LIMIT = 200_000

_SEPARATORS = ":/.-_|#"
_SPLIT = re.compile(r"([:/.\-_|#])")

# Variable parts that contain separators themselves: replaced on the whole name before splitting.
_WHOLE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # UUID
    r"|[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"  # e-mail-like
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+\-]\d{2}:?\d{2})?)?"  # ISO date/time
)
# The common whole-token variable parts (numbers, hex ids, base64-like), found in C in one pass; the
# result is a "shape" shared by many keys, and shapes are cached. It gives the same pattern as judging
# each token in Python (:func:`_token`), only faster: a property test checks the two agree.
_SEP = r"[:/.\-_|#]"
_START, _END = rf"(?<!{_SEP[:1]}^{_SEP[1:]})", rf"(?!{_SEP[:1]}^{_SEP[1:]})"
_FAST = re.compile(
    rf"{_START}(?:\d+"
    rf"|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{{8,64}}"
    rf"|(?=[A-Za-z0-9+=]*\d)(?=[A-Za-z0-9+=]*[a-z])(?=[A-Za-z0-9+=]*[A-Z])[A-Za-z0-9+=]{{16,64}}){_END}"
)
_HEX = re.compile(r"[0-9a-fA-F]{8,}")
_BASE64 = re.compile(r"[A-Za-z0-9+=]{16,}")
_DIGITS = re.compile(r"\d+")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def _token(token: str) -> str:
    """The pattern form of one separator-free token (``*`` when it is a variable part)."""
    if not token:
        return token
    if token.isdigit():
        return "*"
    if len(token) > 64 or (not token.isascii() and any(0xDC80 <= ord(ch) <= 0xDCFF for ch in token)):
        return "*"  # very long, or holds bytes that are not UTF-8: an id, not a word
    if "\x00" in token:  # the placeholder left by _WHOLE for a UUID, e-mail or date: a variable part
        return "*".join(_literal(piece) for piece in token.split("\x00"))
    has_digit = any(ch.isdigit() for ch in token)
    if has_digit and _HEX.fullmatch(token):
        return "*"
    if (len(token) >= 16 and _BASE64.fullmatch(token) and has_digit
            and token.lower() != token and token.upper() != token):
        return "*"
    return _literal(token)


def _literal(token: str) -> str:
    """A word kept as it is, glob characters escaped, digit runs inside a longer word as ``*``."""
    escaped = _GLOB_SPECIAL.sub(r"\\\1", token) if _GLOB_SPECIAL.search(token) else token
    if len(token) > 3 and _DIGITS.search(token):
        escaped = _DIGITS.sub("*", escaped)
    return escaped


def _slow(text: str, tokens: dict[str, str]) -> str:
    parts = _SPLIT.split(text)
    for index in range(0, len(parts), 2):
        token = parts[index]
        found = tokens.get(token)
        if found is None:
            found = _token(token)
            if len(tokens) < _TOKEN_CACHE_LIMIT and not token.isdigit():
                tokens[token] = found
        parts[index] = found
    return "".join(parts)


def raw_pattern(text: str, _cache: dict[str, str] | None = None, *, fast: bool = True) -> str:
    """The uncapped pattern of one key name (in :mod:`redisguard.keynames` text form).

    ``_cache`` (shape → pattern and token → decision, bounded) makes repeated shapes a dict look-up;
    ``fast=False`` judges every token in Python (the reference the fast path is tested against).
    """
    if "-" in text or "@" in text:
        text = _WHOLE.sub("\x00", text)
    cache = _cache if _cache is not None else {}
    if not fast:
        return _slow(text, cache)
    shape = _FAST.sub("\x00", text)
    found = cache.get(shape)
    if found is None:
        found = _slow(shape, cache)
        if len(cache) < _TOKEN_CACHE_LIMIT:
            cache[shape] = found
    return found


def depth_of(pattern: str) -> int:
    """Number of separator-delimited segments."""
    return len(_SPLIT.split(pattern)) // 2 + 1


def cut(pattern: str, depth: int) -> str:
    """``pattern`` kept to its first ``depth`` segments, the rest folded into ``*``."""
    if depth >= UNLIMITED_DEPTH:
        return pattern
    parts = _SPLIT.split(pattern)
    if len(parts) // 2 + 1 <= depth:
        return pattern
    if depth <= 0:
        return "*"
    return "".join(parts[: 2 * depth]) + "*"


def wildcard(pattern: str, wild: AbstractSet[str]) -> str:
    """``pattern`` with ``*`` for each segment that follows a prefix in ``wild`` (see *Spread* above)."""
    if not wild:
        return pattern
    parts = _SPLIT.split(pattern)
    prefix = ""
    changed = False
    last = len(parts) - 1
    for index in range(0, len(parts), 2):
        if prefix in wild and parts[index] != "*":
            parts[index] = "*"
            changed = True
        if index < last:
            prefix += parts[index] + parts[index + 1]
    return "".join(parts) if changed else pattern


def note_segments(pattern: str, children: dict[str, set[str]]) -> bool:
    """Add each segment of ``pattern`` to the values seen after its prefix (at most ``SPREAD + 1`` kept
    per prefix); whether some prefix now has more than :data:`SPREAD`."""
    parts = _SPLIT.split(pattern)
    prefix = ""
    over = False
    last = len(parts) - 1
    for index in range(0, len(parts), 2):
        seen = children.get(prefix)
        if index == 0:
            pass  # the first segment names the family: many families are many families, not one variable part
        elif seen is None:
            children[prefix] = {parts[index]}
        elif len(seen) <= SPREAD:
            seen.add(parts[index])
            over = over or len(seen) > SPREAD
        if index < last:
            prefix += parts[index] + parts[index + 1]
    return over


def _live(prefix: str, wild: AbstractSet[str]) -> bool:
    """Whether a wild prefix is still reached: none of its own segments is wildcarded by a shorter one."""
    parts = _SPLIT.split(prefix)
    head = ""
    for index in range(0, len(parts) - 1, 2):
        if head in wild and parts[index] != "*":
            return False
        head += parts[index] + parts[index + 1]
    return True


def spread_prefixes(patterns: Iterable[str], wild: AbstractSet[str] = frozenset(), depth: int = UNLIMITED_DEPTH
                    ) -> frozenset[str]:
    """The prefixes after which a segment is a variable part, for this set of patterns (see *Spread*).

    ``wild`` may hold prefixes already known (from part of the keys, or another node): they stay, so
    patterns already wildcarded with them give the same answer. Only prefixes of fewer than ``depth``
    segments are kept: deeper ones are cut away by the cap anyway."""
    known = set(wild)
    current = {wildcard(pattern, known) for pattern in patterns}
    while True:
        children: dict[str, set[str]] = {}
        over = False
        for pattern in current:
            over = note_segments(pattern, children) or over
        if not over:
            break
        known.update(prefix for prefix, values in children.items() if len(values) > SPREAD)
        current = {wildcard(pattern, known) for pattern in current}
    return frozenset(prefix for prefix in known if depth_of(prefix) <= depth and _live(prefix, known))


# The byte-level fast path of :meth:`PatternGrouper.raw` (see there). Every rule above judges an ASCII
# digit by its class only, never by its value, except that a short word keeps its digits (``v2``).
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_ASCII_DIGITS = re.compile("[0-9]")
_HEX_BYTES = b"0123456789abcdefABCDEF"
_B64_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+="
_DIGIT_BYTES = b"0123456789"
_HEX_ZERO = bytes.maketrans(_HEX_BYTES, b"0" * len(_HEX_BYTES))
_UUID_SHAPE = b"00000000-0000-0000-0000-000000000000"
_ZERO_RUNS = [b"0" * size for size in range(65)]


def _variable_tail(tail: bytes) -> bool:
    """Whether a separator-free last token is a whole variable part by the rules above: a UUID, a hex id
    of 8-64 characters holding a digit, or a mixed-case base64-like token of 16-64 characters with a
    digit. Only these three, tested in C (``bytes.translate``); anything else takes the general path.

    The tail's *hex shape* (every hex character written as ``0``) settles the two common forms with one
    comparison: a UUID is exactly :data:`_UUID_SHAPE`, and a hex id is all ``0``.
    """
    size = len(tail)
    if size < 8 or size > 64:
        return False
    shape = tail.translate(_HEX_ZERO)
    if size == 36 and shape[8] == shape[13] == shape[18] == shape[23] == 45:
        return shape == _UUID_SHAPE
    if shape == _ZERO_RUNS[size]:  # hex only: a hex id when it holds a digit
        return tail.translate(None, _DIGIT_BYTES) != tail
    if b"-" in tail or b"@" in tail or tail.translate(None, _DIGIT_BYTES) == tail:
        return False
    return (size >= 16 and not tail.translate(None, _B64_BYTES)
            and tail.lower() != tail and tail.upper() != tail)


class PatternGrouper:
    """Maps key names to patterns, caching token decisions. Not thread-safe: one per scanning thread.

    The grouper itself holds no per-key state; the cap is applied by whoever counts patterns (see
    :class:`redisguard.keyspace._aggregate.Aggregator`) through :meth:`fold_depth` and :func:`cut`.

    :meth:`raw` works on the key's bytes, mostly in C, with two bounded caches in front of
    :func:`raw_pattern` (which gives the same answer for every key; a property test checks it):

    * by the name with every ASCII digit written as ``0``, when the key's pattern holds no digit: every
      rule judges a digit by its class, so such a pattern is the same for every key of that form
      (``product:SKU00953584:json`` and ``product:SKU12345678:json`` are one look-up);
    * by the part before the last ``:`` when what follows it is a UUID, hex id or base64-like token and
      the part before holds no ``-`` or ``@`` (so no UUID, e-mail or date can span the boundary):
      ``session:<uuid>`` is the pattern of ``session:`` plus ``*``.
    """

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        if cap < 1:
            raise ValueError("the pattern cap must be at least 1")
        self.cap = cap
        self._tokens: dict[str, str] = {}
        self._by_form: dict[bytes, str] = {}
        self._by_head: dict[bytes, str] = {}

    def raw(self, key: bytes) -> str:
        form = key.translate(_ZERO_DIGITS)
        found = self._by_form.get(form)
        if found is not None:
            return found
        head, sep, tail = key.rpartition(b":")
        if sep and b"-" not in head and b"@" not in head and _variable_tail(tail):
            found = self._by_head.get(head)
            if found is None:
                found = raw_pattern((head + sep).decode("utf-8", "surrogateescape"), self._tokens) + "*"
                if len(self._by_head) < _TOKEN_CACHE_LIMIT:
                    self._by_head[head] = found
            return found
        found = raw_pattern(key.decode("utf-8", "surrogateescape"), self._tokens)
        if len(self._by_form) < _TOKEN_CACHE_LIMIT and _ASCII_DIGITS.search(found) is None:
            self._by_form[form] = found
        return found

    def reference(self, key: bytes) -> str:
        """The same pattern as :meth:`raw`, judged token by token in Python (what tests compare with)."""
        return raw_pattern(key.decode("utf-8", "surrogateescape"), {}, fast=False)

    def fold_depth(self, patterns: set[str] | list[str], depth: int) -> int:
        """The largest depth ``<= depth`` at which ``patterns`` cut down fit the cap."""
        if depth >= UNLIMITED_DEPTH:
            depth = max((depth_of(p) for p in patterns), default=1)
        while depth > 0 and len({cut(p, depth) for p in patterns}) > self.cap:
            depth -= 1
        return depth

    def group_all(self, keys: list[bytes]) -> dict[bytes, str]:
        """Group a finite list of keys (for tests and small callers): key → its spread-folded, capped pattern."""
        raws = {key: self.raw(key) for key in keys}
        wild = spread_prefixes(set(raws.values()))
        distinct = {wildcard(raw, wild) for raw in raws.values()}
        depth = UNLIMITED_DEPTH if len(distinct) <= self.cap else self.fold_depth(distinct, UNLIMITED_DEPTH)
        return {key: cut(wildcard(raw, wild), depth) for key, raw in raws.items()}
