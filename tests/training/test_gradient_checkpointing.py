"""Gradient checkpointing on the real SmolLM2-135M: with the same seed the loss curve equals the run without it
(fp32 noise only) and the measured peak memory is lower. Each run trains in a fresh process whose resident memory is
sampled during the run (``TrainResult.peak_memory_bytes``), with a micro-batch of 2 × 256 tokens so activations
dominate."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHILD = r"""
import json, random, sys
from pathlib import Path

import torch

torch.set_num_threads(2)
from modelmate.training.config import resolve_config
from modelmate.training.environment import maxrss_bytes
from modelmate.training.trainer import TrainJob, train

base, out, checkpointing = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
rng = random.Random(0)
words = ("the model learns a small adapter while the base weights stay frozen and the loss goes down over steps "
         "of data with short and long examples about cats dogs rivers mountains cities music and numbers").split()
records = [{"text": " ".join(rng.choices(words, k=rng.randint(150, 300)))} for _ in range(24)]
config = resolve_config(None, {"max_steps": 2, "batch_size": 2, "max_seq_length": 256, "packing": True,
                               "learning_rate": 1e-3, "warmup_ratio": 0, "eval_split": 0, "seed": 5, "dropout": 0.1,
                               "save_steps": 100, "gradient_checkpointing": checkpointing})
job = TrainJob(config=config, base_model=base, train_records=records, eval_records=[], output_dir=out / "adapter",
               checkpoint_dir=out / "checkpoints", target_modules=["q_proj", "v_proj"],
               model_card={"name": "gc", "base_model": "smollm2", "datasets": [], "license": "apache-2.0"})
result = train(job, on_event=lambda e: None, resume=False)
print(json.dumps({"outcome": result.outcome, "message": result.message, "tokens": result.train_tokens,
                  "losses": [p["loss"] for p in result.curve], "grad_norms": [p["grad_norm"] for p in result.curve],
                  "sampled_peak": result.peak_memory_bytes, "maxrss": maxrss_bytes()}))
"""


def _train(smollm2_dir, tmp_path, checkpointing: bool) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(smollm2_dir), str(tmp_path / str(checkpointing)),
                           "1" if checkpointing else "0"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "success", result["message"]
    return result


@pytest.mark.slow
@pytest.mark.process
@pytest.mark.timeout(900)  # two fresh processes load SmolLM2: 330 s on the 2-core machine shared with 4 test runs
def test_checkpointing_keeps_the_curve_and_lowers_peak_memory_on_smollm2(smollm2_dir, tmp_path):
    plain = _train(smollm2_dir, tmp_path, False)
    saved = _train(smollm2_dir, tmp_path, True)
    assert plain["tokens"] == saved["tokens"] > 2 * 256
    # same seed, same dropout masks (non-reentrant checkpointing replays the RNG): equal within fp32 noise
    assert saved["losses"] == pytest.approx(plain["losses"], rel=1e-4)
    assert saved["grad_norms"] == pytest.approx(plain["grad_norms"], rel=1e-3)
    assert plain["losses"][-1] < plain["losses"][0]
    print(f"peak RSS without / with gradient checkpointing: {plain['maxrss'] / 2**20:.0f} / "
          f"{saved['maxrss'] / 2**20:.0f} MiB (sampled during training: {plain['sampled_peak'] / 2**20:.0f} / "
          f"{saved['sampled_peak'] / 2**20:.0f} MiB); losses {plain['losses']} vs {saved['losses']}")
    # the RSS sampled during the run (training.environment.PeakMemory): ru_maxrss of a forked child starts at its
    # parent's RSS on Linux, so in a big pytest process it reads the parent's size for both runs
    assert saved["sampled_peak"] < plain["sampled_peak"] - 200 * 2**20  # activations of ~512 tokens × 30 layers
