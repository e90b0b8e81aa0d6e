"""``modelmate worker``, ``modelmate train``, ``modelmate runs …`` and ``modelmate models build-tiny``.

These act on this machine's database directly (like ``modelmate users``), as the local user in single-user mode
or the account named with ``--user`` (default: the first administrator).
"""

from __future__ import annotations

import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from modelmate.config import Settings
from modelmate.enums import RunStatus
from modelmate.humanize import duration

runs_app = typer.Typer(help="Your fine-tuning runs.", no_args_is_help=True)
models_app = typer.Typer(help="Base models for fine-tuning.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

USER_OPTION = typer.Option(None, "--user", help="Act as this account (default: the local user, else the first admin)")
CLAIM_WAIT_S = 3.0  # --wait: how long a queued run may wait for another worker before this command runs it


def _database(settings: Settings):
    from modelmate.db import migrate  # lazy: start-up (CLI command)
    from modelmate.db.engine import Database  # lazy: start-up (CLI command)

    db = Database.from_settings(settings)
    migrate.upgrade(db)
    return db


def _user_id(db, username: str | None) -> int:
    from modelmate.accounts.service import cli_user  # lazy: start-up (CLI command)
    from modelmate.errors import AppError  # lazy: start-up (CLI command)

    try:
        with db.session() as session:
            return cli_user(session, username).id
    except AppError as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from exc


def _fail(exc) -> typer.Exit:
    err_console.print(f"[red]error:[/] {exc.message}")
    details = exc.details if isinstance(exc.details, dict) else {}
    for err in (details.get("errors") or [])[:20]:
        where = err.get("field") or err.get("column") or ""
        row = f"row {err['row']}, " if err.get("row") else ""
        err_console.print(f"  {row}{where}: {err.get('message')}")
    return typer.Exit(1)


# --- worker -------------------------------------------------------------------------------------------------------

def worker(
    once: bool = typer.Option(False, "--once", help="Run the queued jobs, then exit"),
    kinds: list[str] = typer.Option(None, "--kinds", help="Only these job kinds (train, embed, enrich; "
                                                          "repeat or separate with commas)"),
    executor: str | None = typer.Option(None, "--executor", help="Where train and evaluate jobs run: local (child "
                                                                 "processes here) or ray (tasks on a Ray cluster); "
                                                                 "default: MODELMATE_EXECUTOR, else local"),
    ray_address: str | None = typer.Option(None, "--ray-address", help="The Ray cluster of --executor ray (e.g. "
                                                                       "10.0.0.5:6379); default: "
                                                                       "MODELMATE_RAY_ADDRESS, RAY_ADDRESS, else a "
                                                                       "local cluster"),
) -> None:
    """Run background jobs (fine-tuning, embeddings, metadata refresh) in this process until stopped."""
    from modelmate.finetune.service import reconcile_runs  # lazy: start-up (CLI command)
    from modelmate.jobs import registry  # lazy: start-up (CLI command)
    from modelmate.jobs.worker import Worker  # lazy: start-up (CLI command)
    from modelmate.semantic import embedder  # lazy: start-up (CLI command)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _executor_settings(Settings(), executor, ray_address)
    wanted = sorted({k.strip() for item in kinds or [] for k in item.split(",") if k.strip()}) or None
    unknown = sorted(set(wanted or []) - set(registry.kinds()))
    if unknown:
        err_console.print(f"[red]error:[/] unknown job kind(s): {', '.join(unknown)} "
                          f"(known: {', '.join(registry.kinds())})")
        raise typer.Exit(2)
    embedder.configure(settings.embedder)
    db = _database(settings)
    try:
        reconcile_runs(db)
        w = Worker(db, settings, lease_s=settings.job_lease_s, poll_s=settings.job_poll_s, kinds=wanted)
        if once:
            n = w.run_until_idle()
            console.print(f"ran {n} job(s)")
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: w.request_stop())
        where = (f"; train/evaluate on Ray at {settings.ray_address or 'RAY_ADDRESS or a local cluster'}"
                 if settings.executor == "ray" else "")
        console.print(f"worker [bold]{w.worker_id}[/] running {', '.join(wanted or registry.kinds())} jobs "
                      f"(lease {settings.job_lease_s:g} s{where}); Ctrl-C stops it")
        w.run_forever()
    finally:
        db.dispose()


