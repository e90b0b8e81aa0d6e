"""A model's scores (domain summary, latest final rows, delta vs base) and the leaderboards.

Leaderboards read the models' ``benchmark_scores`` (final evaluations only). Per domain, only rows that share the
most common domain settings hash (same tasks, task configs, mode, sample sizes, harness version, code flag) are
ranked; the others are listed with ``rank: null, comparable: false``. ``overall`` is the mean of a model's domain
scores; its settings hash covers every domain's, so only models measured on the same domains with the same
settings are ranked together. The engine (hf or vllm) is not part of the settings hash: rows of both engines are
ranked together, each showing its ``backends`` (docs/benchmarking.md, "Engines").

Ties: a ranked row whose 95% confidence interval (score ± 1.96·stderr) overlaps the interval of the row above it
shares that row's rank and is marked ``tied`` (the UI shows "≈"): the data cannot tell the two apart. Small samples:
a row scored on fewer than :data:`MIN_DOCUMENTS` documents per domain (the quick mode) is flagged ``small_sample``.

Scale: the board is one page (``limit``/``offset``, ``total``), computed in SQL over ``leaderboard_entries`` (the
models' scores per domain, kept in step by ``service._sync_entries``): :func:`repository.leaderboard_groups` finds
the most common settings, :func:`repository.leaderboard_page` ranks the page with window functions following the
rule of :func:`assign_ranks` (kept as its reference, the tests compare the two); only the page's models are loaded.

Contamination: a model whose training data (its run's dataset, or a dataset anywhere up its fork lineage) overlaps
the test documents of a task in the board's domain (``overall``: in any domain) is left out of the ranking by
default, in SQL: the set comes from the recursive ``contamination_repository.tainted_models`` (one small query;
usually empty, and then the board's queries are unchanged) and the ranking query leaves it out (``NOT IN``);
``hidden_contaminated`` says how many visible rows that hid. ``include_contaminated=True`` ranks them with the
others, each flagged ``contaminated`` with its summary ("trained on data that overlaps GSM8K test: 37 documents").
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session

from modelmate.benchmarking import repository as repo
from modelmate.benchmarking import service
from modelmate.benchmarking.schemas import DomainScore, Leaderboard, LeaderboardRow, ModelScores, RefOut
from modelmate.datasets import contamination
from modelmate.datasets import contamination_repository as contamination_repo
from modelmate.enums import ModelMethod
from modelmate.errors import NotFoundError, ValidationFailed
from modelmate.evaluation import suites
from modelmate.models import Model, User

METHODS: tuple[str, ...] = tuple(m.value for m in ModelMethod)
Z_95 = 1.96
MIN_DOCUMENTS = 100  # documents per domain below which a score is flagged as a small sample


def interval(score: float | None, stderr: float | None) -> tuple[float, float] | None:
    """The 95% confidence interval of a score, or None without a score; no stderr → the point itself."""
    if score is None or not math.isfinite(score):
        return None
    half = Z_95 * stderr if stderr is not None and math.isfinite(stderr) and stderr > 0 else 0.0
    return score - half, score + half


def assign_ranks(rows: list[LeaderboardRow]) -> None:
    """Rank comparable rows (already sorted best first): standard competition ranking (1, 2, 2, 4), where a row
    whose confidence interval overlaps the row above's (or with the very same score) shares its rank, ``tied``."""
    above: LeaderboardRow | None = None
    for index, row in enumerate(r for r in rows if r.comparable):
        mine, theirs = interval(row.score, row.stderr), interval(above.score, above.stderr) if above else None
        same = above is not None and (row.score == above.score or (
            mine is not None and theirs is not None and mine[1] >= theirs[0] and theirs[1] >= mine[0]))
        if above is not None and same:
            row.rank, row.tied = above.rank, True
        else:
            row.rank, row.tied = index + 1, False
        above = row


def delta(entry: dict[str, Any] | None, base_entry: dict[str, Any] | None) -> float | None:
    if not entry or not base_entry or entry.get("settings_hash") != base_entry.get("settings_hash"):
        return None
    return float(entry["score"]) - float(base_entry["score"])


def model_scores(session: Session, user: User, model_id: int) -> ModelScores:
    model = repo.get_model(session, model_id)
    if model is None or not service.visible(model, user):
        raise NotFoundError(f"model {model_id} not found")
    base = repo.get_model(session, model.base_model_id) if model.base_model_id else None
    if base is not None and not service.visible(base, user):
        base = None
    domains = []
    for domain in suites.DOMAINS:
        entry = service.entry_for(model, domain)
        if entry is None:
            continue
        base_entry = service.entry_for(base, domain) if base is not None else None
        d = delta(entry, base_entry)
        domains.append(DomainScore(domain=domain, score=entry.get("score"), stderr=entry.get("stderr"),
                                   tasks=list(entry.get("tasks") or []), evaluation_id=entry.get("evaluation_id"),
                                   mode=entry.get("mode"), settings_hash=entry.get("settings_hash"),
                                   measured_at=entry.get("measured_at"), backend=service.engine(entry.get("backend")),
                                   base_score=base_entry.get("score") if d is not None and base_entry is not None
                                   else None, delta_vs_base=d))
    latest = repo.latest_final(session, model.id)
    return ModelScores(model_id=model.id, base_model_id=model.base_model_id, domains=domains,
                       evaluation=service.to_out(session, latest, model=model, rows=True) if latest else None)


LIMIT = 100  # leaderboard rows per page by default
MAX_LIMIT = 500


