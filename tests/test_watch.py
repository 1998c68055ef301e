"""``redisguard watch`` against real servers: one JSON sample, plain lines when piped, a cluster's rows, and
the live screen in a real terminal (tmux): drawn, then quit with q and with Ctrl-C, terminal restored."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.exporter_helpers import settle

WATCH = [sys.executable, "-m", "redisguard", "watch"]


def _fill(admin) -> None:
    for _ in range(10):
        admin.xadd("jobs", {"v": "x" * 100})
    admin.xgroup_create("jobs", "runners", id="0")
    admin.xreadgroup("runners", "r1", {"jobs": ">"}, count=4)


def test_once_json_is_one_sample(make_server) -> None:
    server = make_server(maxmemory="20mb")
    admin = server.client()
    _fill(admin)
    admin.set("blob", "b" * 2_000_000)  # a dataset of a realistic share of used memory
    settle(admin)
    result = subprocess.run([*WATCH, server.url, "--once", "--json"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    sample = json.loads(result.stdout)
    (node,) = sample["nodes"]
    used = admin.info("memory")["used_memory"]
    assert node["up"] and node["maxmemory"] == 20 * 1024 * 1024
    assert abs(node["used"] - used) <= 0.05 * used
    assert {part["part"].split(" (")[0] for part in node["breakdown"]} >= {"dataset", "clients", "AOF buffers"}
    (stream,) = sample["streams"]
    lag = 6 if server.version >= (7, 0, 0) else None  # Redis 6.2 reports no lag: unknown, never 0
    assert stream["stream"] == "jobs"
    assert stream["groups"] == [{"group": "runners", "lag": lag, "pending": 4}]
    assert sample["total"]["counted"] == node["counted"]


def test_once_unreachable_is_one_line_exit_3() -> None:
    result = subprocess.run([*WATCH, "redis://127.0.0.1:1", "--once"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_piped_prints_one_plain_line_per_interval(make_server) -> None:
    server = make_server(maxmemory="20mb")
    proc = subprocess.Popen([*WATCH, server.url, "--interval", "0.2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    for line in lines:
        assert line.endswith("\n") and "\x1b" not in line
        assert f"max={20 * 1024 * 1024}" in line and "used=" in line and "ops=" in line


def _figures_again(proc: subprocess.Popen[str]) -> None:
    """Read watch's lines until one has figures again (within 100 lines): the 20 MiB server's maxmemory."""
    assert proc.stdout is not None
    back = ""
    for _ in range(100):
        back = proc.stdout.readline()
        if "used=" in back:
            break
    assert f"max={20 * 1024 * 1024}" in back, back


def test_piped_a_server_killed_and_restarted_is_a_down_line_then_figures_again(make_server) -> None:
    """While the server is gone a line says so with the reason, and no figures (not ``used=0``); once it is
    back on its port, the lines have figures again, from the same process."""
    server = make_server(maxmemory="20mb")
    proc = subprocess.Popen([*WATCH, server.url, "--interval", "0.2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert "used=" in proc.stdout.readline()
        assert server.process is not None
        server.process.kill()  # our own server, by its PID
        server.process.wait(timeout=10)
        server.stop()  # already gone: only its handles are closed
        down = ""
        for _ in range(50):
            down = proc.stdout.readline()
            if " down: " in down:
                break
        assert " down: " in down and "used=" not in down and "max=" not in down, down
        server.start()  # the same port
        _figures_again(proc)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert proc.returncode is not None


def test_json_a_node_that_does_not_answer_has_null_figures(make_server) -> None:
    server = make_server(maxmemory="20mb")
    proc = subprocess.Popen([*WATCH, server.url, "--interval", "0.2", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["nodes"][0]["maxmemory"] == 20 * 1024 * 1024
        assert server.process is not None
        server.process.kill()  # our own server, by its PID
        server.process.wait(timeout=10)
        server.stop()
        for _ in range(50):
            sample = json.loads(proc.stdout.readline())
            if not sample["nodes"][0]["up"]:
                break
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    (node,) = sample["nodes"]
    assert not node["up"] and node["error"]
    for view in (node, sample["total"]):
        assert view["used"] is None and view["maxmemory"] is None and view["clients"] is None, view


@pytest.mark.cluster
def test_cluster_has_one_row_per_primary_and_the_total(cluster) -> None:
    result = subprocess.run([*WATCH, cluster.url, "--once", "--json"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    sample = json.loads(result.stdout)
    assert sample["mode"] == "cluster"
    assert sorted(node["node"] for node in sample["nodes"]) == sorted(
        f"127.0.0.1:{node.port}" for node in cluster.primary_nodes)
    assert sample["total"]["used"] == sum(node["used"] for node in sample["nodes"])


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30, check=False).stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
@pytest.mark.parametrize("key, code", [("q", 0), ("C-c", 130)])
def test_live_screen_in_a_terminal_quits_and_restores(make_server, tmp_path: Path, key: str, code: int) -> None:
    server = make_server(maxmemory="30mb")
    admin = server.client()
    _fill(admin)
    stop = threading.Event()

    def grow() -> None:  # bounded: at most 20 s, about 2 MB
        writer = server.client()
        for index in range(400):
            if stop.is_set():
                return
            writer.set(f"grow:{index}", "g" * 5000)
            stop.wait(0.05)

    session = f"rgwatch{server.port}"
    status = tmp_path / "status"
    # the size tmux gives the pane, not a COLUMNS inherited from a detached tmux server
    command = (f"env -u COLUMNS -u LINES -u CI {sys.executable} -m redisguard watch {server.url} --interval 0.3; "
               f"echo $? > {status}; echo watch-ended; sleep 20")
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "50", command)
    _tmux("resize-window", "-t", session, "-x", "120", "-y", "50")
    writer = threading.Thread(target=grow, daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        screen = ""
        while time.monotonic() < deadline:
            screen = _tmux("capture-pane", "-p", "-t", session)
            if "jobs" in screen and "runners" in screen:
                break
            time.sleep(0.3)
        time.sleep(2)
        screen = _tmux("capture-pane", "-p", "-t", session)
        (tmp_path / "screen.txt").write_text(screen)
        assert "redisguard watch" in screen and "q to quit" in screen
        assert "memory" in screen and "/ 30.0 MiB" in screen
        assert "jobs" in screen and "runners" in screen and "dataset" in screen
        _tmux("send-keys", "-t", session, key)
        deadline = time.monotonic() + 20
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.exists(), "watch did not quit"
        assert status.read_text().strip() == str(code)
        time.sleep(0.5)
        after = _tmux("capture-pane", "-p", "-t", session)
        assert "watch-ended" in after  # the pane is still there, back on the normal screen
        assert "q to quit" not in after  # the alternate screen is gone: the terminal is as it was
    finally:
        stop.set()
        writer.join(timeout=10)
        _tmux("kill-session", "-t", session)


def test_a_user_without_client_setname_watches_unnamed(make_server) -> None:
    """Every other command connects unnamed where CLIENT SETNAME is refused; watch (and the exporter, through
    the same connections) failed on it: 'permission denied (... 'client|setname' ...)', exit 3."""
    server = make_server()
    admin = server.client()
    admin.acl_setuser("watcher", enabled=True, passwords=["+pw"], keys=["*"],
                      commands=["+@read", "+info", "+ping", "+scan", "+time", "-client"])
    url = f"redis://watcher:pw@127.0.0.1:{server.port}/0"
    result = subprocess.run([*WATCH, url, "--once", "--json"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    (node,) = json.loads(result.stdout)["nodes"]
    assert node["up"] and node["used"] > 0


@pytest.mark.parametrize("how", ["denied", "renamed"])
def test_a_node_that_refuses_info_is_one_line_naming_info_not_a_down_node(make_server, how: str) -> None:
    """watch reads every figure from INFO: refused, it said 'down: no reply' and exited 0."""
    if how == "renamed":
        server = make_server(extra_args=["--rename-command", "INFO", ""])
        url = server.url
    else:
        server = make_server()
        server.client().acl_setuser("noinfo", enabled=True, passwords=["+pw"], keys=["*"],
                                    commands=["+@read", "+ping", "+client|setname", "-info"])
        url = f"redis://noinfo:pw@127.0.0.1:{server.port}/0"
    for extra in (["--once"], ["--once", "--json"], ["--interval", "0.2"]):
        result = subprocess.run([*WATCH, url, *extra], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 3 and result.stdout == "", (extra, result.stdout, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert "no figures to watch: INFO" in line and "no reply" not in line, line
        assert ("+info" in line) if how == "denied" else ("not available" in line), line


def test_piped_a_paused_server_is_a_down_line_naming_the_target_once_then_figures_again(make_server) -> None:
    """A server paused (SIGSTOP) under watch: each down line names the target once (the reason repeated it:
    '<target> down: <target>: no Redis reply ...'), then figures again once it runs on (SIGCONT)."""
    import os
    import signal

    server = make_server(maxmemory="20mb")
    assert server.process is not None
    pid = server.process.pid  # our own server
    proc = subprocess.Popen([*WATCH, server.url, "--interval", "0.3", "--timeout", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert "used=" in proc.stdout.readline()
        os.kill(pid, signal.SIGSTOP)
        downs: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("timeout" in line for line in downs):
            line = proc.stdout.readline()
            if " down: " in line:
                downs.append(line)
        assert any("timeout" in line for line in downs), downs
        for line in downs:
            assert line.count(server.url) == 1 and "used=" not in line, line
        os.kill(pid, signal.SIGCONT)
        _figures_again(proc)
    finally:
        os.kill(pid, signal.SIGCONT)
        proc.terminate()
        proc.communicate(timeout=20)


def test_once_against_a_paused_server_waits_its_timeout_and_names_the_target(make_server) -> None:
    """--timeout is watch's to set (it used to be a fixed 2-10 s, and the line named --scrape-timeout, an
    exporter option, and no target)."""
    import os
    import signal

    server = make_server()
    assert server.process is not None
    pid = server.process.pid  # our own server
    os.kill(pid, signal.SIGSTOP)
    try:
        result = subprocess.run([*WATCH, server.url, "--once", "--timeout", "3"], capture_output=True, text=True,
                                timeout=60, stdin=subprocess.DEVNULL, check=False)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert result.returncode == 3 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"redisguard: {server.url}: ") and "--timeout (3 s)" in result.stderr
    assert "scrape-timeout" not in result.stderr
