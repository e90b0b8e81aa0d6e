"""Fixtures for the integration tests: the benchmarking test setup (benchmark mirror, two documents per task, torch on
one thread, from ``bench_data``); the toy tiny Llama, ``hub``, accounts and ``live_server`` come from the root
conftest."""

from bench_data import _torch_one_thread, benchmark_dir, settings  # noqa: F401 - fixtures used by this package
