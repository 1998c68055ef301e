"""Key names are untrusted bytes. One lossless text form, and quoting for each place they are shown.

Text form: UTF-8 decoded with ``surrogateescape``, so a non-UTF-8 byte becomes a lone surrogate. It
survives JSON (``\\udcff``) and :func:`to_bytes` gives the exact original bytes back.
"""

from __future__ import annotations

import html

__all__ = ["for_html", "for_markdown", "for_terminal", "quote_cli", "to_bytes", "to_text", "visible"]


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


def for_terminal(text: str) -> str:
    """Escaped for a terminal (no control sequences) and for rich markup (no ``[tags]``)."""
    from rich.markup import escape

    return escape(visible(text))


def for_markdown(text: str) -> str:
    """For a Markdown table cell or paragraph: control bytes escaped, markup characters neutralised."""
    shown = visible(text).replace("\\", "\\\\")
    for char in "|`*_[]<>#":
        shown = shown.replace(char, "\\" + char)
    return shown.replace("\n", " ")


def for_html(text: str) -> str:
    return html.escape(visible(text))