def _executor_settings(settings: Settings, executor: str | None, ray_address: str | None) -> Settings:
    """``--executor``/``--ray-address`` over the settings (a copy); exit 2 for an unknown executor, or for ray
    without Ray installed."""
    update: dict[str, Any] = {}
    if executor is not None:
        if executor not in ("local", "ray"):
            err_console.print(f"[red]error:[/] unknown executor {executor!r} (use local or ray)")
            raise typer.Exit(2)
        update["executor"] = executor
    if ray_address:
        update["ray_address"] = ray_address
    if update:
        settings = settings.model_copy(update=update)
    if settings.executor == "ray":
        try:
            import ray  # noqa: F401 - only whether it is installed
        except ImportError:
            err_console.print("[red]error:[/] the ray executor needs Ray on this machine: "
                              "pip install 'modelmate[cluster]' (ray[default]==2.60.0)")
            raise typer.Exit(2) from None
    return settings


# --- train --------------------------------------------------------------------------------------------------------

def parse_sets(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse (numbers, true/false, null, lists), else text;
    list fields also take comma-separated text."""
    from modelmate.training.config import config_fields  # lazy: start-up (CLI command)

    types = {f["name"]: f["type"] for f in config_fields()}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise typer.BadParameter(f"--set expects key=value, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        if types.get(key) == "list" and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        out[key] = value
    return out


def _dataset_id(db, settings: Settings, user_id: int, ref: str, base: str) -> int:
    from modelmate.datasets import contamination  # lazy: start-up (CLI command)
    from modelmate.datasets import service as datasets  # lazy: start-up (CLI command)
    from modelmate.datasets.schemas import UploadFields  # lazy: start-up (CLI command)
    from modelmate.errors import AppError  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)

    path = Path(ref)
    if path.is_file():
        try:
            with db.session() as session:
                user = session.get(User, user_id)
                with console.status(f"checking and uploading {path.name}"):
                    dataset, created = datasets.upload_file(session, settings, user, path,
                                                            UploadFields(base_model=base))
                    contamination.ensure_checked(session, settings, dataset)
                summary = (dataset.id, dataset.name, dataset.rows, dataset.format)
        except AppError as exc:
            raise _fail(exc) from exc
        verb = "uploaded" if created else "already uploaded as"
        console.print(f"{verb} dataset [bold]{summary[1]}[/] (id {summary[0]}, {summary[2]} rows, {summary[3]})")
        return summary[0]
    if ref.isdigit():
        return int(ref)
    err_console.print(f"[red]error:[/] --dataset: no such file, and not a dataset id: {ref!r}")
    raise typer.Exit(2)


def _ensure_tiny(db, settings: Settings) -> None:
    from modelmate.finetune import base_catalog as bases  # lazy: start-up (CLI command)

    if bases.tiny_built(bases.tiny_dir(settings)):
        with db.session() as session:
            if bases.repo.base_by_key(session, "tiny") is not None:
                return
    with console.status("building the toy base model 'tiny' (seconds, once)"):
        bases.build_tiny(settings, db)
    console.print("built the toy base model [bold]tiny[/] (a TOY: random weights, for trying the pipeline)")


def train(
    base: str = typer.Option(..., "--base", help="Base model: tiny, a key such as llama-3.2-1b, a Hugging Face id, "
                                                 "or a catalog id"),
    dataset: str = typer.Option(..., "--dataset", help="A dataset file (JSONL/CSV/Parquet; uploaded) or a dataset id"),
    preset: str = typer.Option("quick", "--preset", help="quick, balanced or thorough"),
    sets: list[str] = typer.Option(None, "--set", help="Override a setting: --set learning_rate=1e-4 (repeatable)"),
    name: str = typer.Option(None, "--name", help="Name of the run and of the resulting model"),
    wait: bool = typer.Option(False, "--wait", help="Follow the run with a progress bar until it ends (runs it "
                                                    "here when no worker picks it up)"),
    user: str = USER_OPTION,
) -> None:
    """Fine-tune a base model on a dataset with LoRA."""
    from modelmate.errors import AppError  # lazy: start-up (CLI command)
    from modelmate.finetune import service  # lazy: start-up (CLI command)
    from modelmate.finetune.schemas import RunCreate  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)

    settings = Settings()
    overrides = parse_sets(sets or [])
    db = _database(settings)
    try:
        from modelmate.finetune.base_catalog import seed_base_models  # lazy: start-up (CLI command)

        seed_base_models(db, settings)
        if base.strip().lower() == "tiny":
            _ensure_tiny(db, settings)
        user_id = _user_id(db, user)
        dataset_id = _dataset_id(db, settings, user_id, dataset, base)
        try:
            with db.session() as session:
                owner = session.get(User, user_id)
                run = service.create_run(session, settings, owner, RunCreate(
                    name=name, base_model=base, dataset_id=dataset_id, mode="expert" if overrides else "guided",
                    preset=preset, config=overrides or None))
                run_id, job_id, steps = run.id, run.job_id, run.total_steps
                est = dict(run.estimate or {})
        except AppError as exc:
            raise _fail(exc) from exc
        console.print(f"run [bold]{run_id}[/] queued: about {steps} steps, "
                      f"~{duration(est.get('seconds'))} on {est.get('device', 'cpu')}")
        if est.get("fits") is False and est.get("note"):  # warned, not refused
            console.print(f"[yellow]warning:[/] {est['note']}", highlight=False)
        if not wait:
            console.print(f"follow it with [bold]modelmate runs show {run_id}[/] (a worker runs it: "
                          "`modelmate serve` or `modelmate worker`)")
            return
        assert job_id is not None  # create_run queues the run's job
        final = _follow(db, settings, user_id, run_id, job_id)
    finally:
        db.dispose()
    _print_run(final)
    if final.status != "succeeded":
        raise typer.Exit(1)


def _follow(db, settings: Settings, user_id: int, run_id: int, job_id: int):
    """Rich progress until the run ends; runs the job in this process when no worker claims it in time."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from modelmate.finetune import service  # lazy: start-up (CLI command)
    from modelmate.jobs.worker import LocalFallback  # lazy: start-up (CLI command)

    local = LocalFallback(db, settings, kind="train", job_id=job_id, wait_s=CLAIM_WAIT_S)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"run {run_id}", total=None, info="queued")
            while True:
                snap = service.snapshot(db, settings, user_id, run_id)
                if snap is None:
                    raise typer.Exit(1)
                curve = snap.loss_curve
                info: str = snap.status
                if curve:
                    last = curve[-1]
                    info = f"loss {last.loss:.4f}" if last.loss is not None else snap.status
                    evals = [p.eval_loss for p in curve if p.eval_loss is not None]
                    if evals:
                        info += f"  eval {evals[-1]:.4f}"
                bar.update(task, total=snap.total_steps or None, completed=snap.current_step or 0, info=info)
                if snap.status in service.FINAL_RUN:
                    return snap
                if local.poll(snap.status == "queued" and snap.job is not None and snap.job.status == "queued"):
                    bar.console.print("no worker picked the run up; running it in this process")
                time.sleep(0.5)
    except KeyboardInterrupt:
        local.stop()  # the training process is stopped and the job goes back to the queue
        err_console.print(f"stopped following run {run_id}; it stays queued/running (cancel it with "
                          f"`modelmate runs cancel {run_id}`)")
        raise typer.Exit(130) from None


