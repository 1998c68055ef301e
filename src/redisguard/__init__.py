"""redisguard keeps Redis out of out-of-memory trouble."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
