"""Benchmark contamination: how much of a dataset's text overlaps the test documents of the evaluation suites.

Pure (no database, no web): :mod:`.report` is the result every consumer reads (the dataset page, the run and
model records, the research export, the capability feed and the leaderboards).
"""