def _print_run(run) -> None:
    colour = {RunStatus.SUCCEEDED: "green", RunStatus.FAILED: "red", RunStatus.CANCELLED: "yellow"}.get(run.status,
                                                                                                    "white")
    table = Table(show_header=False, title=f"run {run.id}: {run.name or ''}")
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("status", f"[{colour}]{run.status}[/]" + (f" ({run.training_outcome})" if run.training_outcome
                                                            else ""))
    if run.failure_category or run.failure_message:
        table.add_row("problem", f"{run.failure_category or ''}: {run.failure_message or ''}")
    table.add_row("base model", run.base_model.name if run.base_model else "?")
    table.add_row("dataset", f"{run.dataset.name} ({run.dataset.rows} rows)" if run.dataset else "?")
    table.add_row("steps", f"{run.current_step or 0} of {run.total_steps or '?'}")
    if run.final_loss is not None:
        table.add_row("final loss", f"{run.final_loss:.4f}" + (f"   eval {run.final_eval_loss:.4f}"
                                                               if run.final_eval_loss is not None else ""))
    if run.tokens_per_second:
        table.add_row("throughput", f"{run.tokens_per_second:,.0f} tokens/s")
    if run.job:
        table.add_row("job", f"{run.job.id} ({run.job.status}, attempt {run.job.attempts} of "
                             f"{run.job.max_attempts})")
    if run.output_model_id:
        table.add_row("model", f"catalog model {run.output_model_id}")
    if run.artifacts:
        table.add_row("artifacts", ", ".join(run.artifacts))
    console.print(table)


