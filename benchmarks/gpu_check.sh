#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): trains SmolLM2-135M with bf16, fp16, 4-bit QLoRA and gradient
# checkpointing, checks the loss falls and resume is exact, compares tokens/s with the HF Trainer, runs a quick
# evaluation (hf, and vLLM when installed), prints one table and writes it as JSON. Exits 1 when a check FAILs.
#
#   bash benchmarks/gpu_check.sh [--out gpu_check.json] [--model DIR]   # on a CUDA machine, <= 8 minutes
#   bash benchmarks/gpu_check.sh --dry-run-cpu                          # the same checks on the CPU path
#
# PYTHON picks the interpreter (default: the checkout's .venv); GPU_CHECK_TIMEOUT caps the run (seconds, 900).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
# deterministic cuBLAS for the resume comparison; it must be set before the process first touches CUDA
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
exec timeout "${GPU_CHECK_TIMEOUT:-900}" "$PY" benchmarks/gpu_check.py "$@"
