"""Benchmarking on the server side: evaluation jobs (lm-eval in a child process), stored results and scores,
the baseline cache, automatic evaluation after training, and the leaderboards."""
