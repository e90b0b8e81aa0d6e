"""Shared by the tests that check house rules by reading the source (SQL only in repositories, one session per
request): where the package is and how a finding is reported. Import it from a test: ``from source_rules import
...``."""

from __future__ import annotations

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
