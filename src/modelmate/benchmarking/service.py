"""Benchmarking rules: which model an evaluation measures, its settings and their hash (the cache key), queueing
(or reusing a cached final evaluation), storing a finished run's rows and the model's per-domain scores.

A model's ``benchmark_scores`` JSON holds one entry per domain ever measured (the latest FINAL evaluation of that
domain wins; partial and failed evaluations never touch it)::

    {"math": {"score": 0.12, "stderr": 0.03, "tasks": ["gsm8k"], "evaluation_id": 7, "mode": "quick",
              "settings_hash": "<domain settings hash>", "measured_at": "2026-...Z", "backend": "hf"}}

Scores are the mean of the domain's headline metrics, each scaled to 0-1 (BLEU/chrF divided by 100).

The engine (``hf`` or ``vllm``, setting ``MODELMATE_EVAL_BACKEND``) is resolved by the process that runs the
evaluation and recorded with its settings (``settings["backend"]``), its rows and its domain scores; it is not part of
any settings hash or task hash: both engines score the same documents with the same prompts, so their scores are
cached, ranked and compared together (docs/benchmarking.md, "Engines").
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history

from modelmate.benchmarking import repository as repo
from modelmate.benchmarking.schemas import BenchmarkRowOut, EvaluationCreate, EvaluationOut, EvaluationPage
from modelmate.config import Settings
from modelmate.db.base import utcnow
from modelmate.enums import (
    FINISHED_EVALUATION_STATUSES,
    FINISHED_JOB_STATUSES,
    EvalBackend,
    EvaluationStatus,
    JobKind,
    ModelKind,
    ModelMethod,
)
from modelmate.errors import NotFoundError, ValidationFailed
from modelmate.evaluation import backends, mirror, suites
from modelmate.finetune import adapters, executors
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as ft_repo
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs import service as jobs
from modelmate.models import BenchmarkResult, Evaluation, Job, Model, User

SETTINGS_VERSION = 1


# --- settings and their hash ---------------------------------------------------------------------------------------

def harness_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lm_eval")
    except PackageNotFoundError:  # pragma: no cover - lm-eval is a dependency
        return "unknown"


def _specs_digest(specs: list[suites.TaskSpec]) -> str:
    digest = hashlib.sha256()
    for spec in specs:
        digest.update(json.dumps([spec.name, spec.n_shot, [m.name + "," + m.filter for m in spec.metrics]]).encode())
        for path in spec.config_files():
            for part in (mirror.config_chain(path) if path.suffix == ".yaml" and path.is_file() else [path]):
                digest.update(part.name.encode() + b"\0" + (part.read_bytes() if part.is_file() else b"") + b"\0")
    return digest.hexdigest()


def domain_settings(settings: Settings, mode: str, domain: str) -> dict[str, Any]:
    specs = [s for s in suites.SUITES if s.domain == domain]
    return {"v": SETTINGS_VERSION, "mode": mode, "harness_version": harness_version(),
            "quick_sizes": {s.name: settings.eval_quick_size or s.quick_size for s in specs} if mode == "quick" else {},
            # only matters where a task runs model-written code (off: those tasks are skipped)
            "code_execution_enabled": (settings.code_execution_enabled
                                       if any(s.requires_code_execution for s in specs) else None),
            "data_source": "mirror" if settings.benchmark_data_dir else "huggingface",
            "suite": _specs_digest(specs)}


def hash_of(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def evaluation_settings(settings: Settings, mode: str, domains: list[str] | None) -> tuple[dict[str, Any], str]:
    """The settings of an evaluation (with one hash per domain) and the evaluation's settings hash."""
    chosen = sorted(set(domains)) if domains else list(suites.DOMAINS)
    unknown = [d for d in chosen if d not in suites.DOMAINS]
    if unknown:
        raise ValidationFailed(f"unknown domain(s) {', '.join(unknown)}; known: {', '.join(suites.DOMAINS)}",
                               details={"field": "domains", "known": list(suites.DOMAINS)})
    per_domain = {d: domain_settings(settings, mode, d) for d in chosen}
    domain_hashes = {d: hash_of(v) for d, v in per_domain.items()}
    first = next(iter(per_domain.values()))
    values = {"mode": mode, "domains": chosen, "harness_version": first["harness_version"],
              "quick_size": settings.eval_quick_size, "code_execution_enabled": settings.code_execution_enabled,
              "data_source": first["data_source"], "domain_hashes": domain_hashes}
    return values, hash_of({"v": SETTINGS_VERSION, "domains": domain_hashes})


