"""``modelmate research export --format hf-dataset``: the complete export (runs, curves, scores) as a Hugging Face
dataset that ``datasets.load_dataset`` itself loads (offline), its card, sharding, public mode and the store."""

from __future__ import annotations

import json
import math

import pyarrow.parquet as pq
import pytest
import yaml
from research_world import add_dataset, add_model, add_run, add_scores

from modelmate.models import BenchmarkResult, TrainingRun, User
from modelmate.research import hfdataset

BASE_ROWS = [("gsm8k", "math", 0.30, 0.011), ("boolq", "reading", 0.70, 0.012)]
CHILD_ROWS = [("gsm8k", "math", 0.45, 0.021), ("boolq", "reading", 0.40, None)]


def curve(n: int, start: float = 3.0) -> list[dict]:
    return [{"step": i + 1, "loss": start - 0.1 * i, "eval_loss": (start - 0.05 * i) if i % 2 else None,
             "lr": 2e-4 * (1 - i / n), "grad_norm": 1.0 + i / 10, "tokens": 256 * (i + 1), "seconds": 0.5 * (i + 1),
             "epoch": (i + 1) / n} for i in range(n)]




@pytest.fixture
def world(database):
    """An admin, alice and bob. alice: a public run (public model, dataset and base), a private one, a failure with
    no model and personal text; bob: a public model trained on his private dataset."""
    with database.session() as s:
        admin = User(username="overseer", is_admin=True)
        alice, bob = User(username="alice", display_name="Alice Smith"), User(username="bob")
        s.add_all([admin, alice, bob])
        s.flush()
        base = add_model(s, "Base", kind="base", visibility="public")
        public_data = add_dataset(s, alice.id, "alice public set", visibility="public")
        private_data = add_dataset(s, bob.id, "bob private set", visibility="private")
        shown = add_model(s, "Alice shown", owner_id=alice.id, base_id=base.id, visibility="public")
        hidden = add_model(s, "Alice hidden", owner_id=alice.id, base_id=base.id)
        bobs = add_model(s, "Bob public", owner_id=bob.id, base_id=base.id, visibility="public")
        runs = {
            "public": add_run(s, alice.id, base.id, name="Alice Smith tries math", output_id=shown.id,
                              dataset_id=public_data.id, curve=curve(7), feedback_comment="call me, 555-0101"),
            "private": add_run(s, alice.id, base.id, name="alice private", output_id=hidden.id, curve=curve(4)),
            "failed": add_run(s, alice.id, base.id, name="alice crash", status="failed", outcome="failure",
                              category="diverged", curve=curve(3, 9.0), failure_message="/home/alice/x: boom"),
            "bob": add_run(s, bob.id, base.id, name="bob run", output_id=bobs.id, dataset_id=private_data.id,
                           curve=curve(5)),
        }
        add_scores(s, base.id, BASE_ROWS)
        add_scores(s, shown.id, CHILD_ROWS)
        add_scores(s, hidden.id, CHILD_ROWS, mode="full")
        ev = add_scores(s, bobs.id, [("gsm8k", "math", 0.5, 0.02)])
        s.add(BenchmarkResult(evaluation_id=ev.id, model_id=bobs.id, task="arc_easy", domain="reasoning",
                              metric="acc_norm,none", value=None, stderr=None, mode="quick", status="failed",
                              n_samples=0, n_shot=0, sample_limit=20, harness_version="0.4.9", task_hash="t" * 64,
                              raw={"primary": True, "error": "boom", "backend": "vllm"}))
        ev.settings_hash, ev.settings = "s" * 64, {"backend": "hf"}
        s.flush()
        return {"run": {k: r.id for k, r in runs.items()}, "models": {"base": base.id, "shown": shown.id,
                                                                       "hidden": hidden.id, "bob": bobs.id}}


def load(path, name):
    import datasets

    return datasets.load_dataset(str(path), name, split="train", cache_dir=str(path.parent / "hf-cache"))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    import datasets.config

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
        monkeypatch.setattr(datasets.config, var, True)


def stored_points(database, run_ids=None):
    with database.session() as s:
        return {r.id: r.loss_curve_data for r in s.query(TrainingRun).all() if run_ids is None or r.id in run_ids}


def stored_scores(database, model_ids):
    with database.session() as s:
        return [(r.model_id, r.task, r.metric, r.value, r.stderr)
                for r in s.query(BenchmarkResult).filter(BenchmarkResult.model_id.in_(model_ids)).all()]


def close(a, b):
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12))


