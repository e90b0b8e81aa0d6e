"""``benchmarks/research_api.py`` at a tiny size (200 runs, one round) so that it cannot rot: it seeds, starts the
server, measures every research endpoint through HTTP (all answer 200) and, when MLflow is installed, runs the side
by side comparison. No timing is asserted."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.process
def test_research_benchmark_runs_at_a_small_size(tmp_path):
    mlflow = importlib.util.find_spec("mlflow") is not None
    args = [sys.executable, str(ROOT / "benchmarks" / "research_api.py"), "--runs", "200", "--rounds", "1",
            "--requests", "2", "--warmup", "0", "--data-dir", str(tmp_path)]
    args += ["--mlflow-runs", "20"] if mlflow else ["--skip-mlflow"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(args, capture_output=True, text=True, timeout=280, env=env, cwd=ROOT)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "SKIPPED" not in out, out[-4000:]
    for name in ("leaderboard overall", "leaderboard math", "museum", "capability-change feed",
                 "capability-change aggregates", "advisor", "research rows page", "one run's curve"):
        assert f"\n{name}" in out, name
    assert "seeded 200 runs" in out and "load average" in out
    if mlflow:
        assert "top-20 by a metric under a filter p95 ms" in out and "one run's curve p95 ms" in out