# --- models ---------------------------------------------------------------------------------------------------------

def visible(model: Model, user: User) -> bool:
    return model.visibility == "public" or model.owner_id == user.id


def resolve_model(session: Session, user: User, ref: str) -> Model:
    """A catalog model by id, base-model key or Hugging Face id; 404 when unknown to ``user``."""
    ref = ref.strip()
    model: Model | None = None
    if ref.isdigit() and len(ref) <= 18:
        model = repo.get_model(session, int(ref))
    else:
        model = ft_repo.base_by_key(session, ref.lower())
        if model is None:
            found = repo.models_by_hf_id(session, ref, user.id)
            model = next((m for m in found if m.kind == "base"), found[0] if found else None)
    if model is None or not visible(model, user):
        raise NotFoundError(f"model {ref[:200]!r} not found")
    return model


def stored_weights(settings: Settings, session: Session, model: Model) -> tuple[str | None, str | None]:
    """``(base model key, adapter key)`` in the artifact store, for an evaluation on a Ray node (None where the
    weights are not in the store: the node then uses the path or Hugging Face id of :func:`weights_of`)."""
    adapter_key = None
    base = model
    if (model.hub_info or {}).get("adapter") and model.base_model_id:
        adapter_key = adapters.key_or_path(settings, adapters.adapter_uri(model))[0]
        base = repo.get_model(session, model.base_model_id) or model
    key = str((base.hub_info or {}).get("key") or "")
    base_key = bases.stored_key(key) if key and bases.stored_available(settings, base) else None
    return base_key, adapter_key


def weights_of(settings: Settings, session: Session, model: Model) -> tuple[str, str | None]:
    """What the evaluation loads: ``(model dir or Hugging Face id, adapter dir or None)``; ValueError when the model
    has no weights this server can load."""
    info = model.hub_info or {}
    if info.get("adapter") and info.get("artifact_uri"):
        base = repo.get_model(session, model.base_model_id) if model.base_model_id else None
        if base is None:
            raise ValueError("the fine-tuned model's base model is no longer in the catalog")
        source, _ = weights_of(settings, session, base)

        try:
            adapter = adapters.adapter_dir(settings, model)
        except adapters.StoreUnavailable as exc:
            raise ValueError(str(exc)) from None
        if adapter is None or not adapter.is_dir():
            raise ValueError("the adapter is not in the artifact store")
        return source, str(adapter)
    if info.get("key"):
        available, reason = bases.availability(settings, model)
        if not available:
            raise ValueError(reason or "not available")
        local_source = bases.model_source(settings, model)
        if local_source:
            return local_source, None
    if model.hf_repo_id:
        return model.hf_repo_id, None
    raise ValueError("it has no Hugging Face id and no weights on this server")


# --- queueing -------------------------------------------------------------------------------------------------------

def enqueue(session: Session, settings: Settings, model: Model, *, owner_id: int | None, mode: str,
            domains: list[str] | None, run_id: int | None = None, priority: int = 0) -> tuple[Evaluation, bool]:
    """Queue an evaluation of ``model``, or return the cached final one with the same settings (``True``) — or the
    one with those settings already queued/running (``False``, nothing new queued). ``priority`` orders its job
    among the queued ones (higher first)."""
    values, settings_hash = evaluation_settings(settings, mode, domains)
    cached = repo.cached_final(session, model.id, settings_hash)
    if cached is not None:
        return cached, True
    running = repo.running_for(session, model.id, settings_hash)
    if running is not None:
        return running, False
    try:
        weights_of(settings, session, model)
    except ValueError as exc:
        raise ValidationFailed(f"'{model.name}' cannot be evaluated: {exc}") from None
    specs = suites.select(values["domains"])
    evaluation = repo.add_evaluation(session, {
        "owner_id": owner_id, "model_id": model.id, "run_id": run_id, "mode": mode, "status": "running",
        "tasks": [s.name for s in specs], "settings": values, "settings_hash": settings_hash,
        "harness_version": values["harness_version"]})
    job, _ = jobs.enqueue(session, kind=JobKind.EVALUATE, owner_id=owner_id,
                          payload={"evaluation_id": evaluation.id}, max_attempts=2, priority=priority)
    evaluation.job_id = job.id
    session.flush()
    return evaluation, False


