"""redisguard config: the generated fragment starts every redis-server version under test, and
config --check on that server finds no difference; a server off the recommendation gets the CONFIG SET."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from redisguard.cli import cli
from redisguard.localserver import LocalServer, RedisBinary
from redisguard.remedy import ServerVersion, audit, recommend
from redisguard.remedy.live import read_config


def _version_arg(binary: RedisBinary) -> str:
    valkey = "valkey" in Path(binary.path).name
    return ("valkey-" if valkey else "") + f"{binary.version[0]}.{binary.version[1]}"


@pytest.mark.parametrize("workload", ["cache", "queue", "store"])
def test_generated_file_starts_the_server_and_check_finds_no_difference(
        workload: str, redis_binary: RedisBinary, tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["config", "--workload", workload, "--memory", "256mb",
                               "--for-version", _version_arg(redis_binary)])
    assert made.exit_code == 0, made.output
    conf = tmp_path / "redisguard.conf"
    conf.write_text(made.output)
    assert "maxmemory " in made.output and "# " in made.output
    srv = LocalServer(redis_binary, config={"include": str(conf)}, workdir=tmp_path)
    with srv:
        with srv.client() as client:
            assert client.config_get("maxmemory")["maxmemory"] == str(int(256 * 1024 * 1024 * (
                0.75 if workload == "cache" else 0.6)) // (1024 * 1024) * (1024 * 1024))
        checked = runner.invoke(cli, ["config", "--check", srv.url, "--workload", workload, "--memory", "256mb",
                                      "--json"])
        report = json.loads(checked.output)
        assert checked.exit_code == 0, report
        assert report["differences"] == []
        assert report["version"].startswith("Valkey" if "valkey" in redis_binary.path else "Redis")


def test_check_reports_each_difference_with_its_config_set(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="10mb", maxmemory_policy="allkeys-lru", save="60 10000")
    runner = CliRunner()
    result = runner.invoke(cli, ["config", "--check", srv.url, "--workload", "store", "--memory", "100mb",
                                 "--json"])
    assert result.exit_code == 1
    diffs = {d["name"]: d for d in json.loads(result.output)["differences"]}
    assert diffs["maxmemory-policy"]["current"] == "allkeys-lru"
    assert diffs["maxmemory-policy"]["command"] == "CONFIG SET maxmemory-policy noeviction"
    assert diffs["save"]["command"] == 'CONFIG SET save "3600 1 300 100"'
    assert diffs["maxmemory"]["recommended"] == str(60 * 1024 * 1024)
    assert diffs["maxmemory"]["reason"]
    # closing every difference with its own command leaves none
    with srv.client() as client:
        for diff in diffs.values():
            client.execute_command(*diff["argv"])
        version = ServerVersion.from_info({k: str(v) for k, v in client.info("server").items()})
        settings = recommend("store", 100 * 1024 * 1024, version)
        assert audit(read_config(client, [s.name for s in settings]), settings) == []
    text = runner.invoke(cli, ["config", "--check", srv.url, "--workload", "store", "--memory", "100mb"])
    assert text.exit_code == 0 and "matches" in text.output


def test_bad_input_is_one_line() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "--workload", "cache"]).exit_code == 2
    bad = runner.invoke(cli, ["config", "--workload", "cache", "--memory", "lots"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    bad = runner.invoke(cli, ["config", "--workload", "cache", "--memory", "1gb", "--for-version", "seven"])
    assert bad.exit_code == 2 and "not a version" in bad.output


def test_version_adaptation() -> None:
    old = {s.name for s in recommend("cache", 1 << 30, ServerVersion.parse("6.2"))}
    new = {s.name for s in recommend("cache", 1 << 30, ServerVersion.parse("7.0"))}
    assert "maxmemory-clients" in new - old
    queue = {s.name: s.value for s in recommend("queue", 1 << 30, ServerVersion.parse("valkey-8.1"))}
    assert queue["maxmemory-policy"] == "noeviction" and "stream-node-max-entries" in queue
    assert ServerVersion.parse("8.2").defrag_crash_range and not ServerVersion.parse("valkey-8.1").defrag_crash_range


def test_a_memory_too_small_for_a_limit_is_refused_never_written_as_maxmemory_0() -> None:
    """maxmemory is whole MiB: 75 % of 1 KB rounded to 0, and `maxmemory 0` is no limit at all."""
    import subprocess
    import sys

    for args in (["config", "--workload", "cache", "--memory", "1kb"],
                 ["config", "--workload", "queue", "--memory", "1mb"],
                 ["fix", "redis://127.0.0.1:9/0", "--memory", "2mb"]):
        done = subprocess.run([sys.executable, "-m", "redisguard", *args], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 2 and "too little for Redis" in done.stderr, done.stderr
        assert "maxmemory 0" not in done.stdout
    smallest = subprocess.run([sys.executable, "-m", "redisguard", "config", "--workload", "queue", "--memory", "8mb"],
                              capture_output=True, text=True, timeout=60, check=True).stdout
    assert "\nmaxmemory 4194304\n" in smallest  # 60 % of 8 MiB, whole MiB: a limit, never 0


def test_a_version_the_fragment_would_break_is_refused() -> None:
    """Redis 5 refuses to start on a directive it does not know (lazyfree-lazy-user-del came in 6.0)."""
    import subprocess
    import sys

    for version in ("5.0", "4.0.14", "valkey-7.0"):
        done = subprocess.run([sys.executable, "-m", "redisguard", "config", "--workload", "queue", "--memory", "1gb",
                               "--for-version", version], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2 and "Redis 6.0 and newer" in done.stderr and done.stdout == "", done.stderr


def test_sizes_take_redis_suffixes_and_terabytes() -> None:
    """A host of 2 TB is ``--memory 2tb``; before, that was 'not a size'."""
    from redisguard.units import parse_bytes

    assert parse_bytes("2tb") == 2 * 1024**4 and parse_bytes("2t") == 2 * 1000**4 and parse_bytes("1.5TB") == 3 * 2**39
    assert parse_bytes("100mb") == 100 * 1024**2 and parse_bytes("1g") == 10**9 and parse_bytes("512") == 512
    done = CliRunner().invoke(cli, ["config", "--workload", "cache", "--memory", "2tb"])
    assert done.exit_code == 0 and f"\nmaxmemory {int(2 * 1024**4 * 0.75)}\n" in done.output, done.output


def test_renamed_config_or_info_say_so_and_config_check_still_compares_what_info_shows(make_server) -> None:
    """CONFIG renamed: what INFO shows is compared (exit 1), as when an ACL denies CONFIG GET, with no ACL
    hint for a command no grant brings back. INFO renamed: config --check and fix say which command, in one
    line (fix used to print 'ResponseError: unknown command ...')."""
    import subprocess
    import sys

    renamed = make_server(maxmemory_policy="noeviction", extra_args=["--rename-command", "CONFIG", "cfg_8f3a2"])
    result = subprocess.run([sys.executable, "-m", "redisguard", "config", "--check", renamed.url, "--workload",
                             "cache", "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert "maxmemory-policy" in {d["name"] for d in data["differences"]} and "CONFIG GET" in data["not_visible"]
    assert "save" in data["not_checked"]
    assert "renamed or disabled on this server" in result.stderr and "acl" not in result.stderr
    blind = make_server(extra_args=["--rename-command", "INFO", ""])
    for args in (["config", "--check", blind.url, "--workload", "cache"], ["fix", blind.url]):
        result = subprocess.run([sys.executable, "-m", "redisguard", *args], capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 3 and result.stderr.count("\n") == 1, result.stderr
        assert "INFO" in result.stderr and "ResponseError" not in result.stderr
