"""``redisguard config``: the recommended redis.conf for a workload, or a live server checked against it."""

from __future__ import annotations

import json

import click
import redis
import redis.exceptions as rex

from redisguard._wire.errors import UNAVAILABLE, reason_for_text
from redisguard.cli.options import connection_options, fail
from redisguard.cli.output import echo
from redisguard.connect import ConnectionOptions, open_client
from redisguard.remedy.access import missing_line, user_of
from redisguard.remedy.config_audit import audit
from redisguard.remedy.live import ConfigNotVisible, read_config
from redisguard.remedy.recommend import MIN_MEMORY, WORKLOADS, Workload, recommend, render_conf
from redisguard.remedy.version import ServerVersion
from redisguard.units import fmt_bytes, parse_bytes

__all__ = ["command", "host_memory"]




def host_memory(text: str | None) -> int | None:
    """``--memory`` of config and fix: the host's (or container's) memory for Redis, at least MIN_MEMORY."""
    if text is None:
        return None
    try:
        value = parse_bytes(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size like 8gb or 512mb", param_hint="--memory") from None
    if value < MIN_MEMORY:
        raise click.BadParameter(f"{text!r} is too little for Redis: at least {fmt_bytes(MIN_MEMORY)} (a smaller "
                                 "maxmemory would round to 0, which Redis reads as no limit)", param_hint="--memory")
    return value


def _info(client: redis.Redis, section: str, denied: list[str], unavailable: list[str]) -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in client.info(section).items()}
    except rex.NoPermissionError:
        if "info" not in denied:
            denied.append("info")
        return {}
    except rex.ResponseError as exc:
        if reason_for_text(str(exc)) != UNAVAILABLE:
            raise
        if "INFO" not in unavailable:  # renamed or disabled: no ACL grant would help
            unavailable.append("INFO")
        return {}


def _check(conn: ConnectionOptions, workload: Workload, memory: int | None, as_json: bool,
           for_version: str | None = None) -> int:
    """Read-only. Where the user may not run CONFIG GET, what INFO shows (maxmemory, the policy) is still
    compared and the rest is listed as not checked; without INFO, --for-version and --memory stand in."""
    client = open_client(conn)
    denied: list[str] = []
    unavailable: list[str] = []  # renamed or disabled on this server
    user = user_of(conn)
    try:
        server = _info(client, "server", denied, unavailable)
        memory_info = _info(client, "memory", denied, unavailable)
        if server:
            version = ServerVersion.from_info(server)
        elif for_version is not None:
            version = _parse_version(for_version)
        elif unavailable:
            fail(f"{conn.display}: INFO is renamed or disabled on this server, and config --check reads the version "
                 "and the host's memory from it: give --for-version and --memory", 3)
            return 3
        else:
            try:  # name every missing permission at once, not one per attempt
                read_config(client, ["maxmemory"])
            except ConfigNotVisible as exc:
                if "permission" in str(exc).lower():
                    denied.append("config|get")
            fail(f"{conn.display}: {missing_line(user, denied, 'diagnosis')}; config --check reads the version and "
                 "the host's memory from INFO (or give --for-version and --memory)", 3)
            return 3
        size = memory or int(memory_info.get("total_system_memory", 0) or 0)
        if not size:
            fail("the server does not report total_system_memory: give --memory SIZE", 2)
        settings = recommend(workload, size, version)
        try:
            current = read_config(client, [s.name for s in settings])
        except ConfigNotVisible as exc:
            if "permission" not in str(exc).lower():  # renamed away: no ACL grants it
                unavailable.append("CONFIG GET")
            else:
                denied.append("config|get")
            if not memory_info:  # nothing at all to compare
                why = (missing_line(user, denied, 'diagnosis') if denied
                       else f"{' and '.join(unavailable)} renamed or disabled on this server ({exc})")
                fail(f"{conn.display}: {why}; config --check has nothing it can compare", 3)
                return 3
            current = {"maxmemory": memory_info.get("maxmemory", ""),
                       "maxmemory-policy": memory_info.get("maxmemory_policy", "")}
            current = {name: value for name, value in current.items() if value}
    except rex.RedisError as exc:
        fail(f"{conn.display}: {str(exc).splitlines()[0]}", 3)
        return 3
    finally:
        client.close()
    no_config = "config|get" in denied or "CONFIG GET" in unavailable
    unchecked = [s.name for s in settings if s.name not in current] if no_config else []
    differences = [d for d in audit(current, settings) if d.name not in unchecked]
    if denied:
        echo(f"redisguard: {conn.display}: {missing_line(user, denied, 'diagnosis')}; "
              f"{len(unchecked)} setting(s) not checked", err=True)
    if unavailable:
        echo(f"redisguard: {conn.display}: {' and '.join(unavailable)} renamed or disabled on this server; "
             f"{len(unchecked)} setting(s) not checked", err=True)
    memory_note = f"{fmt_bytes(size)} " + ("(--memory)" if memory else "(the host's RAM, from INFO)")
    if as_json:
        echo(json.dumps({
            "server": conn.display, "version": version.text, "workload": workload, "memory_bytes": size,
            "differences": [{"name": d.name, "current": d.current, "recommended": d.recommended,
                             "reason": d.reason, "command": d.command, "argv": d.argv} for d in differences],
            "not_checked": unchecked, "not_visible": denied + unavailable,
        }, indent=2))
    elif not differences and not unchecked:
        echo(f"{conn.display} ({version.text}) matches the {workload} recommendation for {memory_note}.")
    else:
        echo(f"{conn.display} ({version.text}): {len(differences)} difference(s) from the {workload} "
                   f"recommendation for {memory_note}. Read-only: `redisguard fix` applies them.")
        for diff in differences:
            shown = "not visible / not supported" if diff.current is None else repr(diff.current)
            echo(f"- {diff.name}: {shown}, recommended {diff.recommended!r}: {diff.reason}")
            echo(f"    redis-cli {diff.command}")
        if unchecked:
            echo(f"cannot check {', '.join(unchecked)}: needs CONFIG GET, which "
                 + ("this server has renamed or disabled" if "CONFIG GET" in unavailable else "this user may not run"))
    return 1 if differences or unchecked else 0


