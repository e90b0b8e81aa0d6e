"""Small JSON helpers shared by the pure packages (``training/``, ``evaluation/``) and the server: the nesting depth of
a decoded value, and an atomic JSON file write. Standard library only."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, counted without recursion; stops once past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temp file in the same directory, fsync it, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
