"""``modelmate worker --executor local|ray --ray-address ADDR``: the flags override the settings (a copy), an
unknown executor and a missing Ray are usage errors (exit 2)."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from modelmate.cli import app as cli
from modelmate.finetune.cli import _executor_settings

runner = CliRunner()


def _env(settings, tmp_path) -> dict[str, str]:
    return {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
            "MODELMATE_ENVIRONMENT": "test", "MODELMATE_SEMANTIC_ENABLED": "false",
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"), "COLUMNS": "200"}


def test_the_flags_override_a_copy_of_the_settings(settings) -> None:
    pytest.importorskip("ray")
    ray_settings = _executor_settings(settings, "ray", "10.0.0.5:6379")
    assert (ray_settings.executor, ray_settings.ray_address) == ("ray", "10.0.0.5:6379")
    assert (settings.executor, settings.ray_address) == ("local", None)
    assert _executor_settings(settings, None, None) is settings
    assert _executor_settings(ray_settings, "local", None).executor == "local"


def test_worker_once_with_the_ray_executor(settings, database, tmp_path) -> None:
    pytest.importorskip("ray")
    env = _env(settings, tmp_path)
    once = runner.invoke(cli, ["worker", "--once", "--executor", "ray", "--ray-address", "127.0.0.1:9"], env=env)
    assert once.exit_code == 0 and "ran 0 job(s)" in once.output, once.output  # Ray is reached only by a job


def test_bad_executors_are_usage_errors(settings, database, tmp_path, monkeypatch) -> None:
    env = _env(settings, tmp_path)
    unknown = runner.invoke(cli, ["worker", "--once", "--executor", "slurm"], env=env)
    assert unknown.exit_code == 2 and "unknown executor 'slurm'" in unknown.output
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: `import ray` raises ImportError
    missing = runner.invoke(cli, ["worker", "--once", "--executor", "ray"], env=env)
    assert missing.exit_code == 2 and "needs Ray" in missing.output, missing.output
    env["MODELMATE_EXECUTOR"] = "ray"  # from the environment too
    assert runner.invoke(cli, ["worker", "--once"], env=env).exit_code == 2
