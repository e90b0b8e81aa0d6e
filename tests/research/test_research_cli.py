"""``modelmate research export`` writes the dataset (Parquet, CSV, JSONL) and its card."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest
import yaml
from research_world import add_model, add_run

from modelmate.research.export import columns


@pytest.fixture
def two_runs(database):
    from modelmate.accounts.service import ensure_local_user

    with database.session() as s:
        user = ensure_local_user(s)
        base = add_model(s, "Base", kind="base", visibility="public")
        add_run(s, user.id, base.id, name="good")
        add_run(s, user.id, base.id, name="bad", status="failed", outcome="failure", category="diverged")


def test_export_every_format_with_its_card(cli, tmp_path, two_runs):
    names = [c.name for c in columns()]
    out = tmp_path / "out" / "runs.parquet"
    r = cli("research", "export", "--format", "parquet", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "wrote 2 run(s)" in r.output
    table = pq.read_table(out)
    assert table.num_rows == 2 and table.column_names == names
    assert table.column("failure_category").to_pylist() == [None, "diverged"]  # run id order
    card = (tmp_path / "out" / "runs.parquet.card.md").read_text()
    assert [c["name"] for c in yaml.safe_load(card.split("---\n")[1])["columns"]] == names

    r = cli("research", "export", "--format", "csv", "-o", str(tmp_path / "runs.csv"), "--card",
            str(tmp_path / "card.md"))
    assert r.exit_code == 0, r.output
    with open(tmp_path / "runs.csv", newline="") as fh:
        assert {row["name"] for row in csv.DictReader(fh)} == {"good", "bad"}
    assert (tmp_path / "card.md").read_text().startswith("---\n")

    r = cli("research", "export", "-o", str(tmp_path / "runs.jsonl"))  # the format from the file name
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert {x["name"] for x in lines} == {"good", "bad"}


def test_unknown_format_is_refused(cli, tmp_path):
    r = cli("research", "export", "--format", "xlsx", "-o", str(tmp_path / "x.xlsx"))
    assert r.exit_code == 2 and "unknown format" in r.output
    assert not (tmp_path / "x.xlsx").exists()


def test_export_to_the_artifact_store(cli, two_runs, s3_url, monkeypatch):
    from modelmate.storage.artifacts import open_store

    monkeypatch.setenv("MODELMATE_ARTIFACTS_URL", s3_url)
    r = cli("research", "export", "--to-store", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    store = open_store(s3_url)
    keys = store.list("exports")
    assert len(keys) == 2 and keys[0].endswith(".jsonl") and keys[1].endswith(".jsonl.card.md")
    with store.open(keys[0]) as fh:
        assert {json.loads(x)["name"] for x in fh.read().decode().splitlines()} == {"good", "bad"}
    assert cli("research", "export").exit_code == 2  # neither a file nor the store
