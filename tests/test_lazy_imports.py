"""Every function-level import of modelmate code says why it is not at the top of its module.

Imports belong at the top; one inside a function is allowed only with a reason on the same line, in one form:
``# lazy: start-up (<what it keeps out of start-up>)`` (e.g. ``(CLI command)``, ``(ray)``). An import that only
dodged an import cycle has no such reason: the layers contract (tests/test_import_contracts.py) removed the cycles.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import modelmate

PACKAGE_DIR = Path(modelmate.__file__).parent
REASON = re.compile(r"#\s*lazy: [a-z-]+ \([^)]+\)\s*$")


def unexplained_lazy_imports(source: str) -> list[int]:
    """Line numbers of imports of ``modelmate`` inside a function (or a class) without a ``# lazy:`` reason."""
    lines = source.splitlines()
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom):
                modules = [inner.module or ""] if inner.level == 0 else ["modelmate"]  # relative: ours
            elif isinstance(inner, ast.Import):
                modules = [alias.name for alias in inner.names]
            else:
                continue
            ours = any(m == "modelmate" or m.startswith("modelmate.") for m in modules)
            if ours and not REASON.search(lines[inner.lineno - 1]):
                bad.append(inner.lineno)
    return sorted(set(bad))


def test_every_function_level_import_has_a_reason():
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for line in unexplained_lazy_imports(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE_DIR.parent)}:{line}")
    assert not offenders, "move these imports to the top of the module, or add '# lazy: start-up (...)':\n" + \
        "\n".join(offenders)


def test_the_check_flags_an_import_without_a_reason():
    source = '''
import modelmate.config


def serve():
    from modelmate.app import create_app
    from modelmate.db import migrate  # lazy: start-up (CLI command)
    import modelmate.jobs.worker
    from . import sibling
    import json

    return create_app, migrate, json, sibling


class Lazy:
    def load(self):
        from modelmate.training import trainer  # it is slow
        return trainer
'''
    assert unexplained_lazy_imports(source) == [6, 8, 9, 17]
