"""Migrations are frozen history: they import no application code, so a later change to the app can never change
what an old revision does (migration 0003 keeps its own copy of the slug rules it backfilled with)."""

from __future__ import annotations

import ast

from modelmate.db.migrate import MIGRATIONS_DIR


def app_imports(source: str) -> list[str]:
    """Every ``modelmate`` module a script imports, anywhere in it (relative imports count as ours)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module == "modelmate" or module.startswith("modelmate."):
                found.append("." * node.level + module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "modelmate" or a.name.startswith("modelmate.")]
    return found


def test_migrations_and_their_environment_import_no_app_code():
    scripts = sorted((MIGRATIONS_DIR / "versions").glob("*.py")) + [MIGRATIONS_DIR / "env.py"]
    assert len(scripts) > 5
    offenders = {p.name: app_imports(p.read_text(encoding="utf-8")) for p in scripts}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_scan_sees_imports_at_any_depth():
    source = ("import sqlalchemy as sa\nfrom modelmate.catalog.slugs import slugify\n\n\n"
              "def upgrade():\n    import modelmate.models\n    from . import helpers\n")
    assert app_imports(source) == ["modelmate.catalog.slugs", "modelmate.models", "."]