def check_backend(settings: Settings) -> None:
    """``MODELMATE_EVAL_BACKEND=vllm`` where this machine's worker cannot run vLLM: a 400 naming the fix, before
    anything is queued. Only for the local executor (the in-process worker, ``modelmate worker``, the CLI's fallback
    run on a machine configured like this one); on Ray the node that runs the evaluation decides, and an evaluation it
    cannot run fails with the same message."""
    if settings.eval_backend != EvalBackend.VLLM or executors.uses_ray(settings):
        return
    try:
        backends.resolve_backend(settings.eval_backend)
    except backends.BackendUnavailable as exc:
        raise ValidationFailed(str(exc), details={"setting": "MODELMATE_EVAL_BACKEND", "fix": "hf"}) from None


def create_evaluation(session: Session, settings: Settings, user: User,
                      body: EvaluationCreate) -> tuple[EvaluationOut, bool]:
    """POST /evaluations: ``(evaluation, cached)``."""
    check_backend(settings)
    model = resolve_model(session, user, body.model)
    evaluation, cached = enqueue(session, settings, model, owner_id=user.id, mode=body.mode, domains=body.domains)
    return to_out(session, evaluation, cached=cached), cached


def default_mode() -> str:
    try:
        import torch

        return "full" if torch.cuda.is_available() else "quick"
    except ImportError:  # pragma: no cover
        return "quick"


def enqueue_after_training(session: Session, settings: Settings, model_id: int, *, owner_id: int | None,
                           run_id: int | None, priority: int = 0) -> list[int]:
    """After a successful run: evaluate the new model on every domain (quick on CPU) and its base once per
    settings (the base's cached final evaluation is reused). Returns the evaluation ids queued or reused.
    ``priority``: the training job's, so that background work (the hub demo) stays behind what users queue."""
    model = repo.get_model(session, model_id)
    if model is None:
        return []
    mode = default_mode()
    domains = settings.auto_evaluate_domains or None
    out: list[int] = []
    evaluation, _ = enqueue(session, settings, model, owner_id=owner_id, mode=mode, domains=domains, run_id=run_id,
                            priority=priority)
    out.append(evaluation.id)
    base = repo.get_model(session, model.base_model_id) if model.base_model_id else None
    if base is not None:
        try:
            evaluation, _ = enqueue(session, settings, base, owner_id=owner_id, mode=mode, domains=domains,
                                    priority=priority)
            out.append(evaluation.id)
        except ValidationFailed:
            pass  # the base cannot be loaded here: no baseline
    return out


# --- reading ----------------------------------------------------------------------------------------------------------

def row_out(row: BenchmarkResult) -> BenchmarkRowOut:
    raw = row.raw or {}
    return BenchmarkRowOut(task=row.task, domain=row.domain, metric=row.metric, value=row.value, stderr=row.stderr,
                           n_samples=row.n_samples, n_shot=row.n_shot, sample_limit=row.sample_limit, mode=row.mode,
                           status=row.status, harness_version=row.harness_version, task_hash=row.task_hash,
                           chat_template_hash=row.chat_template_hash, primary=bool(raw.get("primary")),
                           error=raw.get("error"), backend=engine(raw.get("backend")))


def to_out(session: Session, evaluation: Evaluation, *, cached: bool = False, job: Job | None = None,
           model: Model | None = None, rows: bool = False) -> EvaluationOut:
    if job is None and evaluation.job_id:
        job = repo.jobs_by_id(session, [evaluation.job_id]).get(evaluation.job_id)
    model = model or repo.get_model(session, evaluation.model_id)
    values = evaluation.settings or {}
    error = evaluation.error
    if error:
        error = {k: v for k, v in error.items() if k != "traceback"}
    return EvaluationOut(
        id=evaluation.id, model_id=evaluation.model_id, model_name=model.name if model else None,
        run_id=evaluation.run_id, job_id=evaluation.job_id, mode=evaluation.mode, status=evaluation.status,
        domains=list(values.get("domains") or []), tasks=list(evaluation.tasks or []), settings=values,
        settings_hash=evaluation.settings_hash, harness_version=evaluation.harness_version, error=error,
        cached=cached, job_status=job.status if job else None,
        progress=1.0 if evaluation.status != "running" else (job.progress if job else None),
        progress_message=job.progress_message if job else None, created_at=evaluation.created_at,
        finished_at=evaluation.finished_at,
        rows=[row_out(r) for r in repo.rows_of(session, evaluation.id)] if rows else [])


