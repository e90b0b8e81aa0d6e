"""The fine-tuning engine's pure machine-learning code.

Nothing in this package imports FastAPI, SQLAlchemy, ``modelmate.models`` or ``modelmate.db``: it takes plain
Python values and files in and gives plain values and files back, so it runs the same inside the API process,
the worker and a training child process. It defines its own exceptions (``data.DataError`` ...).

- ``model_specs``: the supported base models (real facts from their Hugging Face configs) and the toy ``tiny``.
- ``config``: ``TrainingConfig`` (every field explained), presets and step planning.
- ``estimate``: memory (per part, calibrated on this CPU), time and whether a run fits its device, before launch.
- ``data``: reading, validating, detecting and normalising dataset files; canonical storage form; encoding with
  label masking; ``stats``: dataset statistics.
"""
