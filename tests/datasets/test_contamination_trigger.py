"""The contamination check end to end with the real benchmark index (``modelmate.contamination``): the upload's
background job stores a report the dataset page reads, and ``modelmate datasets check FILE|ID``.

Planted GSM8K test items must be found; a dataset built from the GSM8K *train* split must pass clean."""

from __future__ import annotations

import json

import pytest
from dataset_helpers import API, jsonl, upload
from typer.testing import CliRunner

from bench_data import BENCHMARKS, require_benchmarks
from modelmate.cli import app as cli_app
from modelmate.jobs.worker import Worker


def gsm8k(split: str, n: int) -> list[dict]:
    rows = []
    with (BENCHMARKS / "gsm8k" / f"{split}.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            rows.append({"instruction": doc["question"], "output": doc["answer"]})
            if len(rows) == n:
                break
    return rows


def planted() -> list[dict]:
    filler = [{"instruction": f"Write a haiku about the number {i}.", "output": f"{i} leaves fall slowly"}
              for i in range(30)]
    return filler[:10] + gsm8k("test", 3) + filler[10:]


@pytest.fixture
def bench_client(client, settings, tmp_path):
    require_benchmarks()
    client.app.state.settings = settings.model_copy(update={"benchmark_data_dir": BENCHMARKS})
    return client


def run_jobs(database, settings) -> None:
    worker = Worker(database, settings.model_copy(update={"benchmark_data_dir": BENCHMARKS}),
                    kinds=["contamination"])
    while worker.run_once():
        pass


@pytest.mark.slow
def test_an_upload_is_checked_in_the_background_and_the_page_shows_the_overlap(bench_client, database, settings,
                                                                              account_client):
    alice = account_client("alice")
    dirty = upload(alice, "dirty.jsonl", jsonl(planted())).json()["id"]
    clean = upload(alice, "clean.jsonl", jsonl(gsm8k("train", 40))).json()["id"]
    assert alice.get(f"{API}/datasets/{dirty}/contamination").json()["status"] == "pending"
    run_jobs(database, settings)
    got = alice.get(f"{API}/datasets/{dirty}/contamination").json()
    assert got["status"] == "done" and got["contaminated"] is True
    gsm = next(t for t in got["tasks"] if t["task"] == "gsm8k")
    assert gsm["documents"] == 3 and gsm["rows"] == 3 and gsm["examples"]
    assert {e["row"] for e in gsm["examples"]} <= {10, 11, 12}
    assert "GSM8K test: 3 documents" in got["summary"]
    ok = alice.get(f"{API}/datasets/{clean}/contamination").json()
    assert ok["status"] == "done" and ok["contaminated"] is False, ok["summary"]
    again = alice.post(f"{API}/datasets/{clean}/contamination")
    assert again.status_code == 202 and again.json()["status"] == "pending"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELMATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODELMATE_BENCHMARK_DATA_DIR", str(require_benchmarks()))
    monkeypatch.delenv("MODELMATE_DATABASE_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_app, list(args))


@pytest.mark.slow
def test_check_a_file_prints_the_table_and_exits_3_on_overlap(cli, tmp_path):
    dirty, clean = tmp_path / "dirty.jsonl", tmp_path / "clean.jsonl"
    dirty.write_bytes(jsonl(planted()))
    clean.write_bytes(jsonl(gsm8k("train", 40)))
    r = cli("datasets", "check", str(dirty))
    assert r.exit_code == 3, r.output
    assert "GSM8K test: 3 documents" in " ".join(r.output.split()) and "dataset row 10" in r.output
    r = cli("datasets", "check", str(dirty), "--json")
    assert r.exit_code == 3
    report = json.loads(r.output)
    assert report["rows_checked"] == 33 and any(t["task"] == "gsm8k" and t["documents"] == 3
                                                 for t in report["tasks"])
    r = cli("datasets", "check", str(clean))
    assert r.exit_code == 0, r.output
    assert "no overlap with any benchmark test set" in r.output


@pytest.mark.slow
def test_check_a_stored_dataset_saves_its_report(cli, tmp_path):
    src = tmp_path / "dirty.jsonl"
    src.write_bytes(jsonl(planted()))
    assert cli("datasets", "upload", str(src)).exit_code == 0
    r = cli("datasets", "check", "1")
    assert r.exit_code == 3 and "saved as dataset 1's contamination report" in r.output


def test_check_refuses_bad_targets_and_missing_benchmark_data(cli, tmp_path, monkeypatch):
    assert cli("datasets", "check", str(tmp_path / "missing.jsonl")).exit_code == 2
    assert cli("datasets", "check", "42").exit_code == 1  # no such dataset
    src = tmp_path / "a.jsonl"
    src.write_bytes(jsonl(planted()))
    monkeypatch.delenv("MODELMATE_BENCHMARK_DATA_DIR")
    r = cli("datasets", "check", str(src))
    assert r.exit_code == 1 and "MODELMATE_BENCHMARK_DATA_DIR" in r.output
