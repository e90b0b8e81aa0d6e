"""Numbers as people read them, for progress messages and the CLI."""

from __future__ import annotations

from typing import Any


def duration(seconds: Any) -> str:
    """``42 s``, ``7 min``, ``1.5 h``; ``?`` when unknown."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds != seconds:
        return "?"
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
