"""Dataset statistics: rows, characters, tokens (with a tokenizer), a length histogram, roles.

Token counts are the exact training encoding (``data.encode_record``: chat template + eos, not cut to any maximum
length). Above ``max_token_rows`` records an evenly spaced sample is encoded and totals are scaled up
(``tokens["sampled"]`` then says how many records were encoded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from modelmate.training.data import IGNORE_INDEX, encode_record

UNLIMITED = 10**9


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def _summary(values: list[int]) -> dict[str, Any]:
    ordered = sorted(values)
    total = sum(ordered)
    return {"total": total, "mean": round(total / len(ordered), 2) if ordered else 0,
            "min": ordered[0] if ordered else 0, "p50": _percentile(ordered, 0.5),
            "p95": _percentile(ordered, 0.95), "max": ordered[-1] if ordered else 0}


def histogram(values: list[int], bins: int = 20) -> list[dict[str, int]]:
    """Equal-width bins over [min, max] as ``[{"lo", "hi", "count"}]`` (``hi`` inclusive, integer edges)."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    width = max(1, math.ceil((hi - lo + 1) / max(1, bins)))
    out = []
    edge = lo
    while edge <= hi:
        out.append({"lo": edge, "hi": edge + width - 1, "count": 0})
        edge += width
    for value in values:
        out[(value - lo) // width]["count"] += 1
    return out


def record_chars(record: dict) -> int:
    if "text" in record:
        return len(record["text"])
    return sum(len(m["content"]) for m in record["messages"])


def token_lengths(records: Sequence[dict], tokenizer: Any, *, max_token_rows: int = 50_000,
                  ) -> tuple[list[int], list[int], list[int]]:
    """(indices encoded, tokens per encoded record, labelled tokens per encoded record)."""
    n = len(records)
    if n <= max_token_rows:
        indices = list(range(n))
    else:
        step = n / max_token_rows
        indices = sorted({int(i * step) for i in range(max_token_rows)})
    lengths, labelled = [], []
    for i in indices:
        ids, labels = encode_record(records[i], tokenizer, UNLIMITED)
        lengths.append(len(ids))
        labelled.append(sum(1 for label in labels if label != IGNORE_INDEX))
    return indices, lengths, labelled


def dataset_stats(records: Sequence[dict], tokenizer: Any = None, *, bins: int = 20,
                  fields: list[str] | None = None, eval_indices: Sequence[int] | None = None,
                  max_token_rows: int = 50_000) -> dict[str, Any]:
    """Statistics of canonical records.

    ``{"rows", "chars": {...}, "tokens": {...} | None, "histogram": [{"lo","hi","count"}], "histogram_unit",
    "fields", "roles", "turns", "empty_rows"}``. ``tokens`` (with a tokenizer) adds ``labelled`` (tokens that are
    trained on) and, given ``eval_indices``, ``train_total``/``eval_total``.
    """
    chars = [record_chars(r) for r in records]
    roles: dict[str, int] = {}
    turns = 0
    for record in records:
        for message in record.get("messages", ()):
            roles[message["role"]] = roles.get(message["role"], 0) + 1
            turns += 1
    stats: dict[str, Any] = {
        "rows": len(records), "chars": _summary(chars), "tokens": None, "fields": list(fields or []),
        "roles": roles, "turns": round(turns / len(records), 2) if records and turns else 0,
        "empty_rows": sum(1 for c in chars if c == 0),
    }
    hist_values = chars
    stats["histogram_unit"] = "chars"
    if tokenizer is not None and records:
        indices, lengths, labelled = token_lengths(records, tokenizer, max_token_rows=max_token_rows)
        scale = len(records) / len(indices)
        tokens = _summary(lengths)
        tokens["total"] = round(tokens["total"] * scale)
        tokens["labelled"] = round(sum(labelled) * scale)
        if len(indices) < len(records):
            tokens["sampled"] = len(indices)
        if eval_indices is not None:
            held = set(eval_indices)
            eval_sum = sum(length for i, length in zip(indices, lengths, strict=True) if i in held)
            eval_seen = sum(1 for i in indices if i in held)
            eval_total = round(eval_sum * (len(held) / eval_seen)) if eval_seen else 0
            tokens["eval_total"] = eval_total
            tokens["train_total"] = max(0, tokens["total"] - eval_total)
        stats["tokens"] = tokens
        hist_values = lengths
        stats["histogram_unit"] = "tokens"
    stats["histogram"] = histogram(hist_values, bins)
    return stats


def approx_tokens(chars: int) -> int:
    """A rough token count from characters (about 4 characters per token in English) when no tokenizer is at hand."""
    return max(1, math.ceil(chars / 4)) if chars else 0


def truncated_tokens(hist: list[dict[str, int]], max_seq_length: int, fraction: float = 1.0) -> int:
    """Approximate tokens left once every example is cut to ``max_seq_length``, from a token-length histogram."""
    total = 0.0
    for bucket in hist:
        mid = (bucket["lo"] + bucket["hi"]) / 2
        total += bucket["count"] * min(mid, max_seq_length)
    return round(total * fraction)
