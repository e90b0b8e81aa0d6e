"""``modelmate eval``: evaluate a model on the benchmark suites, optionally following it with a progress bar
(the job runs in this process when no worker claims it in time, like ``modelmate train --wait``)."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from modelmate.config import Settings
from modelmate.enums import FINISHED_JOB_STATUSES, EvaluationStatus
from modelmate.finetune.cli import (
    CLAIM_WAIT_S,
    USER_OPTION,
    _database,
    _ensure_tiny,
    _fail,
    _user_id,
    console,
    err_console,
)


def eval_command(
    model: str = typer.Option(..., "--model", help="tiny, a base-model key, a Hugging Face id or a catalog id"),
    mode: str = typer.Option("quick", "--mode", help="quick (a fixed sample of each task) or full"),
    domains: str = typer.Option(None, "--domains", help="Comma-separated domains, e.g. math,code (default: all)"),
    wait: bool = typer.Option(False, "--wait", help="Follow the evaluation until it ends (runs it here when no "
                                                    "worker picks it up)"),
    user: str = USER_OPTION,
) -> None:
    """Evaluate a model on the benchmark suites (lm-evaluation-harness)."""
    from modelmate.benchmarking import service  # lazy: start-up (CLI command)
    from modelmate.benchmarking.schemas import EvaluationCreate  # lazy: start-up (CLI command)
    from modelmate.errors import AppError  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)

    if mode not in ("quick", "full"):
        err_console.print("[red]error:[/] --mode must be quick or full")
        raise typer.Exit(2)
    settings = Settings()
    db = _database(settings)
    try:
        from modelmate.finetune.base_catalog import seed_base_models  # lazy: start-up (CLI command)

        seed_base_models(db, settings)
        if model.strip().lower() == "tiny":
            _ensure_tiny(db, settings)
        user_id = _user_id(db, user)
        chosen = [d.strip() for d in domains.split(",") if d.strip()] if domains else None
        try:
            with db.session() as session:
                owner = session.get(User, user_id)
                out, cached = service.create_evaluation(session, settings, owner,
                                                        EvaluationCreate(model=model, mode=mode, domains=chosen))
        except AppError as exc:
            raise _fail(exc) from exc
        if cached:
            console.print(f"evaluation [bold]{out.id}[/] with the same settings is already final (cached)")
        else:
            console.print(f"evaluation [bold]{out.id}[/] of {out.model_name} queued ({len(out.tasks)} tasks, {mode})")
            if not wait:
                console.print("a worker runs it (`modelmate serve` or `modelmate worker`); follow it with "
                              "--wait or GET /api/v1/evaluations/" + str(out.id))
                return
            out = _follow(db, settings, user_id, out.id, out.job_id)
    finally:
        db.dispose()
    _print(out)
    if out.status != "final":
        raise typer.Exit(1)


def _snapshot(db, user_id: int, evaluation_id: int):
    from modelmate.benchmarking import service  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)

    with db.session() as session:
        return service.get_evaluation(session, session.get(User, user_id), evaluation_id)


def _follow(db, settings: Settings, user_id: int, evaluation_id: int, job_id: int | None):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from modelmate.jobs.worker import LocalFallback  # lazy: start-up (CLI command)

    local = LocalFallback(db, settings, kind="evaluate", job_id=job_id, wait_s=CLAIM_WAIT_S)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"evaluation {evaluation_id}", total=1.0, info="queued")
            while True:
                snap = _snapshot(db, user_id, evaluation_id)
                bar.update(task, completed=snap.progress or 0.0, info=snap.progress_message or snap.status)
                if snap.status != "running" or snap.job_status in FINISHED_JOB_STATUSES:
                    return snap
                if local.poll(snap.job_status == "queued"):
                    bar.console.print("no worker picked the evaluation up; running it in this process")
                time.sleep(0.5)
    except KeyboardInterrupt:
        local.stop()
        err_console.print(f"stopped following evaluation {evaluation_id}; it stays queued/running")
        raise typer.Exit(130) from None


def _print(out) -> None:
    colour = {EvaluationStatus.FINAL: "green", EvaluationStatus.PARTIAL: "yellow",
              EvaluationStatus.FAILED: "red"}.get(out.status, "white")
    console.print(f"evaluation {out.id}: [{colour}]{out.status}[/]")
    if out.error:
        console.print(f"[red]{out.error.get('message', '')}[/]")
    table = Table("task", "domain", "metric", "value", "± stderr", "n", "status")
    for row in out.rows:
        if not row.primary:
            continue
        value = f"{row.value:.4f}" if row.value is not None else "-"
        err = f"{row.stderr:.4f}" if row.stderr is not None else "-"
        table.add_row(row.task, row.domain, row.metric, value, err, str(row.n_samples or "-"), row.status)
    if out.rows:
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
