"""The public API: what ``redisguard`` exports, its version, and a type check of how users call it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import redisguard

TYPING_FILE = Path(__file__).parent / "typing" / "api.py"


def test_all_names_resolve_and_nothing_else_is_promised() -> None:
    assert set(redisguard.__all__) == {"__version__", *redisguard._EXPORTS}
    for name in redisguard.__all__:
        assert getattr(redisguard, name) is not None, name
    assert "cli" not in redisguard.__all__ and "localserver" not in redisguard.__all__


def test_version_comes_from_the_package_metadata() -> None:
    assert redisguard.__version__ == version("redisguard")


def test_import_is_light() -> None:
    code = "import sys, redisguard; print('redisguard.streams' in sys.modules, 'redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_public_calls_type_check() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(TYPING_FILE)],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
