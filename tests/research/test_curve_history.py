"""GET /runs/{id}/curve-history: the band of a base model's earlier runs equals a plain Python computation of the
same quantiles (numpy's linear method = percentile_cont) on SQLite and PostgreSQL; only runs the caller can see
count; the same-dataset curves and the verdict."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from research_world import add_dataset, add_model, add_run

from modelmate.finetune import repository as finetune_repo
from modelmate.research import curves
from modelmate.research.schemas import BandPoint, CurvePointOut
from modelmate.training.curve_buckets import bucket_of

API = "/api/v1"


def _curve(rng: random.Random, steps: int, start: float, rate: float) -> list[dict]:
    return [{"step": s, "loss": start * math.exp(-rate * s / steps) + rng.uniform(0, 0.05), "lr": 1e-4}
            for s in range(1, steps + 1, rng.choice((1, 3, 7)))]


def _run(s, owner: int, base: int, curve: list[dict], **kw):
    run = add_run(s, owner, base, curve=curve, **kw)
    finetune_repo.save_curve_points(s, run)  # what every curve writer does
    return run


def _expected_band(curves_in: list[list[dict]]) -> dict[int, dict]:
    per_run: list[dict[int, float]] = []
    for curve in curves_in:
        acc: dict[int, list[float]] = {}
        for p in curve:
            acc.setdefault(bucket_of(p["step"]), []).append(p["loss"])
        per_run.append({b: sum(v) / len(v) for b, v in acc.items()})
    out = {}
    for b in sorted({b for r in per_run for b in r}):
        values = np.array([r[b] for r in per_run if b in r])
        out[b] = {"runs": len(values), **{k: float(np.percentile(values, q)) for k, q in
                                          (("p10", 10), ("p25", 25), ("median", 50), ("p75", 75), ("p90", 90))}}
    return out


@pytest.fixture
def history(account_client, database):
    admin = account_client("overseer")
    alice, bob = account_client("alice"), account_client("bob")
    rng = random.Random(7)
    a, b = alice.user["id"], bob.user["id"]
    with database.session() as s:
        base = add_model(s, "Base", kind="base", visibility="public")
        other_base = add_model(s, "Other base", kind="base", visibility="public")
        data = add_dataset(s, a, "shared data")
        visible_curves, bob_private_curves = [], []
        same_dataset_ids = []
        for i in range(23):  # alice's own runs, various lengths, some failed part way
            curve = _curve(rng, rng.choice((40, 120, 300, 700)), rng.uniform(2, 3), rng.uniform(0.5, 3))
            failed = i % 5 == 0
            run = _run(s, a, base.id, curve, name=f"alice {i}", dataset_id=data.id if i % 3 == 0 else None,
                       status="failed" if failed else "succeeded", outcome="failure" if failed else "success")
            visible_curves.append(curve)
            if i % 3 == 0:
                same_dataset_ids.append(run.id)
        for i in range(6):  # bob's public runs count
            out = add_model(s, f"bob public {i}", owner_id=b, base_id=base.id, visibility="public")
            curve = _curve(rng, 200, 2.5, 1.0)
            _run(s, b, base.id, curve, name=f"bob public {i}", output_id=out.id)
            visible_curves.append(curve)
        for i in range(5):  # bob's private runs never count for alice (losses far below: they would show)
            out = add_model(s, f"bob private {i}", owner_id=b, base_id=base.id)
            curve = [{"step": p["step"], "loss": p["loss"] - 5} for p in _curve(rng, 200, 2.5, 1.0)]
            _run(s, b, base.id, curve, name=f"bob private {i}", output_id=out.id)
            bob_private_curves.append(curve)
        bob_private = _run(s, b, base.id, _curve(rng, 50, 2, 1), name="bob secret")
        _run(s, a, other_base.id, _curve(rng, 200, 9, 1))  # another base model: not in the band
        _run(s, a, base.id, [], name="failed before step 1", status="failed", outcome="failure")
        add_run(s, a, base.id, curve=[], name="queued")
        _run(s, a, base.id, _curve(rng, 300, 9, 1), name="still running", status="running", outcome=None)
        target = _run(s, a, base.id, _curve(rng, 300, 1.2, 4.0), name="target", dataset_id=data.id)
        _run(s, a, base.id, _curve(rng, 300, 9, 1), name="later")  # after the target: not in its band
        s.commit()
        ids = {"target": target.id, "bob_private": bob_private.id}
    return admin, alice, bob, ids, visible_curves, bob_private_curves, same_dataset_ids


def _assert_band(band: list[dict], expected: dict[int, dict]) -> None:
    assert [p["bucket"] for p in band] == sorted(expected)
    for point in band:
        want = expected[point["bucket"]]
        assert point["runs"] == want["runs"]
        for key in ("p10", "p25", "median", "p75", "p90"):
            assert point[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), (point["bucket"], key)


def test_band_equals_python_quantiles_over_visible_earlier_runs(history):
    admin, alice, _, ids, visible, bob_private, same_ids = history
    body = alice.get(f"{API}/runs/{ids['target']}/curve-history").json()
    assert body["earlier_runs"] == len(visible) == body["band_runs"]
    _assert_band(body["band"], _expected_band(visible))
    assert "log scale" in body["x_axis"]
    # the run's own curve on the same axis
    own = [p["bucket"] for p in body["run"]]
    assert own == sorted(own) and len(own) == len(set(own)) and own[0] == 0
    # same dataset: alice's runs on that dataset, newest first
    assert [c["run_id"] for c in body["same_dataset"]] == sorted(same_ids, reverse=True)
    assert all(c["points"] for c in body["same_dataset"])
    # the admin sees bob's private runs as well
    seen = admin.get(f"{API}/runs/{ids['target']}/curve-history").json()
    assert seen["earlier_runs"] == len(visible) + len(bob_private) + 1
    assert min(p["p10"] for p in seen["band"]) < min(p["p10"] for p in body["band"])


def test_private_run_of_another_user_is_404(history):
    _, alice, bob, ids, *_ = history
    assert alice.get(f"{API}/runs/{ids['bob_private']}/curve-history").status_code == 404
    assert alice.get(f"{API}/runs/999999/curve-history").status_code == 404
    # bob sees his own private run; alice's private runs are not in its band
    mine = bob.get(f"{API}/runs/{ids['bob_private']}/curve-history").json()
    assert mine["earlier_runs"] == 6 + 5  # his public and private runs before it, none of alice's


def test_verdict_faster_and_too_few(history, database):
    _, alice, *_rest = history
    ids = history[3]
    verdict = alice.get(f"{API}/runs/{ids['target']}/curve-history").json()["verdict"]
    # the target starts low and drops fast: lower than every earlier run at its last step
    assert verdict["kind"] == "faster" and verdict["percentile"] >= 75
    assert verdict["sentence"].startswith("Learned faster than usual")
    assert verdict["compared_runs"] >= 5
    few = curves.verdict(
        [CurvePointOut(bucket=10, step=6.7, last_step=6, loss=1.0)],
        [BandPoint(bucket=10, step=6.7, step_from=6, step_to=6, runs=3, p10=1, p25=1, median=1, p75=1,
                          p90=1)], higher=1, compared=3)
    assert few.kind == "too_few" and "Too few earlier runs" in few.sentence
    assert curves.verdict([], [], higher=0, compared=0).kind == "no_loss"


def test_no_history_is_an_empty_band(account_client, database):
    alice = account_client("solo")
    with database.session() as s:
        base = add_model(s, "Lonely base", kind="base", visibility="public")
        run = _run(s, alice.user["id"], base.id, [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}])
        s.commit()
        run_id = run.id
    body = alice.get(f"{API}/runs/{run_id}/curve-history").json()
    assert body["earlier_runs"] == 0 and body["band"] == [] and body["same_dataset"] == []
    assert [p["loss"] for p in body["run"]] == [2.0, 1.5]
    assert body["verdict"]["kind"] == "too_few"


def test_band_is_made_of_the_newest_runs_up_to_the_cap(history, monkeypatch):
    _, alice, _, ids, visible, *_ = history
    monkeypatch.setattr(curves, "BAND_CAP", 10)
    body = alice.get(f"{API}/runs/{ids['target']}/curve-history").json()
    assert body["earlier_runs"] == len(visible) and body["band_runs"] == 10 and body["band_cap"] == 10
    assert not body["earlier_runs_more"]
    # the newest ten visible earlier runs: bob's six public runs and alice's last four
    _assert_band(body["band"], _expected_band(visible[-10:]))


def test_the_count_of_earlier_runs_stops(history, monkeypatch):
    _, alice, _, ids, visible, *_ = history
    monkeypatch.setattr(curves, "BAND_CAP", 10)
    monkeypatch.setattr(curves, "COUNT_CAP", 20)
    body = alice.get(f"{API}/runs/{ids['target']}/curve-history").json()
    assert len(visible) > 20 and body["earlier_runs"] == 20 and body["earlier_runs_more"]
    assert body["band_runs"] == 10
