"""Remedies: turn findings into a plan of concrete commands, and apply it guarded, audited and undoable.

Pure parts (the recommended configuration, the plan model, the action builders) are apart from the
parts that talk to Redis (:mod:`redisguard.remedy.live`, the apply engine, undo).
"""

from __future__ import annotations

from redisguard.remedy.config_audit import Difference, audit
from redisguard.remedy.recommend import WORKLOADS, Setting, Workload, recommend, render_conf
from redisguard.remedy.version import ServerVersion

__all__ = ["WORKLOADS", "Difference", "ServerVersion", "Setting", "Workload", "audit", "recommend", "render_conf"]