def _parse_version(text: str) -> ServerVersion:
    try:
        version = ServerVersion.parse(text)
    except ValueError as exc:
        fail(f"--for-version: {exc}", 2)
        raise
    oldest = (7, 2) if version.flavor == "valkey" else (6, 0)
    if (version.major, version.minor) < oldest:  # Redis 5 refuses to start on lazyfree-lazy-user-del (6.0)
        fail(f"--for-version {text}: the fragment is written for Redis 6.0 and newer (tested on 6.2, 7.0 and 8.2) "
             "and Valkey 7.2 and newer", 2)
    return version


@click.command("config")
@connection_options
@click.option("--workload", type=click.Choice(WORKLOADS), required=True,
              help="cache (data can be rebuilt), queue (streams/lists consumed by workers), store (the data).")
@click.option("--memory", "memory_text", default=None, metavar="SIZE",
              help="Memory of the host (or container) for Redis, e.g. 8gb. With --check: default the host's RAM.")
@click.option("--for-version", "for_version", default=None, metavar="X.Y",
              help="Server version to write for: 6.2, 7.0, 8.2, valkey-8.1 (default 7.0; --check: the server's).")
@click.option("--check", is_flag=True, help="Compare the server at URL with the recommendation (read-only).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def command(conn: ConnectionOptions, workload: Workload, memory_text: str | None, for_version: str | None,
            check: bool, as_json: bool) -> None:
    """Print a commented redis.conf fragment for a workload, or (--check URL) diff a live server against it.

    Exit code with --check: 0 no difference, 1 differences (or settings CONFIG GET may not read: what INFO
    shows is still compared), 3 could not connect or read neither INFO nor CONFIG.
    """
    memory = host_memory(memory_text)
    if check:
        raise SystemExit(_check(conn, workload, memory, as_json, for_version))
    if memory is None:
        fail("--memory SIZE is required (the host's memory for Redis, e.g. 8gb)", 2)
        return
    version = _parse_version(for_version or "7.0")
    settings = recommend(workload, memory, version)
    if as_json:
        echo(json.dumps({"workload": workload, "memory_bytes": memory, "version": version.text,
                               "settings": [{"name": s.name, "value": s.value, "reason": s.reason,
                                             "lines": s.conf_lines()} for s in settings]}, indent=2))
        return
    echo(render_conf(workload, memory, version, settings), nl=False)
