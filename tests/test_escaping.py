"""Hostile names through every renderer: terminal (markup, control bytes, length), Markdown, CSV, JSON."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from redisguard.keynames import TERMINAL_LIMIT, for_csv, for_markdown, for_terminal, markup_escape, to_text, with_b64
from redisguard.localserver import LocalServer

REDISGUARD = [sys.executable, "-m", "redisguard"]


def test_terminal_neutralises_markup_controls_and_bounds_length() -> None:
    shown = for_terminal("[bold red]x[/]\x1b[2J\x07\u202e" + "y" * 1000)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "\\[bold red]" in shown  # rich would otherwise render it as a style
    assert "(+" in shown and len(shown) < TERMINAL_LIMIT + 80
    assert for_terminal("z" * 1000, None).count("z") == 1000  # a command to paste is never cut


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="\\[]/#@a=* :", max_size=16))
def test_markup_escape_shows_the_text_exactly_between_tags(text: str) -> None:
    """rich shows what was escaped byte for byte, tags around it kept: a printed glob such as
    ``cache\\[*\\]:*`` must be the one ``--json`` gives, or pasting it matches nothing."""
    assert Text.from_markup(f"[green]$[/] [bold]{markup_escape(text)}[/bold]", emoji=False).plain == f"$ {text}"
    if not text.endswith("\\"):  # trailing backslashes are doubled so that they cannot escape a following tag
        assert Text.from_markup(f"{markup_escape(text)} [bold]end[/]", emoji=False).plain == f"{text} end"


def test_markdown_cell_cannot_break_the_table_or_inject_html() -> None:
    cell = for_markdown("a|b`c<script>*d*\n# e")
    assert "|" not in cell.replace("\\|", "") and "<script>" not in cell and "\n" not in cell


def test_csv_guards_formula_injection() -> None:
    for dangerous in ("=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        cell = for_csv(dangerous)
        assert cell.startswith("'"), cell
        assert "\t" not in cell and "\r" not in cell
    assert for_csv("plain:key") == "plain:key"
    buffer = io.StringIO()
    csv.writer(buffer).writerow([for_csv('=cmd|" /C calc"!A0'), for_csv("a,b\nc")])
    row = next(csv.reader(io.StringIO(buffer.getvalue())))
    assert row[0].startswith("'=") and row[1] == "a,b\\nc"


def test_json_companion_field_for_non_utf8() -> None:
    raw = b"k\xff\xfe:1"
    data = with_b64({"stream": to_text(raw), "argv": ["XDEL", to_text(raw)], "ok": "plain", "n": 3})
    assert base64.b64decode(data["stream_b64"]) == raw
    assert [base64.b64decode(arg) for arg in data["argv_b64"]] == [b"XDEL", raw]
    assert "ok_b64" not in data and data["n"] == 3
    assert json.loads(json.dumps(data))["stream"].encode("utf-8", "surrogateescape") == raw


def test_hostile_names_in_every_doctor_format(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="noeviction")
    long_name = b"[red]evil\x1b]0;pwned\x07" + b"L" * 600 + b"\xff"
    with srv.client() as client:
        for _ in range(20):
            client.xadd(long_name, {"f": "v"})
        client.xgroup_create(long_name, b"grp|`<b>", id="0")
    args = ("doctor", srv.url, "--key-sample", "0", "--threshold", "backlog_entries=10")
    run = [subprocess.run([*REDISGUARD, *args, *extra], capture_output=True, text=True, timeout=120, check=False)
           for extra in ((), ("--markdown",), ("--json",))]
    terminal, markdown, as_json = (result.stdout for result in run)
    assert all(result.returncode in (1, 2) for result in run), [result.stderr for result in run]
    assert "\x1b" not in terminal + markdown and "\x07" not in terminal + markdown
    report = json.loads(as_json)
    commands = sum(1 for f in report["findings"] for fix in f["fixes"] if fix["shell"] and "L" * 600 in fix["shell"])
    flat = terminal.replace("\n", "").replace("│", "").replace(" ", "")
    assert commands and flat.count("L" * 600) == commands  # whole in the commands to paste, bounded elsewhere
    streams = [f["evidence"]["stream"] for f in report["findings"] if f["id"] == "streams.backlog"]
    assert streams and streams[0].encode("utf-8", "surrogateescape") == long_name  # whole in JSON
    backlog = next(f for f in report["findings"] if f["id"] == "streams.backlog")
    assert base64.b64decode(backlog["evidence"]["stream_b64"]) == long_name


def test_a_glob_with_brackets_and_an_emoji_code_print_as_the_json_gives_them(make_server) -> None:
    """``cache[1]:N`` keys make the pattern ``cache\\[*\\]:*``: the terminal table must show that, not
    ``cache[*\\]:*`` (which rich's markup left and which matches nothing), and ``:smile:`` is a name."""
    srv: LocalServer = make_server()
    with srv.client() as client:
        client.mset({f"cache[{n}]:{n}": "x" * 200 for n in range(300)})
        client.set(":smile:", "y" * 20_000)
    env = {"COLUMNS": "200"}
    import os
    shown = subprocess.run([*REDISGUARD, "keys", srv.url], capture_output=True, text=True, timeout=120, check=True,
                           env={**os.environ, **env}).stdout
    data = json.loads(subprocess.run([*REDISGUARD, "keys", srv.url, "--json"], capture_output=True, text=True,
                                     timeout=120, check=True).stdout)
    assert {row["pattern"] for row in data["patterns"]} == {"cache\\[*\\]:*", ":smile:"}
    assert "cache\\[*\\]:*" in shown and ":smile:" in shown and "\U0001f604" not in shown, shown
