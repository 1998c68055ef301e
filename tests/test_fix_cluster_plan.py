"""The pure parts of ``fix`` on a cluster: layout comparison, node selectors, per-node undo, plan JSON."""

from __future__ import annotations

import json
from pathlib import Path

from redisguard.remedy.cluster import layout_changes
from redisguard.remedy.plan import Action, Plan, Seen
from redisguard.remedy.undo import undo_plan

LAYOUT = {"10.0.0.1:6379": "aaa 0-5460", "10.0.0.2:6379": "bbb 5461-10922", "10.0.0.3:6379": "ccc 10923-16383"}


def _action(action_id: str, kind: str, node: str | None) -> Action:
    return Action(id=action_id, kind=kind, title="t", what="w", commands=[], effect="e", bytes_freed=None,
                  estimate="", risk="", undoable=kind == "config", node=node)


def test_layout_unchanged_means_no_reason() -> None:
    assert layout_changes(LAYOUT, dict(LAYOUT)) == []


def test_a_failover_a_slot_move_and_a_replaced_node_are_each_named() -> None:
    failover = {**{k: v for k, v in LAYOUT.items() if k != "10.0.0.1:6379"}, "10.0.0.4:6379": "ddd 0-5460"}
    reasons = layout_changes(LAYOUT, failover)
    assert any("10.0.0.1:6379 is no longer a primary" in r for r in reasons)
    assert any("10.0.0.4:6379 is a primary now" in r for r in reasons)
    moved = {**LAYOUT, "10.0.0.1:6379": "aaa 0-5459", "10.0.0.2:6379": "bbb 5460-10922"}
    reasons = layout_changes(LAYOUT, moved)
    assert len(reasons) == 2 and all("slot migration" in r for r in reasons)
    replaced = {**LAYOUT, "10.0.0.3:6379": "eee 10923-16383"}
    assert layout_changes(LAYOUT, replaced) == ["10.0.0.3:6379 is another node now (node id changed)"]


def test_only_and_skip_select_by_node_or_id_at_node() -> None:
    expire = _action("expire:cache:*", "expire", "10.0.0.1:6379")
    assert expire.matches("10.0.0.1:6379") and not expire.matches("10.0.0.2:6379")
    assert expire.matches("expire@10.0.0.1:6379") and expire.matches("expire:cache:*@10.0.0.1:6379")
    assert not expire.matches("expire@10.0.0.2:6379") and not expire.matches("maxmemory@10.0.0.1:6379")
    assert expire.matches("expire")  # every node's
    standalone = _action("expire:user@example", "expire", None)
    assert standalone.matches("expire:user@example")  # an '@' in a pattern is not a node selector there


def test_undo_of_a_cluster_run_restores_each_node_its_own_previous_values() -> None:
    records = [
        {"seq": 1, "phase": "event", "event": "start", "run_id": "r1", "run_ids": {"a:1": "r1", "b:2": "r2"}},
        {"seq": 2, "phase": "event", "event": "action-start", "action": "maxmemory", "kind": "config", "node": "a:1"},
        {"seq": 3, "phase": "before", "action": "maxmemory", "command": ["CONFIG", "SET", "maxmemory", "9"],
         "previous": {"maxmemory": "0"}, "node": "a:1"},
        {"seq": 4, "phase": "after", "of": 3, "action": "maxmemory", "result": "OK", "node": "a:1"},
        {"seq": 5, "phase": "before", "action": "maxmemory", "command": ["CONFIG", "SET", "maxmemory", "9"],
         "previous": {"maxmemory": "100"}, "node": "b:2"},
        {"seq": 6, "phase": "after", "of": 5, "action": "maxmemory", "result": "OK", "node": "b:2"},
        {"seq": 7, "phase": "before", "action": "config-rewrite", "command": ["CONFIG", "REWRITE"], "node": "b:2"},
        {"seq": 8, "phase": "after", "of": 7, "action": "config-rewrite", "result": "OK", "node": "b:2"},
        {"seq": 9, "phase": "before", "action": "maxmemory", "command": ["CONFIG", "SET", "maxmemory", "9"],
         "previous": {"maxmemory": "5"}, "node": "a:1"},
        {"seq": 10, "phase": "after", "of": 9, "action": "maxmemory", "error": "ERR refused", "node": "a:1"},
    ]
    undo = undo_plan(records)
    assert undo.is_cluster and undo.restore == {}
    assert undo.by_node == {"a:1": {"maxmemory": "0"}, "b:2": {"maxmemory": "100"}}
    assert undo.rewrote_nodes == ["b:2"] and undo.run_ids == {"a:1": "r1", "b:2": "r2"}


def test_a_cluster_plan_round_trips_through_json(tmp_path: Path) -> None:
    seen = Seen("r1", "primary", "8.2.3", 1, 0, {"maxmemory": "0"}, {})
    plan = Plan(server="redis://10.0.0.1:6379/0", created_at=1.0, workload="cache", workload_reason="given",
                seen=seen, actions=[_action("maxmemory", "config", "10.0.0.1:6379")],
                nodes={"10.0.0.1:6379": seen}, layout=LAYOUT)
    plan.save(tmp_path / "plan.json")
    loaded = Plan.load(tmp_path / "plan.json")
    assert loaded == plan and loaded.is_cluster
    old = json.loads((tmp_path / "plan.json").read_text())
    del old["nodes"], old["layout"]
    for action in old["actions"]:
        del action["node"]
    standalone = Plan.from_dict(old)  # a plan saved before cluster support: still read, as a standalone one
    assert not standalone.is_cluster and standalone.actions[0].node is None