def leaderboard(session: Session, user: User, *, domain: str, base_model_id: int | None = None,
                min_params: int | None = None, max_params: int | None = None,
                method: str | None = None, limit: int = LIMIT, offset: int = 0,
                include_contaminated: bool = False) -> Leaderboard:
    """One page of a leaderboard. Filtering, the most common settings and the ranks are computed in SQL over every
    visible entry (:func:`repository.leaderboard_page`); only the page's models are loaded for their details."""
    if domain != "overall" and domain not in suites.DOMAINS:
        raise ValidationFailed(f"unknown domain {domain!r}; known: overall, {', '.join(suites.DOMAINS)}",
                               details={"field": "domain"})
    if method is not None and method not in METHODS:
        raise ValidationFailed(f"unknown method {method!r}; known: {', '.join(METHODS)}", details={"field": "method"})
    tainted = contamination_repo.tainted_ids(session, domain)  # usually none: then the board's SQL is unchanged
    filters: dict[str, Any] = {"domain": domain, "base_model_id": base_model_id, "min_params": min_params,
                               "max_params": max_params, "method": method}
    hidden = 0 if include_contaminated else repo.hidden_contaminated(session, user.id, **filters, excluded=tainted)
    if not include_contaminated:
        filters["excluded"] = tainted
    groups, total = repo.leaderboard_groups(session, user.id, **filters)
    common, common_key = _common(session, groups, domain)
    n_common = next((n for key, n, _ in groups if key == common_key), 0)
    page = repo.leaderboard_page(session, user.id, common_key=common_key, n_common=n_common, limit=limit,
                                 offset=offset, **filters)
    found = repo.models_by_id(session, [i for i, *_ in page])
    entries = [(found[i], e) for i, *_ in page if (e := service.entry_for(found[i], domain)) is not None]
    base_ids = [m.base_model_id for m, _ in entries if m.base_model_id]
    bases = {k: v for k, v in repo.models_by_id(session, base_ids).items() if service.visible(v, user)}
    documents = _documents(session, entries, domain)
    thumbs = repo.thumbs(session, [m.id for m, _ in entries])
    ranks = {i: (comparable, rank, tied) for i, comparable, rank, tied in page}
    flagged = {m.id for m, _ in entries} & tainted if include_contaminated else set()
    notes = contamination.models_contamination(session, sorted(flagged)) if flagged else {}
    rows = []
    for model, entry in entries:
        base = bases.get(model.base_model_id or 0)
        up, down = thumbs.get(model.id, (0, 0))
        comparable, rank, tied = ranks[model.id]
        rows.append(LeaderboardRow(
            rank=rank, tied=tied, model=RefOut(id=model.id, name=model.name, kind=model.kind),
            base=RefOut(id=base.id, name=base.name, kind=base.kind) if base else None, parameters=model.parameters,
            method=service.method_of(model), score=entry.get("score"), stderr=entry.get("stderr"),
            delta_vs_base=delta(entry, service.entry_for(base, domain)) if base else None,
            measured_at=entry.get("measured_at"), thumbs_up=up, thumbs_down=down,
            comparable=comparable, settings_hash=entry.get("settings_hash"),
            mode=entry.get("mode"), n_documents=documents.get(model.id),
            small_sample=_small(documents.get(model.id), entry.get("mode")), backends=_engines(entry),
            contaminated=model.id in flagged,
            contamination=notes[model.id].summary if model.id in notes else None))
    return Leaderboard(domain=domain, settings_hash=common, min_documents=MIN_DOCUMENTS, rows=rows, total=total,
                       limit=limit, offset=offset, include_contaminated=include_contaminated,
                       hidden_contaminated=hidden)


def _common(session: Session, groups: list[tuple[str, int, int]], domain: str) -> tuple[Any, str | None]:
    """The most common settings hash (ties: the greatest as a string, as ``max`` over ``(count, str(hash))``) and
    its SQL grouping key. Only the largest groups' representatives are loaded to read their real hash."""
    if not groups:
        return None, None
    top = [g for g in groups if g[1] == groups[0][1]]
    models = repo.models_by_id(session, [i for _, _, i in top])
    candidates = []
    for key, count, model_id in top:
        entry = service.entry_for(models[model_id], domain) or {}
        candidates.append((count, str(entry.get("settings_hash")), entry.get("settings_hash"), key))
    _, _, common, key = max(candidates, key=lambda c: (c[0], c[1]))
    return common, key


def _engines(entry: dict[str, Any]) -> list[str]:
    """The engines behind a leaderboard entry: a domain's one, or (overall) each of its domains'."""
    if "backends" in entry:
        return list(entry["backends"])
    engine = service.engine(entry.get("backend"))
    return [engine] if engine else []


def _small(n_documents: int | None, mode: str | None) -> bool:
    return n_documents < MIN_DOCUMENTS if n_documents is not None else mode == "quick"


def _documents(session: Session, entries: list[tuple[Model, dict[str, Any]]], domain: str) -> dict[int, int]:
    """Documents behind each model's score: its domain's count, or for ``overall`` the fewest of its domains."""
    wanted: dict[int, list[tuple[int, str]]] = {}
    for model, _entry in entries:
        scores = model.benchmark_scores or {}
        domains = ([d for d in suites.DOMAINS if service.entry_for(model, d) is not None] if domain == "overall"
                   else [domain])
        keys = [(scores[d].get("evaluation_id"), d) for d in domains]
        if all(isinstance(ev, int) for ev, _ in keys):
            wanted[model.id] = keys
    counts = repo.documents_per_domain(session, [ev for keys in wanted.values() for ev, _ in keys])
    out: dict[int, int] = {}
    for model_id, keys in wanted.items():
        found = [counts.get(k) for k in keys]
        if found and all(n is not None for n in found):
            out[model_id] = min(n for n in found if n is not None)
    return out
