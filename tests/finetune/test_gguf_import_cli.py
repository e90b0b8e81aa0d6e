"""``modelmate models add-gguf`` refuses what it cannot import before converting anything: a copy of the real
SmolLM2 GGUF cut short, and a file that is not GGUF. Exit code 2, a plain message, nothing registered or written."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from modelmate.cli import app as cli
from modelmate.models import Model

runner = CliRunner()


def _env(settings, tmp_path) -> dict[str, str]:
    return {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
            "MODELMATE_ENVIRONMENT": "test", "MODELMATE_SEMANTIC_ENABLED": "false",
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"), "COLUMNS": "200"}


def test_add_gguf_refuses_truncated_and_non_gguf_files(settings, database, smollm2_gguf, tmp_path):
    if not database.is_sqlite:
        pytest.skip("the CLI's refusals touch no database-specific code (the API tests cover both backends)")
    env = _env(settings, tmp_path)
    cut = tmp_path / "SmolLM2-cut.Q4_1.gguf"
    with smollm2_gguf.open("rb") as src:
        cut.write_bytes(src.read(50 * 1024 * 1024))
    truncated = runner.invoke(cli, ["models", "add-gguf", str(cut), "--name", "Cut"], env=env)
    assert truncated.exit_code == 2, truncated.output
    assert "error:" in truncated.output and "SmolLM2-cut.Q4_1.gguf is truncated" in truncated.output

    text = tmp_path / "readme.gguf"
    text.write_text("this is a text file with a .gguf name\n")
    not_gguf = runner.invoke(cli, ["models", "add-gguf", str(text), "--name", "Text"], env=env)
    assert not_gguf.exit_code == 2, not_gguf.output
    assert "readme.gguf is not a GGUF file" in not_gguf.output

    missing = runner.invoke(cli, ["models", "add-gguf", str(tmp_path / "nowhere.gguf"), "--name", "None"], env=env)
    assert missing.exit_code == 2 and "is not a file" in missing.output

    with database.session() as s:
        assert s.query(Model).filter(Model.name.in_(["Cut", "Text", "None"])).count() == 0
    base_dir = settings.data_dir / "base_models"
    assert not any(p.name.startswith(("local-", ".local-")) for p in (base_dir.iterdir() if base_dir.is_dir()
                                                                        else []))
