"""Rules and renderers over snapshots recorded from real servers (tests/snapshots/, see record.py there).

No server needed: each file loads and is analysed in milliseconds, on every version it was recorded
from (Redis 6.2, 7.0, 8.2, Valkey 8.1), so a rule change that loses a finding shows up here at once.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from redisguard.render import doctor_to_dict, render_doctor_markdown, render_doctor_terminal
from redisguard.rules import Thresholds, diagnose
from redisguard.snapshot import SnapshotFormatError, load, snapshot_from_dict

FOLDER = Path(__file__).parent / "snapshots"
MANIFEST: dict[str, dict[str, Any]] = json.loads((FOLDER / "manifest.json").read_text())


def test_every_recorded_file_is_in_the_manifest() -> None:
    files = {path.name for path in FOLDER.glob("*.json")} - {"manifest.json"}
    assert files == set(MANIFEST)
    assert {entry["server"].split("-")[0] for entry in MANIFEST.values()} == {"redis", "valkey"}
    assert len({entry["server"] for entry in MANIFEST.values()}) >= 4


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_recorded_state_gives_its_findings(name: str) -> None:
    entry = MANIFEST[name]
    report = diagnose(load(FOLDER / name), Thresholds(**entry["thresholds"]))
    found = {finding.id for finding in report.findings}
    assert set(entry["expect"]) <= found, (entry["state"], sorted(found))
    assert not set(entry["absent"]) & found, (entry["state"], sorted(found))
    if entry["exit_code"] is not None:
        assert report.exit_code == entry["exit_code"], sorted(found)
    if not entry["expect"]:
        assert found == set(), sorted(found)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_face_renders_every_recorded_snapshot(name: str) -> None:
    report = diagnose(load(FOLDER / name), Thresholds(**MANIFEST[name]["thresholds"]))
    buffer = io.StringIO()
    render_doctor_terminal(report, Console(file=buffer, width=120, no_color=True))
    assert report.target in buffer.getvalue()
    markdown = render_doctor_markdown(report)
    assert markdown.count("### ") == len(report.findings)
    data = json.loads(json.dumps(doctor_to_dict(report)))
    assert [finding["id"] for finding in data["findings"]] == [finding.id for finding in report.findings]


def test_an_older_snapshot_version_is_one_clear_message() -> None:
    data = json.loads((FOLDER / sorted(MANIFEST)[0]).read_text())
    data["version"] = 0
    with pytest.raises(SnapshotFormatError, match="format version 0 is not supported"):
        snapshot_from_dict(data)
