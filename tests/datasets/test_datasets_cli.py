"""``modelmate datasets upload`` / ``modelmate datasets list`` against a local SQLite data dir."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modelmate.cli import app


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELMATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MODELMATE_DATABASE_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_upload_then_list(cli, tmp_path):
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(20)))
    r = cli("datasets", "upload", str(src), "--name", "[bold]Pairs")
    assert r.exit_code == 0, r.output
    assert "uploaded dataset 1 ([bold]Pairs): alpaca, 20 rows (18 train / 2 eval)" in " ".join(r.output.split())
    r = cli("datasets", "upload", str(src))
    assert r.exit_code == 0 and "already uploaded as dataset 1" in r.output
    r = cli("datasets", "list")
    assert r.exit_code == 0 and "1 dataset(s)" in r.output and "[bold]Pairs" in r.output
    stored = list((tmp_path / "data" / "artifacts" / "datasets").iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".jsonl" and len(stored[0].stem) == 64


def test_bad_file_exits_non_zero_naming_the_row(cli, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_bytes(b"text\nfine\ncaf\xe9\n")
    r = cli("datasets", "upload", str(src))
    assert r.exit_code == 1 and "row 2, column 'text'" in r.output
    r = cli("datasets", "upload", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 2 and "no such file" in r.output
    r = cli("datasets", "upload", str(src), "--format", "yaml")
    assert r.exit_code == 2
    assert "0 dataset(s)" in cli("datasets", "list").output
