"""Key names are untrusted bytes. One lossless text form, and quoting for each place they are shown.

Text form: UTF-8 decoded with ``surrogateescape``, so a non-UTF-8 byte becomes a lone surrogate. It
survives JSON (``\\udcff``) and :func:`to_bytes` gives the exact original bytes back.

This module is the one place where a server-supplied string (a key, stream, group, consumer or client
name, an address, a version read from a snapshot) is made safe for an output: :func:`for_terminal`
(rich markup neutralised, control characters escaped, length bounded), :func:`for_markdown`,
:func:`for_csv` (spreadsheet formula guard), :func:`for_html`, :func:`quote_cli` (redis-cli), and
:func:`with_b64` for JSON readers that cannot hold a lone surrogate (jq turns it into U+FFFD).
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

__all__ = [
    "TERMINAL_LIMIT",
    "b64",
    "bounded",
    "for_csv",
    "for_html",
    "for_markdown",
    "for_terminal",
    "is_utf8",
    "markup_escape",
    "quote_cli",
    "to_bytes",
    "to_text",
    "visible",
    "with_b64",
]

TERMINAL_LIMIT = 160  # characters of one name shown on a terminal; JSON always carries it whole


def to_text(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    return raw.decode("utf-8", "surrogateescape")


def to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8
        return f"\\x{code - 0xDC00:02x}"
    if char == "\\":
        return "\\\\"
    if char == '"':
        return '\\"'
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}
    if char in named:
        return named[char]
    if code < 0x20 or code == 0x7F or (0x80 <= code < 0xA0) or char in "\u2028\u2029\u200e\u200f\u202e":
        return "".join(f"\\x{byte:02x}" for byte in char.encode("utf-8"))
    return char


def quote_cli(text: str) -> str:
    """A form redis-cli (and a shell, inside single quotes) reads back as the same bytes.

    Plain names stay bare; anything with spaces, quotes, control or non-UTF-8 bytes is double-quoted
    with redis-cli's escapes (``\\xNN``, ``\\n``, ``\\"``).
    """
    escaped = "".join(_escape_char(char) for char in text)
    if escaped == text and text and not any(char in text for char in " '\"\\") :
        return text
    return f'"{escaped}"'


def visible(text: str) -> str:
    """Control characters and non-UTF-8 bytes as ``\\xNN`` escapes; everything else as it is."""
    return "".join(_escape_char(char) if char not in '"\\' else char for char in text)


def bounded(text: str, limit: int | None = TERMINAL_LIMIT) -> str:
    """At most ``limit`` characters of ``text``, saying how many were left out."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit} chars)"


def for_terminal(text: str, limit: int | None = TERMINAL_LIMIT) -> str:
    """Escaped for a terminal (no control sequences) and for rich markup (no ``[tags]``), length bounded.

    Pass ``limit=None`` for a command a person will paste: it must be whole.
    """
    return markup_escape(visible(bounded(text, limit)))


_OPEN = re.compile(r"(\\*)\[")
_TAG_AT = re.compile(r"\[[a-z#/@][^[]*?]")


def markup_escape(text: str) -> str:
    """``text`` for rich markup, shown exactly as it is.

    ``rich.markup.escape`` only guards what looks like a tag, but rich's renderer also turns *every*
    ``\\[`` of plain text into ``[``: ``cache\\[*\\]:*`` (a glob for ``cache[1]:...``) came out as
    ``cache[*\\]:*``, a pattern that matches nothing. Here each ``[`` gets what rich will take away
    before it: a tag-like one its backslashes doubled plus one, any other one backslash more. Trailing
    backslashes are doubled, so that they cannot escape a tag that follows (where none follows, they
    show doubled: a key name ending in ``\\`` is rare, a broken tag would hide it).
    """
    if "[" not in text and not text.endswith("\\"):
        return text

    def guard(match: re.Match[str]) -> str:
        slashes = match.group(1)
        if _TAG_AT.match(text, match.end() - 1):
            return f"{slashes}{slashes}\\["
        return f"{slashes}\\[" if slashes else "["

    escaped = _OPEN.sub(guard, text)
    trailing = len(escaped) - len(escaped.rstrip("\\"))
    return escaped + "\\" * trailing


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def for_csv(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: control bytes escaped, and a leading ``=+-@``/tab/CR
    (which Excel, LibreOffice and Sheets would run as a formula) prefixed with ``'`` (OWASP's guard).
    The csv module does the quoting of commas and quotes."""
    if text.startswith(_FORMULA_START):
        return "'" + visible(text)
    return visible(text)


def is_utf8(text: str) -> bool:
    """Whether ``text`` (lossless text form) came from valid UTF-8, i.e. holds no escaped byte."""
    return not any(0xDC80 <= ord(char) <= 0xDCFF for char in text)


def b64(text: str) -> str:
    """The exact bytes behind ``text``, base64-encoded (for any JSON reader, in any language)."""
    return base64.b64encode(to_bytes(text)).decode("ascii")


def with_b64(value: Any) -> Any:
    """``value`` (JSON-shaped data) where every string that is not valid UTF-8 gets a ``<name>_b64``
    companion field beside it (for a list of strings, ``<name>_b64`` is the whole list encoded).

    The original string stays, in its lossless form: Python reads it back exactly; jq and strict
    JSON parsers see U+FFFD there and should read the companion."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            out[name] = with_b64(item)
            if isinstance(item, str) and not is_utf8(item):
                out[f"{name}_b64"] = b64(item)
            elif isinstance(item, list | tuple) and any(isinstance(e, str) and not is_utf8(e) for e in item):
                out[f"{name}_b64"] = [b64(e) if isinstance(e, str) else e for e in item]
            if isinstance(name, str) and not is_utf8(name):
                out.setdefault("_b64_names", {})[name] = b64(name)
        return out
    if isinstance(value, list | tuple):
        return [with_b64(item) for item in value]
    return value


def for_markdown(text: str) -> str:
    """For a Markdown table cell or paragraph: control bytes escaped, markup characters neutralised.

    (Markdown has no length limit here: a ticket should hold the whole name.)"""
    shown = visible(text).replace("\\", "\\\\")
    for char in "|`*_[]<>#":
        shown = shown.replace(char, "\\" + char)
    return shown.replace("\n", " ")


def for_html(text: str) -> str:
    return html.escape(visible(text))
