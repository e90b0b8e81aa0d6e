"""Automatic benchmarking on lm-evaluation-harness: suites, task configs, the benchmark-data mirror, the code
sandbox and the runner.

Pure ML package: no FastAPI, no ORM. The server domain that stores results calls :func:`runner.run_benchmarks`
with paths and a progress callback, and receives the raw lm-eval JSON plus one flat row per task/metric.
"""