# --- runs ---------------------------------------------------------------------------------------------------------

@runs_app.command("list")
def runs_list(
    status: str = typer.Option(None, "--status", help="queued, running, succeeded, failed or cancelled"),
    limit: int = typer.Option(20, "--limit", min=1, max=200),
    user: str = USER_OPTION,
) -> None:
    """List your runs, newest first."""
    from modelmate.finetune import service  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)

    try:
        wanted = RunStatus(status) if status else None
    except ValueError:
        raise typer.BadParameter(f"unknown status {status!r}") from None
    db = _database(Settings())
    try:
        user_id = _user_id(db, user)
        with db.session() as session:
            page = service.list_runs(session, session.get(User, user_id), status=wanted, limit=limit, offset=0)
    finally:
        db.dispose()
    table = Table("id", "name", "status", "outcome", "base", "steps", "final loss", "created")
    for r in page.items:
        table.add_row(str(r.id), r.name or "", r.status, r.training_outcome or "",
                      r.base_model.name if r.base_model else "", f"{r.current_step or 0}/{r.total_steps or '?'}",
                      f"{r.final_loss:.4f}" if r.final_loss is not None else "", f"{r.created_at:%Y-%m-%d %H:%M}")
    console.print(table)
    console.print(f"{page.total} run(s)")


def _one_run(run_id: int, user: str | None, action: str):
    from modelmate.errors import AppError  # lazy: start-up (CLI command)
    from modelmate.finetune import service  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)

    settings = Settings()
    db = _database(settings)
    try:
        user_id = _user_id(db, user)
        with db.session() as session:
            owner = session.get(User, user_id)
            run = (service.cancel_run(session, owner, run_id) if action == "cancel"
                   else service.get_run(session, owner, run_id))
            return service.run_out(session, settings, run)
    except AppError as exc:
        raise _fail(exc) from exc
    finally:
        db.dispose()


@runs_app.command("show")
def runs_show(run_id: int = typer.Argument(..., min=1), user: str = USER_OPTION,
              curve: bool = typer.Option(False, "--curve", help="Print every point of the loss curve")) -> None:
    """Show one run: status, outcome, curve summary, artifacts."""
    run = _one_run(run_id, user, "show")
    _print_run(run)
    points = run.loss_curve if curve else run.loss_curve[-5:]
    if points:
        table = Table("step", "loss", "eval loss", "lr", "grad norm", "tokens", title="loss curve"
                      + ("" if curve else " (last points; --curve for all)"))
        for p in points:
            table.add_row(str(p.step), _f(p.loss), _f(p.eval_loss), _f(p.lr, "{:.2e}"), _f(p.grad_norm),
                          str(p.tokens or ""))
        console.print(table)


def _f(value: float | None, fmt: str = "{:.4f}") -> str:
    return fmt.format(value) if value is not None else ""


@runs_app.command("cancel")
def runs_cancel(run_id: int = typer.Argument(..., min=1), user: str = USER_OPTION) -> None:
    """Cancel a run (safe to repeat): a queued run stops now, a running one within seconds."""
    run = _one_run(run_id, user, "cancel")
    if run.status == "cancelled":
        console.print(f"run {run_id} is cancelled")
    elif run.status in ("succeeded", "failed"):
        console.print(f"run {run_id} had already finished ({run.status}); nothing to cancel")
    else:
        console.print(f"run {run_id}: cancel requested; its training process stops within seconds")


# --- models -------------------------------------------------------------------------------------------------------

