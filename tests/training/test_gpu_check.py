"""benchmarks/gpu_check.py, the GPU check, dry-run on the CPU path on the toy so the script cannot rot: its table has
every row with the right status (PASS where the CPU runs it, SKIP with a reason where it needs a GPU), and its resume
check really fails when a resumed run is not exact."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
ROWS = ["fp32", "bf16", "fp16", "qlora-4bit", "grad-checkpointing", "resume", "vs-hf-trainer", "eval-hf", "eval-vllm"]
ROW_KEYS = {"name", "status", "reason", "loss_first", "loss_last", "resume_exact", "tps_ours", "tps_hf", "ratio",
            "peak_bytes", "estimate_bytes", "seconds", "details"}


@pytest.mark.slow  # ~1 minute: five short training runs, two HF comparison processes, a 2-document evaluation
@pytest.mark.process
def test_dry_run_on_the_cpu_path(tiny_dir, tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run-cpu", "--model", str(tiny_dir), "--steps", "4",
                           "--max-len", "256", "--lr", "5e-3", "--eval-size", "1", "--threads", "1", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["dry_run"] is True and report["environment"]["device"] == "cpu" and report["failed"] == []
    rows = {r["name"]: r for r in report["rows"]}
    assert [r["name"] for r in report["rows"]] == ROWS
    assert all(set(r) == ROW_KEYS for r in report["rows"])
    skipped = {name for name, r in rows.items() if r["status"] == "SKIP"}
    assert skipped == {"bf16", "fp16", "eval-vllm"}
    assert all("GPU" in rows[name]["reason"] for name in skipped)
    assert all(rows[name]["status"] == "PASS" for name in set(ROWS) - skipped)

    for name in ("fp32", "qlora-4bit", "grad-checkpointing"):
        row = rows[name]
        assert row["loss_last"] < row["loss_first"] and row["details"]["steps"] == 4
        assert row["peak_bytes"] > 0 and row["estimate_bytes"] > 0 and row["tps_ours"] > 0
    assert rows["qlora-4bit"]["details"]["quantization"] == "4bit"
    assert rows["qlora-4bit"]["details"]["optimizer"] == "paged_adamw_8bit"
    # fp32 on a CPU: checkpointing replays the same computation, so the curve is the plain row's
    assert rows["grad-checkpointing"]["details"]["max_loss_diff_vs_plain"] < 1e-4
    resume = rows["resume"]
    assert resume["resume_exact"] is True and resume["details"]["stopped_at"] == 2
    assert resume["details"]["resumed_from"] == 2 and resume["details"]["compared_steps"] == [3, 4]
    hf = rows["vs-hf-trainer"]
    assert hf["tps_ours"] > 0 and hf["tps_hf"] > 0 and hf["ratio"] == pytest.approx(hf["tps_ours"] / hf["tps_hf"])
    assert hf["details"]["ours"]["steps"] == hf["details"]["hf"]["steps"] == hf["details"]["steps"]
    assert set(rows["eval-hf"]["details"]["scores"]) == {"arc_easy acc_norm", "gsm8k exact_match"}

    # the printed table: one line per row, under its header, and the totals line
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("check") and "tok/s ours" in line)
    assert [line.split()[:2] for line in lines[header + 2:header + 2 + len(ROWS)]] == [
        [name, rows[name]["status"]] for name in ROWS]
    assert "dry run on the CPU path (NOT GPU numbers)" in proc.stdout
    assert "9 checks: 6 PASS, 0 FAIL, 3 SKIP" in proc.stdout


@pytest.fixture
def gpu_check(monkeypatch):
    """benchmarks/gpu_check.py imported here; what its import changes (environment, sys.path) is undone after."""
    for name in ("PYTHONPATH", "CUBLAS_WORKSPACE_CONFIG", "TOKENIZERS_PARALLELISM"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.setattr(sys, "path", [str(SCRIPT.parent), *sys.path])
    for name in ("gpu_check", "trainer"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module("gpu_check")
    yield module
    for name in ("gpu_check", "trainer"):
        sys.modules.pop(name, None)


@pytest.mark.slow  # three short training runs on the toy
def test_resume_check_fails_when_the_resumed_run_differs(gpu_check, tiny_dir, tmp_path, monkeypatch):
    from modelmate.training import checkpoints

    args = gpu_check.argparse.Namespace(model=str(tiny_dir), steps=4, batch_size=2, max_len=256, lr=5e-3, threads=1)
    setup = gpu_check.make_setup(args, "cpu", tmp_path)
    # a resume that does not restore the RNG state: the adapter's dropout masks after the resume point change
    monkeypatch.setattr(checkpoints, "_restore_rng", lambda tensors, meta: None)
    row = gpu_check.resume_row(setup)
    assert row.status == "FAIL" and row.resume_exact is False
    assert "steps 3..4 differ after resuming" in row.reason
