"""The architecture contracts of pyproject.toml ([tool.importlinter]), run by import-linter itself.

`make lint` and scripts/test.sh run `lint-imports` too; here pytest fails on a violation as well. The other tests
show the check is real: the same configuration, run over a copy of the package with a forbidden import added,
reports it. And every top-level module has a place in the pure packages' contract, and no two modules import each
other (directly or round a loop), function-level imports included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

import modelmate

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
PACKAGE_DIR = Path(modelmate.__file__).parent
# What the pure packages may use (see the comment above the "pure-ml" contract).
PURE = {"training", "evaluation", "contamination"}
PURE_MAY_USE = {"storage", "jsonutil", "humanize", "enums"}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _lint_imports(config: Path, src: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`lint-imports` in a fresh interpreter whose `modelmate` is the one under ``src``."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))")
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def _top_level_modules() -> set[str]:
    names = set()
    for entry in PACKAGE_DIR.iterdir():
        if entry.suffix == ".py" and entry.stem != "__init__":
            names.add(entry.stem)
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            names.add(entry.name)
    return names


def test_the_contracts_hold():
    result = _lint_imports(PYPROJECT, PACKAGE_DIR.parent, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def broken_copy(tmp_path_factory) -> subprocess.CompletedProcess:
    """The real contracts over a copy of the package in which training/ imports the database layer and api/
    imports a domain (tracker)."""
    work = tmp_path_factory.mktemp("contracts")
    shutil.copytree(PACKAGE_DIR, work / "src" / "modelmate",
                    ignore=shutil.ignore_patterns("__pycache__", "web_dist", "*.pyc"))
    (work / "src" / "modelmate" / "training" / "violation.py").write_text(
        "from modelmate.db.engine import Database\n", encoding="utf-8")
    (work / "src" / "modelmate" / "api" / "violation.py").write_text(
        "def lookup():\n    from modelmate.tracker import service\n\n    return service\n", encoding="utf-8")
    shutil.copy(PYPROJECT, work / "pyproject.toml")
    return _lint_imports(work / "pyproject.toml", work / "src", work)


def test_a_pure_package_importing_the_database_breaks_the_contract(broken_copy):
    assert broken_copy.returncode != 0
    out = broken_copy.stdout
    assert "pure ML packages (no app code, FastAPI, SQLAlchemy) BROKEN" in out
    assert "modelmate.training.violation -> modelmate.db.engine" in out


def test_an_upward_import_breaks_the_layers(broken_copy):
    out = broken_copy.stdout
    assert "modelmate layers (no upward imports) BROKEN" in out
    assert "modelmate.api.violation -> modelmate.tracker.service" in out  # a function-level import counts too


def test_every_top_level_module_is_placed_in_the_pure_packages_contract():
    """A new package is forbidden to training/evaluation until someone decides otherwise (the layers contract is
    exhaustive on its own)."""
    forbidden = {m.removeprefix("modelmate.") for m in _contracts()["pure-ml"]["forbidden_modules"]
                 if m.startswith("modelmate.")}
    unplaced = _top_level_modules() - forbidden - PURE - PURE_MAY_USE
    assert not unplaced, f"add these to the pure-ml contract's forbidden_modules (or allow them): {unplaced}"
    assert not forbidden & PURE_MAY_USE


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    adjacency = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in adjacency:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(adjacency[node]):
                work.append((node, i + 1))
                child = adjacency[node][i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def test_no_module_imports_itself_round_a_loop():
    graph = grimp.build_graph("modelmate", include_external_packages=False, cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_loop():
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]
