"""``modelmate eval``: a bad request is refused, ``--wait`` runs the evaluation here (no worker) with a progress
bar and prints the scores, a second call reuses the cached final evaluation."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from modelmate.cli import app as cli
from modelmate.models import Evaluation, Job

runner = CliRunner()


def test_eval_wait_runs_here_then_reuses_the_cache(hub, benchmark_dir, settings, database, tmp_path):
    if not database.is_sqlite:
        pytest.skip("one backend is enough for the CLI's own work (the API tests cover both)")
    env = {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
           "MODELMATE_ENVIRONMENT": "test", "MODELMATE_TRAIN_THREADS": "1", "MODELMATE_SEMANTIC_ENABLED": "false",
           "MODELMATE_BENCHMARK_DATA_DIR": str(benchmark_dir), "MODELMATE_EVAL_QUICK_SIZE": "2",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    bad = runner.invoke(cli, ["eval", "--model", "tiny", "--domains", "astrology"], env=env)
    assert bad.exit_code == 1 and "unknown domain" in bad.output
    result = runner.invoke(cli, ["eval", "--model", "tiny", "--domains", "reading", "--wait"], env=env)
    assert result.exit_code == 0, result.output
    assert "running it in this process" in result.output and "final" in result.output and "boolq" in result.output
    again = runner.invoke(cli, ["eval", "--model", "tiny", "--domains", "reading"], env=env)
    assert again.exit_code == 0 and "cached" in again.output
    with database.session() as s:
        assert s.query(Evaluation).count() == 1 and s.query(Job).filter(Job.kind == "evaluate").count() == 1
