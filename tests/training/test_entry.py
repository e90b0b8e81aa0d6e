"""The training child process, run for real: ``python -m modelmate.training.entry SPEC.json``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelmate.training import checkpoints
from modelmate.training.data import canonical_bytes

pytestmark = pytest.mark.process

WORDS = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"
]


def _dataset(path: Path, n: int = 40) -> Path:
    records = [{"text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + i % 17))} for i in range(n)]
    path.write_bytes(canonical_bytes(records))
    return path


def _spec(tmp_path: Path, tiny_dir: Path, **config) -> Path:
    values = {"max_steps": 6, "batch_size": 2, "max_seq_length": 32, "learning_rate": 1e-3, "save_steps": 2,
              "eval_steps": 3}
    values.update(config)
    spec = {"config": values, "base_model": str(tiny_dir), "dataset_path": str(_dataset(tmp_path / "data.jsonl")),
            "eval_split": 0.1, "seed": 1, "output_dir": str(tmp_path / "adapter"),
            "checkpoint_dir": str(tmp_path / "checkpoints"), "target_modules": ["q_proj", "v_proj"],
            "model_card": {"name": "entry test", "base_model": "tiny", "datasets": ["d1"], "license": "mit",
                           "toy": True}, "threads": 1}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def _start(spec: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "modelmate.training.entry", str(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _events_until(proc: subprocess.Popen, predicate, timeout: float = 90) -> list[dict]:
    events = []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        events.append(json.loads(line))  # stdout carries nothing but JSON events
        if predicate(events[-1]) or time.monotonic() > deadline:
            break
    return events


def test_entry_runs_to_a_result_line(tmp_path, tiny_dir):
    proc = _start(_spec(tmp_path, tiny_dir))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["type"] == "result" and events[-1]["outcome"] == "success", events[-1]["message"]
    types = {e["type"] for e in events}
    assert {"started", "step", "eval", "checkpoint", "result"} <= types
    assert events[-1]["steps"] == 6 and len(events[-1]["curve"]) == 6
    assert events[-1]["environment"]["threads"] == 1
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()


def test_invalid_spec_is_a_failure_result(tmp_path, tiny_dir):
    spec = _spec(tmp_path, tiny_dir, learning_rate=-1)
    proc = subprocess.run([sys.executable, "-m", "modelmate.training.entry", str(spec)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    result = json.loads(proc.stdout.splitlines()[-1])
    assert (result["outcome"], result["failure_category"]) == ("failure", "invalid_data")
    assert "learning_rate" in result["message"]
    usage = subprocess.run([sys.executable, "-m", "modelmate.training.entry"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_sigterm_stops_gracefully_with_a_partial_result(tmp_path, tiny_dir):
    proc = _start(_spec(tmp_path, tiny_dir, max_steps=100_000, save_steps=100_000, eval_steps=100_000))
    try:
        events = _events_until(proc, lambda e: e["type"] == "step" and e["step"] >= 2)
        assert events[-1]["type"] == "step"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    result = json.loads(out.splitlines()[-1])
    assert (result["type"], result["outcome"], result["failure_category"]) == ("result", "partial", "cancelled")
    assert 2 <= result["steps"] < 100_000
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    assert checkpoints.latest_checkpoint(tmp_path / "checkpoints").step == result["steps"]


@pytest.mark.slow
def test_kill9_then_resume_continues_from_the_last_checkpoint(tmp_path, tiny_dir):
    spec = _spec(tmp_path, tiny_dir, max_steps=400, save_steps=3, eval_steps=100_000, logging_steps=1)
    proc = _start(spec)
    try:
        _events_until(proc, lambda e: e["type"] == "checkpoint" and e["step"] >= 6)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    saved = checkpoints.latest_checkpoint(tmp_path / "checkpoints").step
    assert saved >= 6
    proc = _start(spec)
    try:
        events = _events_until(proc, lambda e: e["type"] == "step")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    started = next(e for e in events if e["type"] == "started")
    assert started["resumed_from_step"] >= saved
    assert events[-1]["step"] == started["resumed_from_step"] + 1
    result = json.loads(out.splitlines()[-1])
    assert result["outcome"] == "partial" and [row["step"] for row in result["curve"]][:3] == [1, 2, 3]


def test_child_dies_with_its_parent(tmp_path, tiny_dir):
    """An intermediate parent starts the entry, waits until it is training, and exits abruptly: the orphaned child
    is killed (without that it would keep training, its events going nowhere)."""
    spec = _spec(tmp_path, tiny_dir, max_steps=100_000, save_steps=100_000, eval_steps=100_000)
    launcher = (
        "import os, subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'modelmate.training.entry', {str(spec)!r}],"
        " stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)\n"
        "for line in p.stdout:\n"
        "    if '\"type\": \"step\"' in line:\n"
        "        break\n"
        "print(p.pid, flush=True)\n"
        "os._exit(0)\n")
    parent = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=90)
    child = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        if _is_zombie(child):
            return
        time.sleep(0.2)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the training child outlived its parent")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