def get_visible(session: Session, user: User, evaluation_id: int) -> Evaluation:
    evaluation = repo.get_evaluation(session, evaluation_id)
    model = repo.get_model(session, evaluation.model_id) if evaluation is not None else None
    if evaluation is None or model is None or not visible(model, user):
        raise NotFoundError(f"evaluation {evaluation_id} not found")
    return evaluation


def get_evaluation(session: Session, user: User, evaluation_id: int) -> EvaluationOut:
    return to_out(session, get_visible(session, user, evaluation_id), rows=True)


def cancel_evaluation(session: Session, user: User, evaluation_id: int) -> EvaluationOut:
    """Idempotent: a queued evaluation is failed ('Cancelled') at once; a running one's process group is killed by
    its worker; a finished one is unchanged. Only the evaluation's owner may cancel it (others: 404)."""
    evaluation = get_visible(session, user, evaluation_id)
    if evaluation.owner_id != user.id:
        raise NotFoundError(f"evaluation {evaluation_id} not found")
    if evaluation.status == "running":
        job = repo.lock_job(session, evaluation.job_id) if evaluation.job_id else None
        if job is not None:
            jobs_repo.request_cancel(session, job)
        if job is None or job.status == "cancelled":
            fail(evaluation, "Cancelled", "The evaluation was cancelled before it started.")
        session.flush()
    return to_out(session, evaluation, rows=True)


def raw_results(session: Session, user: User, evaluation_id: int) -> dict[str, Any]:
    return get_visible(session, user, evaluation_id).raw_results or {}


def list_evaluations(session: Session, user: User, *, model_id: int | None, limit: int, offset: int) -> EvaluationPage:
    items, total = repo.list_visible(session, user.id, model_id=model_id, limit=limit, offset=offset)
    job_map = repo.jobs_by_id(session, [e.job_id for e in items if e.job_id])
    model_map = repo.models_by_id(session, list({e.model_id for e in items}))
    return EvaluationPage(items=[to_out(session, e, job=job_map.get(e.job_id or 0), model=model_map.get(e.model_id))
                                 for e in items], total=total)


# --- storing a finished run -------------------------------------------------------------------------------------------

def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        else None


engine = backends.recorded_engine  # the leaderboard and the result rows read stored engines the same way


def db_rows(evaluation: Evaluation, result_rows: list[dict[str, Any]], run_status: str) -> list[dict[str, Any]]:
    out = []
    for row in result_rows:
        status = str(row.get("status") or "failed")
        if run_status != "final" and status == "final":
            status = "partial"  # never final unless the whole run was
        out.append({
            "model_id": evaluation.model_id, "task": str(row.get("task"))[:100], "domain": str(row.get("domain"))[:32],
            "metric": f"{row.get('metric')},{row.get('filter') or 'none'}"[:100], "value": _finite(row.get("value")),
            "stderr": _finite(row.get("stderr")), "n_samples": row.get("n_samples"), "n_shot": row.get("n_shot"),
            "sample_limit": row.get("limit"), "mode": evaluation.mode, "status": status,
            "harness_version": row.get("harness_version"), "task_hash": row.get("task_hash"),
            "chat_template_hash": row.get("chat_template_hash"),
            "raw": {**{k: row.get(k) for k in ("primary", "scale", "higher_is_better", "group", "error")},
                    "backend": engine(row.get("backend"))}})
    return out


