"""Applying configuration, client and memory actions: CONFIG SET with the previous value recorded,
CONFIG REWRITE, CLIENT KILL ID after checking the criteria again, MEMORY PURGE."""

from __future__ import annotations

from redisguard.collect.clients import _entry  # the one CLIENT LIST parser
from redisguard.keynames import to_text
from redisguard.remedy.build_data import buffer_match, idle_match
from redisguard.remedy.executor import ActionFailed, ActionSkipped, Executor
from redisguard.remedy.plan import Action

__all__ = ["apply_config", "apply_kill", "apply_purge", "apply_rewrite"]


def _config_value(reply: object, name: str) -> str | None:
    """CONFIG GET's reply (a dict in RESP3 / with redis-py's callback, a flat list otherwise) for one name."""
    if isinstance(reply, dict):
        pairs = list(reply.items())
    elif isinstance(reply, list | tuple):
        pairs = list(zip(reply[::2], reply[1::2], strict=False))
    else:
        return None
    values = {to_text(k): to_text(v) for k, v in pairs}
    return values.get(name)


def apply_config(ex: Executor, action: Action) -> str:
    changed = []
    for name, value in action.params["set"].items():
        previous = _config_value(ex.call(action.id, "CONFIG", "GET", name), name)
        try:
            ex.call(action.id, "CONFIG", "SET", name, value, previous={name: previous})
        except ActionFailed as exc:
            if name == "activedefrag" and "cannot be enabled" in str(exc).lower():
                raise ActionSkipped("this server was built without active defragmentation support (its "
                                    "jemalloc is not the one Redis ships): nothing changed") from None
            raise
        changed.append(f"{name} {previous!r} -> {value!r}")
    return "; ".join(changed)


def apply_rewrite(ex: Executor, action: Action) -> str:
    ex.call(action.id, "CONFIG", "REWRITE")
    return f"written to {action.params.get('config_file')}"


def apply_purge(ex: Executor, action: Action) -> str:
    ex.call(action.id, "MEMORY", "PURGE")
    return "done"


def _client_list(reply: object) -> list[dict[str, str]]:
    """CLIENT LIST's reply (text, one client per line of ``name=value`` pairs, or already parsed)."""
    if isinstance(reply, list):
        return [dict(item) for item in reply]
    text = to_text(reply) if isinstance(reply, bytes | str) else ""
    return [dict(pair.split("=", 1) for pair in line.split(" ") if "=" in pair) for line in text.splitlines() if line]


def apply_kill(ex: Executor, action: Action) -> str:
    own = int(ex.call(action.id, "CLIENT", "ID"))
    clients = {entry.id: entry for entry in (_entry(raw) for raw in _client_list(ex.call(action.id, "CLIENT", "LIST")))}
    killed, skipped = 0, 0
    for client_id in action.params["ids"]:
        entry = clients.get(int(client_id))
        still = (entry is not None and entry.id != own and entry.addr == action.params["addrs"][str(client_id)]
                 and not any(flag in entry.flags for flag in "SMO")
                 and (idle_match(entry, int(action.params["idle_s"])) if "idle_s" in action.params
                      else buffer_match(entry, int(action.params["omem"]))))
        if not still:
            skipped += 1
            ex.audit.event("skipped", action=action.id, client_id=client_id, reason="gone or no longer matches")
            continue
        ex.stop.check()
        killed += int(ex.call(action.id, "CLIENT", "KILL", "ID", str(client_id)) or 0)
    return f"{killed} client(s) disconnected" + (f", {skipped} skipped (gone or no longer matching)"
                                                   if skipped else "")
