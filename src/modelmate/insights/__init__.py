"""Insights over your log: dashboard, timeline and side-by-side compare."""
