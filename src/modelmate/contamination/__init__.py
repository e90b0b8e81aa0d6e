"""Benchmark contamination: how much of a dataset's text overlaps the test documents of the evaluation suites.

Pure (no database, no web): :mod:`.report` is the result every consumer reads (the dataset page, the run and
model records, the research export, the capability feed and the leaderboards); :mod:`.normalise` (normalisation,
words, hashed n-grams), :mod:`.documents` (each leaf task's test documents), :mod:`.index` (the on-disk index, built
once per benchmark data version) and :mod:`.check` (the rule and the vectorised check). docs/contamination.md.
"""
