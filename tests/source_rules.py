"""Shared by the tests that check house rules by reading the source (SQL only in repositories, one session per
request): where the package is and how a finding is reported. Import it from a test: ``from source_rules import
...``."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "modelmate"


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def parse_annotation(node: ast.expr | None) -> ast.expr | None:
    """An annotation as an expression: a string annotation (``"Session"``) parsed; None when it does not parse."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    return node


def names_in(node: ast.expr | None) -> set[str]:
    """Every name and attribute an expression (or string annotation) mentions: ``Annotated[Session, X]`` →
    {"Annotated", "Session", "X"}."""
    node = parse_annotation(node)
    if node is None:
        return set()
    return {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
            if isinstance(n, ast.Name | ast.Attribute)}