@models_app.command("build-tiny")
def build_tiny_command(
    pretrain_steps: int = typer.Option(0, "--pretrain-steps", min=0, max=100_000,
                                       help="Pre-train on local text for this many steps (1200 ≈ 7 min on 2 cores)"),
    force: bool = typer.Option(False, "--force", help="Rebuild even if it is already built"),
    hidden_size: int = typer.Option(128, "--hidden-size", min=16, max=2048),
    layers: int = typer.Option(2, "--layers", min=1, max=32),
    heads: int = typer.Option(4, "--heads", min=1, max=64),
    vocab_size: int = typer.Option(4096, "--vocab-size", min=300, max=65_536),
) -> None:
    """Build the TOY base model 'tiny' on this machine (tokenizer trained locally, nothing downloaded)."""
    from rich.progress import Progress

    from modelmate.finetune import base_catalog as bases  # lazy: start-up (CLI command)

    settings = Settings()
    db = _database(settings)
    try:
        bases.seed_base_models(db, settings)
        if bases.tiny_built(bases.tiny_dir(settings)) and not force:
            model, _ = bases.build_tiny(settings, db)
            console.print(f"the toy model is already built in {bases.tiny_dir(settings)} (catalog model "
                          f"{model.id if model else '?'}); --force rebuilds it")
            return
        if force:
            err_console.print("[yellow]note:[/] adapters trained on the previous toy do not fit the rebuilt one")
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("building the toy model", total=pretrain_steps or None)

            def progress(event: dict) -> None:
                if event.get("type") == "pretrain":
                    bar.update(task, completed=event.get("step"), description=f"pre-training, loss "
                                                                              f"{event.get('loss', 0):.3f}")
                elif event.get("type") == "log":
                    bar.console.print(f"  {event.get('message')}")

            model, _ = bases.build_tiny(settings, db, pretrain_steps=pretrain_steps, force=True,
                                        on_progress=progress, hidden_size=hidden_size, num_layers=layers,
                                        num_heads=heads, vocab_size=vocab_size)
    finally:
        db.dispose()
    where = f"catalog model {model.id}, {model.parameters or 0:,} parameters" if model else "not in the catalog"
    console.print(f"[green]built[/] the TOY base model [bold]tiny[/] in {bases.tiny_dir(settings)} ({where})")


@models_app.command("add-local")
def models_add_local(
    path: Path = typer.Argument(..., help="A model directory: config.json, *.safetensors, tokenizer files"),
    name: str = typer.Option(..., "--name", min=1, max=200, help="Display name (its key becomes local-<name>)"),
    license: str = typer.Option("unknown", "--license", max=100, help="The model's license"),
) -> None:
    """Register a model directory on this machine as a base model (safetensors only, no remote code)."""
    from modelmate.finetune import base_catalog as bases  # lazy: start-up (CLI command)

    settings = Settings()
    db = _database(settings)
    try:
        with db.session() as session:
            model = bases.register_local(session, path, name=name, license=license)
            key, params = (model.hub_info or {}).get("key"), model.parameters or 0
            model_id = model.id
    except bases.LocalModelError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    finally:
        db.dispose()
    console.print(f"[green]registered[/] {name} as base model [bold]{key}[/] (catalog model {model_id}, "
                  f"{params:,} parameters); train with --base {key}")


