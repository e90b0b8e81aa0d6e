"""URL names ("slugs") of fine-tuned models: ``/m/<owner>/<slug>`` and the hub repo id ``<owner>/<slug>``.

Pure functions. Migration 0003 backfilled old rows with a frozen copy of these two (migrations import no app code).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

MAX_SLUG = 96
_OUTSIDE = re.compile(r"[^a-z0-9._-]+")


def slugify(name: str | None) -> str:
    """Lowercase; runs of characters outside ``[a-z0-9._-]`` → ``-``; trimmed of ``-``/``.`` at both ends;
    at most 96 characters; never empty (``model``)."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii").lower()
    slug = _OUTSIDE.sub("-", text).strip("-.")
    slug = slug[:MAX_SLUG].strip("-.")
    return slug or "model"


def dedupe(base: str, taken: Callable[[str], bool]) -> str:
    """``base``, else ``base-2``, ``base-3``… (still ≤ 96 characters) — the first one ``taken`` says is free."""
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        suffix = f"-{n}"
        candidate = base[:MAX_SLUG - len(suffix)].rstrip("-.") + suffix
    return candidate
