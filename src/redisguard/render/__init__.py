"""Renderers: format reports for terminals, JSON and Markdown. They never compute."""

from __future__ import annotations

from redisguard.render.doctor_model import doctor_report
from redisguard.render.markdown import render_doctor_markdown
from redisguard.render.terminal import render_doctor_terminal

__all__ = ["doctor_report", "render_doctor_markdown", "render_doctor_terminal"]
