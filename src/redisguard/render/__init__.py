"""Renderers: one module per face, each formatting a typed model (never a dict, never computing).

- ``doctor_terminal``, ``doctor_markdown``: the :class:`~redisguard.rules.report.DoctorReport`;
- ``json``: every model as JSON-shaped data, lossless for non-UTF-8 names (``_b64`` companions);
- ``evidence``: how one evidence value reads.

A new face (HTML, Prometheus) is one more module here taking the same models. Escaping of
server-supplied strings lives in :mod:`redisguard.keynames`, the one place for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redisguard.render.doctor_markdown import render_doctor_markdown
    from redisguard.render.doctor_terminal import render_doctor_terminal
    from redisguard.render.json import doctor_to_dict, dumps, finding_to_dict, fix_to_dict

__all__ = ["doctor_to_dict", "dumps", "finding_to_dict", "fix_to_dict", "render_doctor_markdown",
           "render_doctor_terminal"]

# Imported on first use (PEP 562): a renderer that one face needs (``render.keys``, ``render.json``) does
# not load the doctor's, which pull in the rules and rich (60-90 ms of every ``keys --json`` start).
_EXPORTS = {"render_doctor_markdown": "doctor_markdown", "render_doctor_terminal": "doctor_terminal",
            **dict.fromkeys(("doctor_to_dict", "dumps", "finding_to_dict", "fix_to_dict"), "json")}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'redisguard.render' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"redisguard.render.{module}"), name)
    globals()[name] = value
    return value
