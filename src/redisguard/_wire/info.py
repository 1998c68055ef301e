"""INFO text, kept section by section as the server's own text values."""

from __future__ import annotations

__all__ = ["parse_info_text"]


def parse_info_text(text: str) -> dict[str, dict[str, str]]:
    """``# Memory\\nused_memory:123`` -> ``{"memory": {"used_memory": "123"}}``.

    redis-py's own parser flattens the sections; the snapshot keeps them for the report.
    """
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("default", {})
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = sections.setdefault(line.lstrip("# ").strip().lower(), {})
            continue
        name, sep, value = line.partition(":")
        if sep:
            current[name] = value
    if not sections["default"]:
        del sections["default"]
    return sections
