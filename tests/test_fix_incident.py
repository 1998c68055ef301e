"""Seed 000 reproduced and fixed: noeviction, streams full, consumers behind, a group that never read.

The plan never trims an unacknowledged or undelivered entry (every group's pending and unread entries are
still readable, unchanged, after --apply), memory freed is within 10 % of what the dry run promised, the
producer can write again, and the dry run changed nothing (DUMP digest of every key)."""

from __future__ import annotations

from pathlib import Path

from tests.fix_data import dataset_digest, fill_incident, group_state, run_json

from redisguard.localserver import LocalServer


def test_incident_fixed_without_losing_unprocessed_entries(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(maxmemory="20mb", maxmemory_policy="noeviction")
    with srv.client() as client:
        fill_incident(client)
        before = dataset_digest(client)
        states = {key: group_state(client, key) for key in ("firehose_live", "firehose_backfill")}
        code, plan = run_json("fix", srv.url, "--memory", "30mb")
        assert code == 0, plan
        assert dataset_digest(client) == before  # the dry run wrote nothing
        trims = [a for a in plan["actions"] if a["kind"] == "trim"]
        assert [a["id"] for a in trims] == ["trim:firehose_live"]  # the backfill stream is pinned by "never"
        assert any("pinned by group never" in note for note in plan["notes"])
        assert all(a["kind"] != "config" or a["params"]["set"].get("maxmemory-policy") in (None, "noeviction")
                   for a in plan["actions"])  # never an evicting policy for a queue
        promised = trims[0]["bytes_freed"]
        audit = tmp_path / "audit.jsonl"
        code, applied = run_json("fix", srv.url, "--memory", "30mb", "--apply", "--yes", "--audit", str(audit))
        assert code == 0, applied
        freed = next(r["freed"] for r in applied["results"] if r["id"] == "trim:firehose_live")
        assert abs(freed - promised) <= 0.10 * promised, (freed, promised)
        for key, groups in states.items():
            after = group_state(client, key)
            for group, (pending, unread) in groups.items():
                assert after[group][0] == pending, f"{key}/{group}: a pending entry changed or went"
                assert after[group][1] == unread, f"{key}/{group}: an undelivered entry changed or went"
        assert client.xadd("firehose_live", {"payload": "z"})  # the producer writes again
        assert audit.read_text().count('"phase": "before"') >= 2
