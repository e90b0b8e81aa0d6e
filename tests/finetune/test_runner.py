"""The child-process side of a training job: process groups, the stdout event reader, the curve across resumes."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from modelmate.finetune.runner import (
    ChildProcess,
    CurveState,
    child_env,
    classify_crash,
    group_alive,
    kill_leftover_child,
    live_members,
)

# A stand-in trainer: prints events, starts a grandchild in its process group, and ignores SIGTERM when asked to.
SCRIPT = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time
    mode = sys.argv[1]
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *a: (print(json.dumps({"type": "result", "outcome": "partial",
                      "failure_category": "cancelled", "steps": 2}), flush=True), sys.exit(0)))
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(json.dumps({"type": "started", "total_steps": 5, "resumed_from_step": 0}), flush=True)
    print("not an event", flush=True)
    print(json.dumps({"type": "step", "step": 1, "loss": 2.5, "tokens": 10}), flush=True)
    sys.stderr.write("stderr line\\n"); sys.stderr.flush()
    if mode == "quick":
        print(json.dumps({"type": "result", "outcome": "success", "steps": 1}), flush=True)
        sys.exit(0)
    time.sleep(600)
""")


def make_child(tmp_path: Path, mode: str) -> ChildProcess:
    script = tmp_path / "fake_trainer.py"
    script.write_text(SCRIPT)
    return ChildProcess(tmp_path / "spec.json", cwd=tmp_path, log_path=tmp_path / "train.log", env=child_env(1),
                        argv=[sys.executable, str(script), mode])


def wait_events(child: ChildProcess, n: int, timeout: float = 20) -> list[dict]:
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(events) < n and time.monotonic() < deadline:
        events += child.drain(0.1)
    return events


@pytest.mark.process
def test_events_are_read_and_the_whole_group_is_reaped(tmp_path):
    child = make_child(tmp_path, "quick")
    child.start()
    events = wait_events(child, 3)
    deadline = time.monotonic() + 20
    while not child.exited() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group_alive(child.pgid)  # the leader is a zombie, the grandchild still sleeps in its group
    code = child.finish()
    assert code == 0
    assert [e["type"] for e in events] == ["started", "step", "result"]
    with pytest.raises(ProcessLookupError):
        os.killpg(child.pgid, 0)  # grandchild killed with the group
    log = (tmp_path / "train.log").read_text()
    assert "stderr line" in log and "[stdout] not an event" in log


@pytest.mark.process
def test_sigterm_gives_a_graceful_result_and_sigkill_stops_a_stubborn_one(tmp_path):
    polite = make_child(tmp_path, "polite")
    polite.start()
    wait_events(polite, 2)
    polite.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + 20
    while not polite.exited() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert polite.finish() == 0
    assert any(e.get("failure_category") == "cancelled" for e in polite.drain(0))

    stubborn = make_child(tmp_path, "stubborn")
    stubborn.start()
    wait_events(stubborn, 2)
    stubborn.signal_group(signal.SIGTERM)
    time.sleep(0.5)
    assert not stubborn.exited()
    stubborn.signal_group(signal.SIGKILL)
    deadline = time.monotonic() + 20
    while not stubborn.exited() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stubborn.finish() == -signal.SIGKILL
    assert not group_alive(stubborn.pgid)


@pytest.mark.process
def test_a_leftover_child_of_an_earlier_attempt_is_killed_only_if_it_is_ours(tmp_path):
    (tmp_path / "spec.json").write_text("{}")
    # a process whose command line looks like this run's trainer
    child = ChildProcess(tmp_path / "spec.json", cwd=tmp_path, log_path=tmp_path / "train.log", env=child_env(1),
                         argv=[sys.executable, "-c", "import time; time.sleep(600)", "-m",
                               "modelmate.training.entry", str(tmp_path / "spec.json")])
    child.start()
    child.record(tmp_path, attempt=1)
    other = ChildProcess(tmp_path / "x.json", cwd=tmp_path, log_path=tmp_path / "other.log", env=child_env(1),
                         argv=[sys.executable, "-c", "import time; time.sleep(600)"])
    other.start()
    try:
        info = json.loads((tmp_path / "child.json").read_text())
        assert info["pgid"] == child.pgid and info["attempt"] == 1
        assert kill_leftover_child(tmp_path) is True
        assert live_members(child.pgid) == [] and child.exited()
        other.record(tmp_path, attempt=2)  # not a trainer of this run: left alone
        assert kill_leftover_child(tmp_path) is False and group_alive(other.pgid)
    finally:
        other.signal_group(signal.SIGKILL)
        other.finish()
        child.finish()


def test_curve_state_merges_evals_and_replaces_steps_after_a_resume():
    state = CurveState()
    state.apply({"type": "started", "total_steps": 6, "resumed_from_step": 0, "environment": {"device": "cpu"}})
    for step in range(1, 5):
        state.apply({"type": "step", "step": step, "loss": 3.0 - step / 10, "lr": 1e-3, "grad_norm": 1.0,
                     "tokens": step * 100, "seconds": step * 0.1, "epoch": 0.1})
    state.apply({"type": "eval", "step": 2, "eval_loss": 2.9})
    state.apply({"type": "step", "step": 5, "loss": float("nan")})
    assert state.step == 5 and state.curve[1]["eval_loss"] == 2.9 and state.curve[4]["loss"] is None
    assert state.progress == pytest.approx(5 / 6) and state.progress_message().startswith("step 5 of 6")
    # a new attempt resumed from the checkpoint at step 2: points 3..5 are redone
    state.apply({"type": "started", "total_steps": 6, "resumed_from_step": 2})
    assert [p["step"] for p in state.curve] == [1, 2]
    for step in range(3, 7):
        state.apply({"type": "step", "step": step, "loss": 2.0})
    state.apply({"type": "early_stop", "step": 6, "reason": "no improvement"})
    assert [p["step"] for p in state.curve] == [1, 2, 3, 4, 5, 6] and state.early_stopping[0]["step"] == 6
    state.apply({"type": "result", "outcome": "success", "total_steps": 6,
                 "curve": [{"step": s, "loss": 1.0} for s in range(1, 7)],
                 "early_stopping": {"step": 6, "reason": "no improvement"}})
    assert all(p["loss"] == 1.0 for p in state.curve) and len(state.early_stopping) == 1
    assert state.result["outcome"] == "success"


def test_a_sigkill_near_the_memory_limit_is_out_of_memory_anything_else_a_crash():
    gib = 2**30
    assert classify_crash(-signal.SIGKILL, int(7.8 * gib), 8 * gib)[0] == "out_of_memory"
    category, message = classify_crash(-signal.SIGKILL, 1 * gib, 8 * gib)
    assert category == "crashed" and "signal 9" in message
    assert classify_crash(-signal.SIGSEGV, 7 * gib, 8 * gib)[0] == "crashed"
    assert "exited with code 1" in classify_crash(1, 0, 0)[1]
