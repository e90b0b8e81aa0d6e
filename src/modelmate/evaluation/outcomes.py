"""Per-document outcomes from lm-eval's logged samples: what a paired significance test needs later.

For every scored leaf task, one entry per document::

    {"doc_id": 17, "doc_hash": "<lm-eval's sha256 of the document>", "values": {"acc,none": 1.0, ...}}

Keys are the stored metric keys (``<metric>,<filter>``, e.g. ``exact_match,strict-match``), restricted to the
metrics the suite reports. Per-document metrics keep their value (0/1 for acc, acc_norm, exact_match, pass@1; the
float for TruthfulQA MC2). Corpus metrics (chrF, BLEU, TER: lm-eval passes ``(reference, prediction)`` to a corpus
aggregation) keep ``{"ref": ..., "pred": ...}``, each string capped at :data:`MAX_TEXT` characters; a second corpus
metric with the very same pair stores ``{"same_as": "<first key>"}`` instead of the texts again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

MAX_TEXT = 2_000  # characters kept of a corpus metric's reference or prediction
MAX_REFS = 4


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_TEXT]


def _corpus_pair(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    ref, pred = value
    if isinstance(pred, list | tuple):  # lm-eval allows a one-element list of predictions
        pred = pred[0] if pred else ""
    refs: Any = [_text(r) for r in ref[:MAX_REFS]] if isinstance(ref, list | tuple) else _text(ref)
    return {"ref": refs, "pred": _text(pred)}


def _value(value: Any) -> Any:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)  # ints, floats, numpy scalars
    except (TypeError, ValueError):
        return _corpus_pair(value)
    return number if math.isfinite(number) else None


def doc_outcomes(samples: dict[str, list[dict[str, Any]]] | None,
                 metrics: Iterable[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """``{leaf task: [outcome, ...]}`` (sorted by ``doc_id``) from ``results["samples"]`` of an lm-eval run;
    ``metrics``: the ``(name, filter)`` pairs to keep."""
    wanted = {(name, flt) for name, flt in metrics}
    out: dict[str, list[dict[str, Any]]] = {}
    for task, logged in (samples or {}).items():
        docs: dict[int, dict[str, Any]] = {}
        for sample in logged or []:
            doc_id = sample.get("doc_id")
            if not isinstance(doc_id, int):
                continue
            flt = str(sample.get("filter") or "none")
            doc = docs.setdefault(doc_id, {"doc_id": doc_id, "doc_hash": str(sample.get("doc_hash") or "")[:64],
                                           "values": {}})
            for name in sample.get("metrics") or []:
                if (name, flt) not in wanted or name not in sample:
                    continue
                value = _value(sample[name])
                if value is None:
                    continue
                key = f"{name},{flt}"
                if isinstance(value, dict):
                    twin = next((k for k, v in doc["values"].items() if v == value), None)
                    value = {"same_as": twin} if twin else value
                doc["values"][key] = value
        kept = [docs[i] for i in sorted(docs) if docs[i]["values"]]
        if kept:
            out[task] = kept
    return out
