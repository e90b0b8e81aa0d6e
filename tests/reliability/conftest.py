"""Reliability scenarios (docs RELIABILITY.md #17, #36, #37) against the real server in a subprocess.

The server harness and the ledger-keeping writers live in ``benchmarks/harness.py`` so that the 60 s soak
benchmark (``benchmarks/sqlite_soak.py``) runs exactly the same workload as these tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
