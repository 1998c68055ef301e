"""Bytes a stream entry takes in its listpack node, from the entry's fields and values (pure).

Measured on Redis 7.0/8.2 and Valkey 8.1 (used_memory freed per entry by a trim, 16/200/1000-byte values):
the listpack encoding of the values plus ~4 bytes of per-entry header, plus the node's own overhead
(~60 bytes: listpack header, master entry, radix-tree node, allocation rounding) shared by the entries of
one node. Redis 6.2 frees more per entry for entries under ~512 bytes (measured: 31 B against 25 B for
16-byte values, 258 B against 213 B for 200-byte values, the same for 1000-byte values): its nodes' allocations
round up further, so its estimate is scaled by the measured 1.2.
"""

from __future__ import annotations

__all__ = ["entry_bytes", "lp_element_size"]

_NODE_OVERHEAD = 60
_ENTRY_HEADER = 4
_NODE_MAX_BYTES = 4096
_NODE_MAX_ENTRIES = 100
_LEGACY_FACTOR = 1.2  # Redis < 7.0, entries under _LEGACY_BELOW bytes (measured on 6.2.5)
_LEGACY_BELOW = 512


def _backlen(size: int) -> int:
    return 1 if size < 128 else 2 if size < 16384 else 3 if size < 2097152 else 4 if size < 268435456 else 5


def lp_element_size(value: bytes) -> int:
    """Bytes of one listpack element (integers are stored as integers)."""
    text = value.decode("ascii", "replace")
    if text and len(text) <= 20 and (text.isdigit() or (text[0] == "-" and text[1:].isdigit())) \
            and not (len(text) > 1 and text.lstrip("-").startswith("0")):
        number = int(text)
        if -(2**63) <= number < 2**63:
            if 0 <= number <= 127:
                return 2
            for bits, size in ((13, 2), (16, 3), (24, 4), (32, 5)):
                if -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
                    return size + 1
            return 10
    length = len(value)
    header = 1 if length < 64 else 2 if length < 4096 else 5
    return header + length + _backlen(header + length)


def entry_bytes(entries: list[dict[bytes, bytes]], master_fields: list[bytes] | None = None,
                node_max_bytes: int = _NODE_MAX_BYTES, node_max_entries: int = _NODE_MAX_ENTRIES,
                *, legacy: bool = False) -> float:
    """Mean bytes per entry for a sample of entries (``{field: value}``), node overhead included."""
    if not entries:
        return 0.0
    master = master_fields if master_fields is not None else list(entries[0])
    sizes = []
    for fields in entries:
        size = _ENTRY_HEADER + sum(lp_element_size(value) for value in fields.values())
        if list(fields) != master:
            size += 2 + sum(lp_element_size(name) for name in fields)
        sizes.append(size)
    mean = sum(sizes) / len(sizes)
    per_node = max(1, min(node_max_entries, int(node_max_bytes // max(mean, 1))))
    per_entry = mean + _NODE_OVERHEAD / per_node
    return per_entry * _LEGACY_FACTOR if legacy and mean < _LEGACY_BELOW else per_entry