def domain_summaries(evaluation: Evaluation, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One score per domain from the headline rows of its top-level tasks (a group's own row, else its leaves)."""
    out: dict[str, dict[str, Any]] = {}
    hashes = (evaluation.settings or {}).get("domain_hashes") or {}
    measured = (evaluation.finished_at or utcnow()).isoformat()
    for domain in (evaluation.settings or {}).get("domains") or []:
        values: list[tuple[float, float | None]] = []
        tasks: list[str] = []
        for spec in (s for s in suites.SUITES if s.domain == domain):
            heads = [r for r in rows if r.get("primary") and r.get("status") == "final" and r.get("domain") == domain
                     and (r.get("task") == spec.name if spec.group_score or not spec.is_group
                          else r.get("group") == spec.name)]
            heads = [r for r in heads if _finite(r.get("value")) is not None]
            if not heads:
                continue
            scale = float(heads[0].get("scale") or 1.0)
            value = sum(_finite(r["value"]) or 0.0 for r in heads) / len(heads) / scale  # all finite (above)
            errs = [e for r in heads if (e := _finite(r.get("stderr"))) is not None]
            err = (math.sqrt(sum(e * e for e in errs)) / len(heads) / scale) if len(errs) == len(heads) else None
            values.append((value, err))
            tasks.append(spec.name)
        if not values:
            continue
        domain_errs = [e for _, e in values if e is not None]
        out[domain] = {
            "score": sum(v for v, _ in values) / len(values),
            "stderr": (math.sqrt(sum(e * e for e in domain_errs)) / len(domain_errs)
                       if len(domain_errs) == len(values) else None),
            "tasks": tasks, "evaluation_id": evaluation.id, "mode": evaluation.mode,
            "settings_hash": hashes.get(domain), "measured_at": measured,
            "backend": engine((evaluation.settings or {}).get("backend"))}
    return out


def outcome_rows(outcomes: Any) -> list[dict[str, Any]]:
    """The run's per-document outcomes (``{leaf task: [{"doc_id", "doc_hash", "values"}]}``) as table rows; malformed
    entries are dropped, a document appears once per task."""
    out: list[dict[str, Any]] = []
    if not isinstance(outcomes, dict):
        return out
    for task, docs in outcomes.items():
        seen: set[int] = set()
        for doc in docs if isinstance(docs, list) else []:
            doc_id = doc.get("doc_id") if isinstance(doc, dict) else None
            values = doc.get("values") if isinstance(doc, dict) else None
            if isinstance(doc_id, bool) or not isinstance(doc_id, int) or not isinstance(values, dict) or not values \
                    or doc_id in seen:
                continue
            seen.add(doc_id)
            out.append({"task": str(task)[:100], "doc_id": doc_id, "doc_hash": str(doc.get("doc_hash") or "")[:64],
                        "metrics": values})
    return out


def store_result(session: Session, evaluation: Evaluation, result: dict[str, Any]) -> str:
    """Write a finished run: rows, per-document outcomes, raw results, status; a FINAL run also updates the model's
    domain scores."""
    status = str(result.get("status"))
    if status not in FINISHED_EVALUATION_STATUSES:
        status = EvaluationStatus.FAILED.value
    rows = [r for r in result.get("rows") or [] if isinstance(r, dict)]
    evaluation.status = status
    evaluation.finished_at = utcnow()
    evaluation.raw_results = result.get("raw") if isinstance(result.get("raw"), dict) else {}
    backend = engine(result.get("backend"))
    if backend is not None:  # the engine that scored it
        evaluation.settings = {**(evaluation.settings or {}), "backend": backend}
    if result.get("harness_version"):
        evaluation.harness_version = str(result["harness_version"])[:32]
    errors = result.get("errors") or {}
    if status != "final" or errors:
        error = result.get("error")
        if not isinstance(error, dict):
            error = {}
        evaluation.error = {"type": error.get("type") or "TaskErrors", "message": error.get("message") or
                            "; ".join(f"{k}: {v}" for k, v in errors.items())[:4000], "tasks": errors,
                            **({"traceback": error["traceback"]} if error.get("traceback") else {})}
    repo.replace_rows(session, evaluation.id, db_rows(evaluation, rows, status))
    repo.replace_outcomes(session, evaluation.id, outcome_rows(result.get("outcomes")) if status != "failed" else [])
    if status == "final":
        summaries = domain_summaries(evaluation, rows)
        model = repo.lock_model(session, evaluation.model_id)
        if model is not None and summaries:
            scores = dict(model.benchmark_scores or {})
            scores.update(summaries)
            model.benchmark_scores = scores
    session.flush()
    return status


def fail(evaluation: Evaluation, kind: str, message: str, traceback: str | None = None) -> None:
    evaluation.status = "failed"
    evaluation.finished_at = utcnow()
    evaluation.error = {"type": kind, "message": message[:4000], **({"traceback": traceback} if traceback else {})}


def reconcile_evaluations(db) -> int:
    """Evaluations still 'running' whose job has ended (failed, cancelled, vanished) are failed."""
    changed = 0
    with db.session() as session:
        for evaluation, job in repo.open_evaluations_with_jobs(session):
            if job is None or job.status in FINISHED_JOB_STATUSES:
                state = job.status if job is not None else "gone"
                fail(evaluation, "JobEnded", f"The evaluation's job is {state}; no results were recorded.")
                changed += 1
    return changed


# --- a model's leaderboard entries ------------------------------------------------------------------------------

def overall_entry(scores: dict[str, Any]) -> dict[str, Any] | None:
    domains = sorted(d for d, v in scores.items() if d in suites.DOMAINS and isinstance(v, dict)
                     and isinstance(v.get("score"), int | float))
    if not domains:
        return None
    values = [scores[d] for d in domains]
    errs = [v.get("stderr") for v in values]
    return {"score": sum(v["score"] for v in values) / len(values),
            "stderr": math.sqrt(sum(e * e for e in errs)) / len(errs) if all(isinstance(e, int | float)
                                                                              for e in errs) else None,
            "settings_hash": hash_of({d: scores[d].get("settings_hash") for d in domains}),
            "measured_at": max(str(v.get("measured_at") or "") for v in values) or None,
            "backends": sorted({str(v["backend"]) for v in values if engine(v.get("backend"))})}


def entry_for(model: Model, domain: str) -> dict[str, Any] | None:
    scores = model.benchmark_scores or {}
    if domain == "overall":
        return overall_entry(scores)
    entry = scores.get(domain)
    return entry if isinstance(entry, dict) and isinstance(entry.get("score"), int | float) else None


def method_of(model: Model) -> str:
    """A model's method on the leaderboards: base, lora (a fine-tune with an adapter), finetuned or external."""
    if model.kind == ModelKind.BASE:
        return ModelMethod.BASE.value
    if model.kind == ModelKind.FINETUNED:
        return (ModelMethod.LORA if (model.hub_info or {}).get("adapter") else ModelMethod.FINETUNED).value
    return ModelMethod.EXTERNAL.value


ENTRY_SOURCES = ("benchmark_scores", "visibility", "owner_id", "base_model_id", "parameters", "kind", "hub_info")


def entry_rows(model: Model) -> list[dict[str, Any]]:
    """The model's ``leaderboard_entries`` rows: one per scored domain and ``overall``, with a copy of what the
    boards filter on (visibility, owner, base, parameters, method), written by the flush hook whenever any of
    :data:`ENTRY_SOURCES` change."""
    rows = []
    copied = {"visibility": model.visibility, "owner_id": model.owner_id, "base_model_id": model.base_model_id,
              "parameters": model.parameters, "method": method_of(model)}
    for domain in ("overall", *suites.DOMAINS):
        entry = entry_for(model, domain)
        if entry is None:
            continue
        err = entry.get("stderr")
        key = entry.get("settings_hash")
        rows.append({"model_id": model.id, "domain": domain, "score": float(entry["score"]),
                     "stderr": float(err) if isinstance(err, int | float) else None,
                     "settings_key": repo.NO_HASH if key is None else str(key), **copied})
    return rows


@event.listens_for(Session, "before_flush")
def _note_score_changes(session: Session, _context: Any, _instances: Any) -> None:
    changed = [m for m in session.new if isinstance(m, Model) and m.benchmark_scores]
    changed += [m for m in session.dirty if isinstance(m, Model)
                and any(get_history(m, a).has_changes() for a in ENTRY_SOURCES)]
    if changed:
        session.info.setdefault("leaderboard_models", []).extend(changed)


@event.listens_for(Session, "after_flush")
def _sync_entries(session: Session, _context: Any) -> None:
    """Whenever a flush wrote a model's ``benchmark_scores`` (or its visibility, owner, base, parameters, kind or
    ``hub_info``, copied into the entries), its ``leaderboard_entries`` are rewritten in the same transaction
    (:func:`entry_rows`); a deleted model's go with it (ON DELETE CASCADE)."""
    models = session.info.pop("leaderboard_models", None)
    if not models:
        return
    unique = {m.id: m for m in models if m.id is not None}
    repo.replace_entries(session, list(unique), [row for m in unique.values() for row in entry_rows(m)])