@models_app.command("add-gguf")
def models_add_gguf(
    path: Path = typer.Argument(..., help="A GGUF file (llama.cpp format): llama, mistral, qwen2 or phi3"),
    name: str = typer.Option(..., "--name", min=1, max=200, help="Display name (its key becomes local-<name>)"),
    license: str = typer.Option(None, "--license", max=100, help="The model's license (default: the file's own)"),
) -> None:
    """Import a GGUF file as a base model: dequantized to safetensors (bfloat16 when quantized), with its tokenizer
    and chat template; the file's sha256 and quantization are recorded."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from modelmate.finetune import model_imports  # lazy: start-up (CLI command)

    settings = Settings()
    db = _database(settings)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task(f"importing {path.name}", total=None)

            def progress(event: dict) -> None:
                if event.get("type") == "stage":
                    bar.update(task, description=str(event.get("message")), total=None, completed=0)
                elif event.get("type") == "hash":
                    bar.update(task, total=event.get("total"), completed=event.get("done"))

            model = model_imports.import_gguf(settings, db, path, name=name, license=license, on_progress=progress)
    except model_imports.ModelImportError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    finally:
        db.dispose()
    info = model.hub_info or {}
    source = info.get("source") or {}
    console.print(f"[green]imported[/] {source.get('file')} ({source.get('quantization')}, sha256 "
                  f"{str(source.get('sha256'))[:12]}…) as base model [bold]{info.get('key')}[/] (catalog model "
                  f"{model.id}, {model.parameters or 0:,} parameters, stored as {source.get('stored_dtype')}); "
                  f"train with --base {info.get('key')}")


@models_app.command("pull")
def models_pull(
    hf_id: str = typer.Argument(..., help="A Hugging Face model id, e.g. Qwen/Qwen2.5-0.5B (or a registry key)"),
    revision: str = typer.Option(None, "--revision", help="A branch, tag or commit (default: main)"),
    token: str = typer.Option(None, "--token", help="Hugging Face token for gated/private models (default: "
                                                    "MODELMATE_HF_TOKEN, else HF_TOKEN)"),
) -> None:
    """Download a base model from the Hugging Face Hub (safetensors and tokenizer files only; resumes an interrupted
    download) and register it for fine-tuning."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from modelmate.db.engine import immediate_transaction  # lazy: start-up (CLI command)
    from modelmate.finetune import base_catalog as bases  # lazy: start-up (CLI command)
    from modelmate.finetune import hf_pull  # lazy: start-up (CLI command)
    from modelmate.training.model_specs import find_spec  # lazy: start-up (CLI command)

    settings = Settings()
    known = find_spec(hf_id)
    repo_id = known.hf_repo_id if known is not None and known.hf_repo_id else hf_id.strip()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[rate]}"),
                  TextColumn("{task.fields[eta]}"), console=console, transient=True) as bar:
        task = bar.add_task(f"pulling {repo_id}", total=None, rate="", eta="")

        def progress(event: dict) -> None:
            rate, eta = event.get("bytes_per_s"), event.get("eta_s")
            phase = event.get("phase")
            bar.update(task, total=event.get("bytes_total") or None, completed=event.get("bytes_done") or 0,
                       description=f"{phase} {repo_id}" + (f" ({event['file']})" if event.get("file") else ""),
                       rate=f"{hf_pull.human_bytes(rate)}/s" if rate else "",
                       eta=f"about {duration(eta)} left" if eta is not None else "")

        try:
            path = hf_pull.pull(settings, repo_id, revision=revision, token=token, on_progress=progress)
        except hf_pull.PullError as exc:
            err_console.print(f"[red]error:[/] {exc.message}")
            raise typer.Exit(code=2) from None
    db = _database(settings)
    try:
        with db.session() as session:
            immediate_transaction(session)
            model = bases.register_pulled(session, settings, repo_id, path)
            key, model_id, params = (model.hub_info or {}).get("key"), model.id, model.parameters or 0
    except bases.LocalModelError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    finally:
        db.dispose()
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    console.print(f"[green]pulled[/] {repo_id} ({hf_pull.human_bytes(size)}) into {path}")
    console.print(f"registered as base model [bold]{key}[/] (catalog model {model_id}, {params:,} parameters); "
                  f"train with --base {key}")


@models_app.command("list")
def models_list() -> None:
    """The base models you can fine-tune and whether each is ready."""
    from modelmate.finetune import base_catalog as bases  # lazy: start-up (CLI command)

    settings = Settings()
    db = _database(settings)
    try:
        bases.seed_base_models(db, settings)
        with db.session() as session:
            rows = [bases.base_out(settings, m) for m in bases.repo.base_models(session)]
    finally:
        db.dispose()
    table = Table("key", "name", "parameters", "license", "ready")
    for b in rows:
        toy = " [yellow](toy)[/]" if b.toy and "toy" not in b.name.lower() else ""
        table.add_row(b.key, b.name + toy, f"{b.parameters or 0:,}",
                      b.license or "", "yes" if b.available else f"no: {b.unavailable_reason}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("train")(train)
    app.add_typer(runs_app, name="runs")
    app.add_typer(models_app, name="models")
