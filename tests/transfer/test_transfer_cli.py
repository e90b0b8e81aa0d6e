"""``modelmate import`` / ``modelmate export`` against a local SQLite data dir."""

from __future__ import annotations

import csv
import io
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


def test_import_then_export_round_trip(cli, tmp_path):
    src = tmp_path / "log.csv"
    src.write_text("name,status,rating,tags,notes\nLlama,tried,4,'=x; y,\"multi\nline\"\nPhi,using,,,\n",
                   encoding="utf-8")
    r = cli("import", str(src), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "dry run" in r.output
    r = cli("export", "--format", "json")
    assert json.loads(r.stdout)["entries"] == []
    r = cli("import", str(src))
    assert r.exit_code == 0, r.output
    assert "imported" in r.output
    out = tmp_path / "out.json"
    r = cli("export", "--format", "json", "-o", str(out))
    assert r.exit_code == 0, r.output
    entries = json.loads(out.read_text(encoding="utf-8"))["entries"]
    assert [(e["name"], e["rating"], e["tags"], e["notes"]) for e in entries] == [
        ("Llama", 4, ["=x", "y"], "multi\nline"), ("Phi", None, [], "")]
    r = cli("import", str(out))  # re-import: nothing new
    assert r.exit_code == 0 and "imported" in r.output
    r = cli("export", "--format", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout.lstrip("\ufeff"), newline="")))
    assert [row[0] for row in rows] == ["name", "Llama", "Phi"] and "'=x; y" in rows[1]


def test_import_errors_exit_non_zero_and_write_nothing(cli, tmp_path):
    src = tmp_path / "bad.json"
    src.write_text(json.dumps({"entries": [{"name": "Good"}, {"name": "Bad", "rating": 9}]}), encoding="utf-8")
    r = cli("import", str(src))
    assert r.exit_code == 1
    assert "nothing was imported" in r.output and "rating" in r.output
    assert json.loads(cli("export", "--format", "json").stdout)["entries"] == []
    src.write_text("{not json", encoding="utf-8")
    r = cli("import", str(src))
    assert r.exit_code == 1 and "invalid JSON" in r.output
    assert cli("import", str(tmp_path / "missing.csv")).exit_code == 2
    assert cli("export", "--format", "xml").exit_code == 2
