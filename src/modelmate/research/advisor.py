"""The advisor: before launching, past runs like this one (same base model, nearby hyperparameters, a dataset of
a similar size) with their outcomes, and plain warnings when configurations like it failed before.

Distance (Euclidean, each term normalised so that 1 means "clearly different"):
``|Δ log10 learning rate|`` (one decade = 1), ``|Δ log2 r| / 2``, ``|Δ log2 batch size| / 2``,
``|Δ log2 max_seq_length| / 2``, ``|Δ log2 epochs|`` (only when neither run sets ``max_steps``) and, when both
dataset sizes are known, ``|Δ log10 rows| / 2``. Only runs you may see (your own and those whose model is public)
on the same base model are considered; runs within ``NEAR`` count for the warnings.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from modelmate.datasets.service import get_visible
from modelmate.enums import FailureCategory
from modelmate.errors import ValidationFailed
from modelmate.finetune import base_catalog as bases
from modelmate.finetune.service import resolve_config
from modelmate.models import Dataset, Model, User
from modelmate.research import repository as repo
from modelmate.research.refs import RefBuilder, visible
from modelmate.research.schemas import AdvisorOut, AdvisorRequest, SimilarRun

MAX_SIMILAR = 8
NEAR = 1.5
SAME = 0.05
CANDIDATES = 2000
SUBSET = ("learning_rate", "r", "alpha", "epochs", "max_steps", "batch_size", "max_seq_length")
# The categories worth a warning, as the advisor words them (cancelled and worker_lost say nothing about the config).
BAD: dict[str, str] = {
    FailureCategory.DIVERGED: "diverged", FailureCategory.NO_LEARNING: "did not learn (flat loss)",
    FailureCategory.OVERFITTING: "overfitted", FailureCategory.FORGETTING: "forgot other domains",
    FailureCategory.OUT_OF_MEMORY: "ran out of memory", FailureCategory.CRASHED: "crashed",
    FailureCategory.INVALID_DATA: "hit invalid data"}


def _pos(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def _term(a: Any, b: Any, log, scale: float) -> float | None:
    a, b = _pos(a), _pos(b)
    if a is None or b is None:
        return None
    return abs(log(a) - log(b)) / scale


def distance(mine: dict[str, Any], theirs: dict[str, Any], my_rows: int | None, their_rows: int | None) -> float:
    return Distance(mine, my_rows)(theirs, their_rows)


_LOGGED = (("learning_rate", math.log10, 1.0), ("r", math.log2, 2.0), ("batch_size", math.log2, 2.0),
           ("max_seq_length", math.log2, 2.0))


class Distance:
    """:func:`distance` from one configuration to many: its logarithms are taken once."""

    def __init__(self, mine: dict[str, Any], my_rows: int | None) -> None:
        self.terms = [(key, log, scale, _log(log, mine.get(key))) for key, log, scale in _LOGGED]
        self.rows = _log(math.log10, my_rows)
        self.no_max_steps = mine.get("max_steps") is None
        self.epochs = _log(math.log2, mine.get("epochs"))

    def __call__(self, theirs: dict[str, Any], their_rows: int | None) -> float:
        total = 0.0
        for key, log, scale, mine in self.terms:
            total += _square(mine, theirs.get(key), log, scale)
        total += _square(self.rows, their_rows, math.log10, 2.0)
        if self.no_max_steps and theirs.get("max_steps") is None:
            total += _square(self.epochs, theirs.get("epochs"), math.log2, 1.0)
        return math.sqrt(total)


def _log(log, value: Any) -> float | None:
    value = _pos(value)
    return None if value is None else log(value)


def _square(mine: float | None, theirs: Any, log, scale: float) -> float:
    """The squared term (0 when either side has no positive value)."""
    if mine is None:
        return 0.0
    other = _pos(theirs)
    if other is None:
        return 0.0
    term = abs(mine - log(other)) / scale
    return term * term


def _fmt(value: float) -> str:
    return f"{value:g}"


def _condition(category: str, runs: list[tuple[int, dict[str, Any]]]) -> str:
    lrs = [c["learning_rate"] for _, c in runs if _pos(c.get("learning_rate"))]
    if category == FailureCategory.DIVERGED and lrs:
        return f" (learning rate ≥ {_fmt(min(lrs))})"
    if category == FailureCategory.NO_LEARNING and lrs:
        return f" (learning rate ≤ {_fmt(max(lrs))})"
    if category == FailureCategory.OUT_OF_MEMORY:
        batch = [c["batch_size"] for _, c in runs if _pos(c.get("batch_size"))]
        seq = [c["max_seq_length"] for _, c in runs if _pos(c.get("max_seq_length"))]
        if batch and seq:
            return f" (batch size ≥ {min(batch)}, sequence length ≥ {min(seq)})"
    if category == FailureCategory.OVERFITTING:
        epochs = [c["epochs"] for _, c in runs if _pos(c.get("epochs")) and c.get("max_steps") is None]
        if epochs:
            return f" ({_fmt(min(epochs))} epochs or more)"
    return ""


def _resolve(session: Session, user: User, body: AdvisorRequest) -> tuple[Model, dict[str, Any], list[str]]:
    model = bases.resolve_model_ref(session, user, body.base_model)
    if model.kind == "finetuned" and model.base_model_id:
        model = repo.get_model(session, model.base_model_id) or model
    spec = bases.spec_from_model(model)
    notes: list[str] = []
    try:
        config = resolve_config(body.preset, body.config, spec).model_dump(mode="json")
    except ValidationFailed as exc:
        notes.append(f"The configuration is not valid yet ({exc.message}); compared with the preset's values.")
        try:
            config = resolve_config(body.preset, None, spec).model_dump(mode="json")
        except ValidationFailed:
            config = resolve_config(None, None, spec).model_dump(mode="json")
    return model, config, notes


def advise(session: Session, user: User, body: AdvisorRequest) -> AdvisorOut:
    base, config, warnings = _resolve(session, user, body)
    dataset: Dataset | None = None
    if body.dataset_id is not None:
        dataset = get_visible(session, user, body.dataset_id)
    candidates = repo.advisor_candidates(session, user, base_model_id=base.id, limit=CANDIDATES)
    datasets = repo.dataset_rows(session, {d for _, _, d, _ in candidates if d})
    to = Distance(config, dataset.rows if dataset is not None else None)
    scored = sorted(((to(c or {}, datasets.get(d) if d else None), (i, c or {}, category))
                     for i, c, d, category in candidates), key=lambda x: (x[0], -x[1][0]))
    top = scored[:MAX_SIMILAR]
    runs = repo.runs_by_id(session, {i for _, (i, _, _) in top})
    models = repo.models_by_id(session, {runs[i].output_model_id or 0 for _, (i, _, _) in top})
    ref = RefBuilder(session, list(models.values()))
    similar = []
    for dist, (run_id, _, _) in top:
        run = runs[run_id]
        model = models.get(run.output_model_id or 0)
        shown = model if visible(model, user) else None
        scores = {d: float(v["score"]) for d, v in ((shown.benchmark_scores or {}) if shown else {}).items()
                  if isinstance(v, dict) and isinstance(v.get("score"), int | float)}
        similar.append(SimilarRun(
            run_id=run.id, name=run.name, distance=round(dist, 4), same_base=run.base_model_id == base.id,
            outcome=run.training_outcome, status=run.status, failure_category=run.failure_category,
            config={k: (run.config or {}).get(k) for k in SUBSET}, final_loss=run.final_loss,
            final_eval_loss=run.final_eval_loss, scores=scores, model=ref(shown) if shown else None))
    warnings += _warnings(base, [(d, r) for d, r in scored if d <= NEAR])
    return AdvisorOut(similar=similar, warnings=warnings)


def _warnings(base: Model, near: list[tuple[float, tuple[int, dict[str, Any], str | None]]]) -> list[str]:
    """``near``: ``(distance, (run id, config, failure category))`` of the runs within :data:`NEAR`, nearest
    first."""
    out: list[str] = []
    if not near:
        return out
    same = [(i, category) for d, (i, _, category) in near if d <= SAME and category in BAD]
    if same:
        first_id, first_category = same[0]
        assert first_category is not None  # one of BAD
        out.append(f"A run with this configuration on {base.name} failed before: run {first_id} "
                   f"{BAD[first_category]}.")
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for _, (run_id, config, bad) in near:
        if bad is not None and bad in BAD:
            groups[bad].append((run_id, config))
    for category, runs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        noun = "run" if len(near) == 1 else "runs"
        out.append(f"{len(runs)} of {len(near)} similar {noun} on {base.name} {BAD[category]}"
                   f"{_condition(category, runs)}.")
    return out
