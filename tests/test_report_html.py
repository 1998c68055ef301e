"""`redisguard report`: one self-contained HTML file, every name from Redis escaped, nothing loaded.

The data is real: a server started by the suite holds keys, streams, groups, consumers and a client
named with hostile text (HTML/script injection, ANSI escapes, newlines, invalid UTF-8); the report is
made from it live (with ``--keys``) and from saved snapshots (``--from``, twice: a history).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import redis

from redisguard.localserver import LocalServer

REDISGUARD = [sys.executable, "-m", "redisguard"]

SCRIPT_KEY = "<script>alert(1)</script>"
IMG_KEY = '"><img src=x onerror=alert(1)>'
ANSI_STREAM = "\x1b[31mred\nstream"
ANSI_GROUP = "grp\x1b[2J<b>bold</b>"
NEWLINE_CONSUMER = "worker\n<i>1</i>"
BAD_UTF8_KEY = b"bad\xff\xfe<u>utf8"
CLIENT_NAME = "evil<script>x</script>"  # CLIENT SETNAME refuses spaces and newlines, not markup


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=120, check=False)


def load_hostile(client: redis.Redis) -> None:
    client.config_set("slowlog-log-slower-than", "0")  # every command lands in the slow log, hostile keys too
    client.set(SCRIPT_KEY, "x" * 5000)
    client.set(IMG_KEY, "y" * 4000)
    client.set(BAD_UTF8_KEY, "z" * 3000)
    for index in range(200):
        client.set(f"session:{index}", "s" * 100)
        client.set(f"cache:{index}", "c" * 50, ex=3600)
    for index in range(50):
        client.xadd(ANSI_STREAM, {"n": str(index), "body": "b" * 80})
    client.xgroup_create(ANSI_STREAM, ANSI_GROUP, id="0")
    client.xreadgroup(ANSI_GROUP, NEWLINE_CONSUMER, {ANSI_STREAM: ">"}, count=20)
    client.xgroup_create(ANSI_STREAM, "never-read", id="0")


class _Page(HTMLParser):
    """Every tag and attribute, and the text of <style> and <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.style: list[str] = []
        self.script: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.style.append(data)
        elif self._in == "script":
            self.script.append(data)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def assert_self_contained_and_escaped(page_text: str) -> None:
    raw = page_text
    # 1. No hostile text survives as markup, and no control character reaches the file.
    for hostile in (SCRIPT_KEY, "<img", "<b>bold", "<i>1</i>", "<u>utf8", "<script>x</script>", "onerror=alert(1)>"):
        assert hostile not in raw, hostile
    assert "\x1b" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw  # shown as text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in raw
    assert "\\x1b[31mred\\nstream" in raw  # the ANSI escape and the newline, visible as escapes
    assert "bad\\xff\\xfe&lt;u&gt;utf8" in raw  # invalid UTF-8 bytes as \xNN
    assert "worker\\n&lt;i&gt;1&lt;/i&gt;" in raw or "grp\\x1b[2J&lt;b&gt;bold&lt;/b&gt;" in raw
    # 2. Nothing outside the file is referenced.
    assert "http://" not in raw and "https://" not in raw
    page = _Page()
    page.feed(raw)
    names = [tag for tag, _ in page.tags]
    assert names.count("script") == 1 and names.count("style") == 1
    assert not {"img", "iframe", "link", "object", "embed", "image", "use", "base", "form", "audio", "video",
                "source"} & set(names)
    for tag, attrs in page.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)  # no inline event handler (the CSP forbids them too)
            assert name not in ("src", "href", "xlink:href", "action", "srcset", "style"), (tag, name)
            assert "//" not in (value or "") or name == "content", (tag, name, value)
    css = "".join(page.style)
    assert "url(" not in css and "@import" not in css and "//" not in css
    assert "//" not in "".join(page.script) and "fetch(" not in "".join(page.script)
    # 3. A Content-Security-Policy that loads nothing, allowing exactly this style and this script.
    csp = [dict(attrs).get("content") or "" for tag, attrs in page.tags
           if tag == "meta" and dict(attrs).get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1
    policy = csp[0]
    assert policy.startswith("default-src 'none';")
    assert f"style-src {_hash(css)};" in policy
    assert f"script-src {_hash(''.join(page.script))};" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert names.index("meta") < names.index("style")  # the policy is set before anything it governs


def test_live_report_with_keys_escapes_every_hostile_name(make_server, tmp_path: Path) -> None:
    server: LocalServer = make_server(maxmemory="50mb", maxmemory_policy="noeviction")
    with server.client() as client:
        load_hostile(client)
        named = server.client()
        named.client_setname(CLIENT_NAME)
        named.ping()
        try:
            out = tmp_path / "report.html"
            result = run_cli("report", server.url, "-o", str(out), "--keys", "--max-impact", "1", "--budget", "10",
                             "--json")
        finally:
            named.close()
    assert result.returncode in (1, 2), result.stderr  # the never-read group and the backlog are findings
    assert "Traceback" not in result.stderr
    assert f"report written to {out}" in result.stderr  # with --json, stdout is the data
    data = json.loads(result.stdout)
    text = out.read_text(encoding="utf-8")
    assert_self_contained_and_escaped(text)
    assert "evil&lt;script&gt;x&lt;/script&gt;" in text  # the client's name, as text
    assert 'id="findings"' in text and 'class="copy"' in text
    assert "keyspace scan: full scan" in text  # --keys ran the scan (a small keyspace: all of it)
    # A copy button for every runnable fix and config change, and for nothing else; advice is never in <code>.
    findings = data["findings"]
    runnable = [c for f in findings for c in f["commands"]]
    assert runnable and all(c["kind"] in ("redis-cli", "redisguard") for c in runnable)
    changes = [d["command"] for audit in data["config"] for d in audit["differences"]]
    assert text.count('class="copy"') == len(runnable) + len(changes)
    # The config audit against the workload (redisguard.remedy): streams make this a queue.
    (audit,) = data["config"]
    assert audit["workload"] == "queue" and audit["memory_bytes"] > 0
    assert all(c["text"].startswith("redis-cli ") and " CONFIG SET " in c["text"] for c in changes)
    assert 'id="config"' in text
    for advice in (a for f in findings for a in f["advice"]):
        assert f"<code>{html.escape(advice['text'])}" not in text
    assert any("printf" in c["text"] and "redis-cli" in c["text"] for c in runnable)  # a hostile name, piped
    # The stream's safe point is pinned by the group that never read: nothing can be trimmed, and it says so.
    assert "0 entries, about 0 B, before 0-1 (pinned by group never-read)" in text


def test_report_from_a_history_of_snapshots(make_server, tmp_path: Path) -> None:
    server: LocalServer = make_server(maxmemory="50mb", maxmemory_policy="noeviction")
    paths = []
    with server.client() as client:
        load_hostile(client)
        for step in range(3):
            client.set(f"growth:{step}", "g" * 300_000)
            path = tmp_path / f"snap{step}.json"
            result = run_cli("snapshot", server.url, "-o", str(path))
            assert result.returncode == 0, result.stderr
            paths.append(path)
    out = tmp_path / "history.html"
    args = [arg for path in paths for arg in ("--from", str(path))]
    unwritable = run_cli("report", *args, "-o", str(tmp_path / "no-such-dir" / "r.html"))
    assert unwritable.returncode == 2 and unwritable.stderr.count("\n") == 1 and "cannot write" in unwritable.stderr
    result = run_cli("report", *args, "-o", str(out), "--json")
    assert result.returncode in (1, 2), result.stderr
    data = json.loads(result.stdout)
    points = data["timeline"]["points"]
    assert len(points) == 3 and points[0][1] < points[1][1] < points[2][1]
    assert data["timeline"]["limit"] == 50 * 1024 * 1024
    text = out.read_text(encoding="utf-8")
    assert_self_contained_and_escaped(text)
    assert 'class="used" points="' in text  # the series is drawn
    # The findings come most severe first, then by bytes at stake.
    order = [(2 if f["severity"] == "critical" else 1 if f["severity"] == "warning" else 0,
              f["bytes_at_stake"] or 0) for f in data["findings"]]
    assert order == sorted(order, key=lambda pair: (-pair[0], -pair[1]))


def test_report_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run_cli("report", "--from", str(bad), "-o", str(tmp_path / "x.html"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not JSON" in result.stderr
    result = run_cli("report", "--from", str(bad), "--keys")
    assert result.returncode == 2 and "--keys scans a server" in result.stderr
    result = run_cli("report", "redis://127.0.0.1:1", "-o", str(tmp_path / "x.html"), "--connect-timeout", "1")
    assert result.returncode == 3 and "Traceback" not in result.stderr


def test_written_file_is_only_the_report(tmp_path: Path) -> None:
    """No script text can close the <script> element early: the one script holds no '</'."""
    from redisguard.render.html import CSS, SCRIPT

    assert "</" not in SCRIPT and "</" not in CSS
    assert not re.search(r"https?:|//", SCRIPT + CSS)


@pytest.mark.parametrize("injected", [
    f"<p>{SCRIPT_KEY}</p>", '<img src="x.png">', "<p>\x1b[31m</p>", '<a href="https://example.invalid/">x</a>',
    '<svg><use href="//example.invalid/s.svg"></use></svg>', '<p onclick="alert(1)">x</p>',
])
def test_the_page_checks_catch_what_they_look_for(injected: str) -> None:
    """The checks above are not vacuous: a page that breaks one of them fails it."""
    from redisguard.render.html import CSS, SCRIPT, content_security_policy

    page = (f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
            f'content="{content_security_policy()}"><style>{CSS}</style></head><body>'
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src=x onerror=alert(1)&gt; "
            "\\x1b[31mred\\nstream bad\\xff\\xfe&lt;u&gt;utf8 worker\\n&lt;i&gt;1&lt;/i&gt;</p>"
            f"@INJECT@<script>{SCRIPT}</script></body></html>")
    assert_self_contained_and_escaped(page.replace("@INJECT@", ""))  # the clean control page passes
    with pytest.raises(AssertionError):
        assert_self_contained_and_escaped(page.replace("@INJECT@", injected))


def test_a_growing_series_of_snapshots_gets_a_forecast(make_server, tmp_path: Path) -> None:
    """Twelve snapshots of a server that grows by about 256 KiB each: the page says when maxmemory is reached."""
    from redisguard.collect import collect_snapshot
    from redisguard.connect import ConnectionOptions
    from redisguard.snapshot import dump

    server: LocalServer = make_server(maxmemory="40mb", maxmemory_policy="noeviction")
    args = []
    with server.client() as client:
        for step in range(12):
            client.set(f"blob:{step}", "b" * 256 * 1024)
            snapshot = collect_snapshot(ConnectionOptions.build(server.url))
            snapshot.taken_at = 1_700_000_000.0 + 60 * step  # a snapshot a minute (the series' times, not a clock)
            path = tmp_path / f"s{step:02}.json"
            dump(snapshot, path)
            args += ["--from", str(path)]
    out = tmp_path / "forecast.html"
    result = run_cli("report", *args, "-o", str(out), "--json")
    assert result.returncode in (0, 1, 2), result.stderr
    timeline = json.loads(result.stdout)["timeline"]
    forecast = timeline["forecast"]
    assert forecast is not None, timeline["forecast_note"]
    assert forecast["consequence"] == "write errors"  # noeviction
    rate = forecast["rate_bytes_per_second"]
    assert 256 * 1024 / 60 * 0.8 < rate < 256 * 1024 / 60 * 1.5  # ~256 KiB a minute, plus each key's overhead
    assert forecast["seconds_lower"] <= forecast["seconds_to_limit"] <= forecast["seconds_upper"]
    text = out.read_text(encoding="utf-8")
    assert "<strong>Forecast:</strong>" in text and 'class="fc"' in text and 'class="band"' in text
    # The history rule over the same series is a finding too, first among the findings of its severity.
    ids = [f["id"] for f in json.loads(result.stdout)["findings"]]
    assert "memory.forecast-full" in ids


@pytest.mark.cluster
def test_cluster_report_has_a_row_per_node_and_the_total(cluster, tmp_path: Path) -> None:
    from redisguard.localserver import LocalCluster

    assert isinstance(cluster, LocalCluster)
    client = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    keys = [f"rg-report-{n}:{SCRIPT_KEY}" for n in range(30)]
    streams = [f"rg-report-stream-{n}" for n in range(4)]
    try:
        for key in keys:
            client.set(key, "v" * 500)
        for key in streams:
            client.xadd(key, {"n": "1"})
            client.xgroup_create(key, "g", id="0")
        out = tmp_path / "cluster.html"
        result = run_cli("report", cluster.url, "-o", str(out), "--keys", "--json")
        assert result.returncode in (0, 1, 2), result.stderr
        data = json.loads(result.stdout)
        primaries = [node for node in data["nodes"] if node["role"] == "primary"]
        assert len(primaries) == 3
        assert data["total"]["address"] == "total of 3 nodes"
        assert data["total"]["used"] == sum(node["used"] for node in data["nodes"])
        assert data["total"]["keys"] == sum(node["keys"] for node in data["nodes"])
        assert {row["key"] for row in data["streams"]} >= set(streams)
        assert len({row["node"] for row in data["streams"] if row["key"] in streams}) >= 2  # over the shards
        text = out.read_text(encoding="utf-8")
        assert text.count('<tr class="total">') == 1 and "total of 3 nodes" in text
        assert "Nodes and cluster total" in text
        assert_self_contained_and_escaped_names(text)
    finally:
        for key in keys:
            client.delete(key)
        for key in streams:
            client.delete(key)
        client.close()


def assert_self_contained_and_escaped_names(text: str) -> None:
    assert SCRIPT_KEY not in text and "http://" not in text and "https://" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_report_of_an_empty_server_without_a_limit(make_server, tmp_path: Path) -> None:
    """Nothing to show is shown as such: no limit, no keys, no streams, no clients; still a valid page."""
    server: LocalServer = make_server()
    out = tmp_path / "empty.html"
    result = run_cli("report", server.url, "-o", str(out), "--json")
    data = json.loads(result.stdout)
    assert result.returncode == data["exit_code"], result.stderr
    assert data["nodes"][0]["maxmemory"] == 0 and data["nodes"][0]["used_share"] is None
    assert data["streams"] == [] and data["total"] is None
    text = out.read_text(encoding="utf-8")
    assert "maxmemory not set" in text and "No streams." in text
    assert "<strong>Forecast:</strong>" not in text
    page = _Page()
    page.feed(text)
    assert [tag for tag, _ in page.tags].count("script") == 1


@pytest.mark.parametrize("mutate", ["binary", "deep", "role-int", "address-int", "memory-doctor-int", "no-nodes",
                                    "truncated-str", "plan-binary"])
def test_a_damaged_or_hand_edited_file_is_refused_in_one_line(tmp_path: Path, mutate: str) -> None:
    """Not UTF-8, nested too deep, a field of the wrong type, no node: exit 2 and one line, never an internal
    error (exit 4) from deep inside a rule."""
    data = json.loads((Path(__file__).parent / "snapshots" / "healthy-cache--redis-7.0.15.json").read_text())
    path = tmp_path / "edited.json"
    node = data["nodes"][0]
    if mutate in ("binary", "plan-binary"):
        path.write_bytes(b"\xff\xfe\x00garbage")
    elif mutate == "deep":
        path.write_text("[" * 100_000)
    else:
        if mutate == "role-int":
            node["role"] = 12345
        elif mutate == "address-int":
            node["address"] = 12345
        elif mutate == "memory-doctor-int":
            node["memory_doctor"] = 12345
        elif mutate == "no-nodes":
            data["nodes"] = []
        else:
            node["streams_truncated"] = "zz"
        path.write_text(json.dumps(data))
    if mutate == "plan-binary":
        result = run_cli("fix", "--apply", "--yes", "--plan", str(path), "redis://127.0.0.1:1")
    else:
        result = run_cli("doctor", "--from", str(path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr, result.stderr