def test_load_dataset_loads_every_table_with_every_point_and_score(cli, tmp_path, world, database):
    out = tmp_path / "ds"
    r = cli("research", "export", "--format", "hf-dataset", "--out", str(out), "--shard-rows", "4")
    assert r.exit_code == 0, r.output
    runs, curves, scores = load(out, "runs"), load(out, "curves"), load(out, "scores")

    assert sorted(runs["run_id"]) == sorted(world["run"].values())  # the admin sees every run
    assert "Alice Smith tries math" in runs["name"]  # default mode: names as typed

    stored = stored_points(database)
    assert len(curves) == sum(len(c) for c in stored.values()) == 19
    got = {}
    for row in curves:
        got.setdefault(row["run_id"], []).append(row)
    for run_id, points in stored.items():
        assert [p["step"] for p in got[run_id]] == [p["step"] for p in points]
        for mine, theirs in zip(got[run_id], points, strict=True):
            for col in ("loss", "eval_loss", "lr", "grad_norm", "seconds", "epoch"):
                assert close(mine[col], theirs[col]), (run_id, col)
            assert mine["tokens"] == theirs["tokens"]
    assert len(list((out / "curves").glob("*.parquet"))) == 5  # 19 points, 4 per file

    models = world["models"]
    expected = stored_scores(database, list(models.values()))
    assert len(scores) == len(expected) == 8
    got_scores = [(r["model_id"], r["task"], f"{r['metric']},{r['filter']}", r["value"], r["stderr"]) for r in scores]
    assert sorted(map(repr, got_scores)) == sorted(map(repr, expected))  # every row, values and stderr exact
    by_model = {}
    for row in scores:
        by_model.setdefault(row["model_id"], []).append(row)
    assert {r["run_id"] for r in by_model[models["base"]]} == {None}  # a base model's rows: no run
    assert {r["run_id"] for r in by_model[models["shown"]]} == {world["run"]["public"]}
    failed = next(r for r in by_model[models["bob"]] if r["task"] == "arc_easy")
    assert failed["status"] == "failed" and failed["value"] is None and failed["limit"] == 20
    assert failed["backend"] == "vllm" and failed["settings_hash"] == "s" * 64 and failed["metric"] == "acc_norm"
    bob_math = next(r for r in by_model[models["bob"]] if r["task"] == "gsm8k")
    assert bob_math["backend"] == "hf" and bob_math["stderr"] == pytest.approx(0.02)  # engine from the settings
    assert all(r["evaluated_at"] is not None for r in scores)

    # the card: configs and dtypes the loader used, every column described
    text = (out / "README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert [c["config_name"] for c in front["configs"]] == ["runs", "curves", "scores"]
    assert front["license"] == "other"
    for info in front["dataset_info"]:
        name = info["config_name"]
        table = {"runs": runs, "curves": curves, "scores": scores}[name]
        assert [f["name"] for f in info["features"]] == table.column_names
        assert info["splits"][0]["num_examples"] == len(table)
        for col in hfdataset.table_columns()[name]:
            assert col.description and f"| `{col.name}` | " in text
    assert oct((out / "runs" / "runs-00000-of-00001.parquet").stat().st_mode & 0o777) == "0o600"


def test_public_mode_drops_private_runs_and_personal_names(cli, tmp_path, world, database):
    out = tmp_path / "public"
    r = cli("research", "export", "--format", "hf-dataset", "--out", str(out), "--public", "--license", "cc-by-4.0")
    assert r.exit_code == 0, r.output
    runs, curves, scores = load(out, "runs"), load(out, "curves"), load(out, "scores")
    public_run = world["run"]["public"]
    assert runs["run_id"] == [public_run]  # private model, private dataset, no model at all: left out
    assert set(curves["run_id"]) == {public_run} and len(curves) == 7
    assert {r["model_id"] for r in scores} == {world["models"]["base"], world["models"]["shown"]}
    row = runs[0]
    assert row["owner_id"] is None and row["owner_key"].startswith("owner-")
    assert row["name"].startswith("run-") and row["feedback_comment"] is None and row["failure_message"] is None
    texts = [(out / "README.md").read_text()]
    for path in out.rglob("*.parquet"):  # every decoded value (compressed bytes could hide a name)
        texts += [str(v) for col in pq.read_table(path).to_pydict().values() for v in col]
    blob = "\n".join(texts).lower()
    for personal in ("alice", "smith", "555-0101", "bob", "overseer", "/home"):
        assert personal not in blob, personal
    text = (out / "README.md").read_text()
    assert "## Public export" in text and yaml.safe_load(text.split("---")[1])["license"] == "cc-by-4.0"

    # pseudonyms are stable from one export to the next (the deployment's key)
    again = tmp_path / "again"
    assert cli("research", "export", "--format", "hf-dataset", "--out", str(again), "--public").exit_code == 0
    assert load(again, "runs")[0]["owner_key"] == row["owner_key"] and load(again, "runs")[0]["name"] == row["name"]

    # the single-file formats have the same public mode
    assert cli("research", "export", "-o", str(tmp_path / "p.parquet"), "--public").exit_code == 0
    table = pq.read_table(tmp_path / "p.parquet").to_pylist()
    assert [t["run_id"] for t in table] == [public_run] and table[0]["owner_key"] == row["owner_key"]


def test_a_viewer_exports_their_runs_and_public_ones(cli, tmp_path, world):
    out = tmp_path / "bob"
    assert cli("research", "export", "--format", "hf-dataset", "-o", str(out), "--user", "bob").exit_code == 0
    runs = load(out, "runs")
    assert sorted(runs["run_id"]) == sorted([world["run"]["public"], world["run"]["bob"]])
    assert world["models"]["hidden"] not in set(load(out, "scores")["model_id"])


def test_refusals(cli, tmp_path, world):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    r = cli("research", "export", "--format", "hf-dataset", "--out", str(tmp_path / "full"))
    assert r.exit_code == 2 and "not an empty folder" in r.output
    assert (tmp_path / "full" / "x").read_text() == "keep"
    r = cli("research", "export", "--format", "hf-dataset", "--out", str(tmp_path / "d"), "--license", "Bad License")
    assert r.exit_code == 2 and "--license" in r.output
    r = cli("research", "export", "--format", "hf-dataset", "--out", str(tmp_path / "d"), "--card", "c.md")
    assert r.exit_code == 2 and "README.md" in r.output
    assert not (tmp_path / "d").exists()


def test_an_empty_table_is_a_schema_only_file(cli, tmp_path, database):
    """``datasets`` refuses an empty split ("corresponds to no data"); the files still carry every column."""
    with database.session() as s:
        s.add(User(username="solo", is_admin=True))
    out = tmp_path / "empty"
    assert cli("research", "export", "--format", "hf-dataset", "--out", str(out)).exit_code == 0
    for name, cols in hfdataset.table_columns().items():
        files = sorted((out / name).glob("*.parquet"))
        assert [f.name for f in files] == [f"{name}-00000-of-00001.parquet"]
        table = pq.read_table(files[0])
        assert table.num_rows == 0 and table.column_names == [c.name for c in cols]


def test_hf_dataset_to_the_artifact_store(cli, tmp_path, world, s3_url, monkeypatch):
    from modelmate.storage.artifacts import open_store

    monkeypatch.setenv("MODELMATE_ARTIFACTS_URL", s3_url)
    r = cli("research", "export", "--format", "hf-dataset", "--to-store")
    assert r.exit_code == 0, r.output
    store = open_store(s3_url)
    prefixes = {k.split("/")[1] for k in store.list("exports")}
    assert len(prefixes) == 1
    dest = tmp_path / "copy"
    store.get_dir(f"exports/{prefixes.pop()}", dest)
    assert sorted(load(dest, "runs")["run_id"]) == sorted(world["run"].values())
    assert len(load(dest, "curves")) == 19


def test_the_pseudonym_key_setting(cli, tmp_path, world, database, monkeypatch):
    from modelmate.research.export import pseudonym

    monkeypatch.setenv("MODELMATE_RESEARCH_EXPORT_KEY", "a shared key for every machine")
    assert cli("research", "export", "-o", str(tmp_path / "p.jsonl"), "--public").exit_code == 0
    with database.session() as s:
        alice = s.query(User).filter(User.username == "alice").one().id
    rows = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [r["owner_key"] for r in rows] == [pseudonym(b"a shared key for every machine", "owner", alice)]
    assert rows[0]["name"] == pseudonym(b"a shared key for every machine", "run", world["run"]["public"])
    assert not (tmp_path / "data" / "research-export.key").exists()  # the setting wins: no key file
    assert "Public export: only runs" in (tmp_path / "p.jsonl.card.md").read_text()


def test_runs_are_read_in_batches_and_let_go(world, database):
    from modelmate.research import repository as repo

    with database.session() as s:
        admin = s.query(User).filter(User.username == "overseer").one()
        seen, batches = [], []
        for runs in repo.export_run_batches(s, admin, public=False, batch=3):
            batches.append([r.id for r in runs])
            seen.append(runs)
        assert [len(b) for b in batches] == [3, 1] and sum(batches, []) == sorted(world["run"].values())
        assert all(run not in s for run in seen[0])  # detached once the next batch was read
