"""``modelmate research``: export the research dataset (Parquet, CSV, JSONL) with its dataset card; import runs from
an MLflow tracking store."""

from __future__ import annotations

import re
import secrets
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console

research_app = typer.Typer(help="The research dataset: one row per fine-tuning run, failures included.",
                           no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


HF_DATASET = "hf-dataset"


@research_app.command("export")
def export_command(
    output: Path = typer.Option(None, "--output", "-o", "--out", help="File to write (a folder for hf-dataset)"),
    to_store: bool = typer.Option(False, "--to-store", help="Write it to the artifact store instead "
                                                             "(exports/research-<time>.<format>, with its card; "
                                                             "hf-dataset: the folder exports/research-<time>/), "
                                                             "where every machine of a deployment can read it"),
    format: str = typer.Option(None, "--format", "-f", help="parquet, csv, jsonl or hf-dataset (default: from the "
                                                            "file name, else parquet)"),
    card: Path = typer.Option(None, "--card", help="Where to write the dataset card (default: FILE.card.md; "
                                                   "hf-dataset: its README.md)", dir_okay=False),
    user: str = typer.Option(None, "--user", help="Export as this account: its runs and public ones (default: the "
                                                  "local user, else the first admin, who sees every run)"),
    public: bool = typer.Option(False, "--public", help="Public mode: only runs whose models and dataset are all "
                                                        "public; owner ids, run names, comments and failure "
                                                        "messages replaced by pseudonyms or left out"),
    license: str = typer.Option("other", "--license", help="hf-dataset: the license named in the card (an SPDX-style "
                                                           "id such as cc-by-4.0; default: other)"),
    shard_rows: int = typer.Option(None, "--shard-rows", min=1, help="hf-dataset: at most this many rows per Parquet "
                                                                     "file (default: runs 50k, curves 2M, scores "
                                                                     "500k; a file also stops at ~100 MB)"),
) -> None:
    """Write the research dataset and its card (every column with its type and description); with
    ``--format hf-dataset``, the complete export (runs, curves, scores) as a Hugging Face dataset folder."""
    from modelmate.config import Settings  # lazy: start-up (CLI command)
    from modelmate.finetune.cli import _database, _user_id  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)
    from modelmate.research import export  # lazy: start-up (CLI command)
    from modelmate.storage.private import write_private  # lazy: start-up (CLI command)

    if (output is None) == (not to_store):
        err_console.print("[red]error:[/] give either --output FILE or --to-store")
        raise typer.Exit(2)
    fmt = (format or (output.suffix.lstrip(".") if output else "") or "parquet").lower()
    if fmt not in (*export.FORMATS, HF_DATASET):
        err_console.print(f"[red]error:[/] unknown format {fmt!r}; use parquet, csv, jsonl or {HF_DATASET}")
        raise typer.Exit(2)
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]{0,63}", license):
        err_console.print(f"[red]error:[/] --license {license!r}: use a license id such as cc-by-4.0, mit or other")
        raise typer.Exit(2)
    if output is not None and fmt != HF_DATASET and output.is_dir():
        err_console.print(f"[red]error:[/] {output} is a folder; give a file (or --format {HF_DATASET})")
        raise typer.Exit(2)
    if fmt == HF_DATASET and card is not None:
        err_console.print(f"[red]error:[/] --card is for the single-file formats; {HF_DATASET} writes DIR/README.md")
        raise typer.Exit(2)
    settings = Settings()
    key = _pseudonym_key(settings) if public else None
    if fmt == HF_DATASET:
        _hf_dataset(settings, output, user, public=public, key=key, license=license, shard_rows=shard_rows)
        return
    db = _database(settings)
    try:
        user_id = _user_id(db, user)
        with console.status("collecting runs"), db.session() as session:
            viewer = session.get(User, user_id)
            rows, total = export.rows(session, viewer, public=public, key=key)
        data = export.serialise(rows, fmt)
    finally:
        db.dispose()
    if to_store:
        _to_store(settings, data, export.card(total, public=public), fmt, total)
        return
    card_path = card or output.with_name(output.name + ".card.md")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(f".{output.name}.tmp")
        write_private(tmp, data)  # 0600: the runs' notes and configurations are private
        tmp.replace(output)
        write_private(card_path, export.card(total, public=public))
    except OSError as exc:
        err_console.print(f"[red]error:[/] cannot write {output}: {exc.strerror or exc}")
        raise typer.Exit(1) from exc
    console.print(f"wrote [bold]{total}[/] run(s) to {output} ({fmt}, {len(data)} bytes); card: {card_path}")


def _pseudonym_key(settings) -> bytes:
    """The deployment's pseudonym key: the setting, else a random key kept (0600) in the data folder."""
    from modelmate.storage.private import private_dir, write_private  # lazy: start-up (CLI command)

    if settings.research_export_key is not None:
        return settings.research_export_key.get_secret_value().encode("utf-8")
    path = settings.data_dir / "research-export.key"
    try:
        if not path.exists():
            private_dir(path.parent)
            write_private(path, secrets.token_hex(32))
        return path.read_text(encoding="utf-8").strip().encode("utf-8")
    except OSError as exc:
        err_console.print(f"[red]error:[/] cannot read or create the pseudonym key {path}: {exc.strerror or exc}")
        raise typer.Exit(1) from exc


def _hf_dataset(settings, output: Path | None, user: str | None, *, public: bool, key: bytes | None, license: str,
                shard_rows: int | None) -> None:
    from modelmate.finetune.cli import _database, _user_id  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)
    from modelmate.research import hfdataset  # lazy: start-up (CLI command)

    if output is not None and output.exists() and (not output.is_dir() or any(output.iterdir())):
        err_console.print(f"[red]error:[/] {output} exists and is not an empty folder")
        raise typer.Exit(2)
    limits = dict.fromkeys(hfdataset.TABLES, shard_rows) if shard_rows else None
    db = _database(settings)
    try:
        user_id = _user_id(db, user)
        with tempfile.TemporaryDirectory(prefix="modelmate-export-") as tmp, db.session() as session:
            target = output if output is not None else Path(tmp) / "dataset"
            viewer = session.get(User, user_id)
            try:
                with console.status("writing the dataset"):
                    written = hfdataset.write(session, viewer, target, public=public, key=key, license=license,
                                              shard_rows=limits)
            except OSError as exc:
                err_console.print(f"[red]error:[/] cannot write {target}: {exc.strerror or exc}")
                raise typer.Exit(1) from exc
            counts = ", ".join(f"{n} {name}" for name, n in written.rows.items())
            if output is None:
                key_prefix = _store_dir(settings, target)
                console.print(f"wrote {counts} row(s) to the artifact store: {key_prefix}/ (Hugging Face dataset)")
                return
    finally:
        db.dispose()
    console.print(f"wrote {counts} row(s) to {output} (Hugging Face dataset; card: {output / 'README.md'})")


def _store_dir(settings, folder: Path) -> str:
    from modelmate.storage.artifacts import StoreUnavailable, artifact_store  # lazy: start-up (CLI command)

    prefix = f"exports/research-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    try:
        artifact_store(settings).put_dir(folder, prefix)
    except StoreUnavailable as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    return prefix


def _to_store(settings, data: bytes, card: str, fmt: str, total: int) -> None:
    from modelmate.storage.artifacts import StoreUnavailable, artifact_store  # lazy: start-up (CLI command)

    key = f"exports/research-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.{fmt}"
    try:
        store = artifact_store(settings)
        store.put_bytes(data, key)
        store.put_bytes(card.encode("utf-8"), f"{key}.card.md")
    except StoreUnavailable as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"wrote [bold]{total}[/] run(s) to the artifact store: {key} ({fmt}, {len(data)} bytes); card: "
                  f"{key}.card.md")


@research_app.command("import-mlflow")
def import_mlflow_command(
    tracking_uri: str = typer.Option(..., "--tracking-uri", help="The MLflow store: sqlite:///mlflow.db, a mlruns "
                                                                  "directory, or http(s)://HOST:PORT"),
    experiment: str = typer.Option(None, "--experiment", help="Only this experiment (by name; default: all)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read and map the runs, print the report, write nothing"),
    user: str = typer.Option(None, "--user", help="Import as this account (default: the local user, else the first "
                                                  "admin)"),
    base_model: str = typer.Option(None, "--base-model", help="Base model for runs that log none (Hugging Face id "
                                                              "or catalog key)"),
) -> None:
    """Bring fine-tuning runs from an MLflow tracking store: params, curves, outcomes, adapters; idempotent."""
    from modelmate.config import Settings  # lazy: start-up (CLI command)
    from modelmate.finetune.cli import _database, _user_id  # lazy: start-up (CLI command)
    from modelmate.models import User  # lazy: start-up (CLI command)
    from modelmate.research import mlflow_import, mlflow_read  # lazy: start-up (CLI command)

    try:
        client = mlflow_read.open_client(tracking_uri)
        with console.status("reading the MLflow store"):
            runs = mlflow_read.read_runs(client, experiment)
    except mlflow_read.MlflowStoreError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    settings = Settings()
    db = _database(settings)
    try:
        user_id = _user_id(db, user)
        with db.session() as session:
            owner = session.get(User, user_id)
            if owner is None:  # pragma: no cover - _user_id just found it
                raise typer.Exit(1)
            results = mlflow_import.import_runs(session, settings, owner, runs, client, default_base=base_model,
                                                dry_run=dry_run)
            if dry_run:
                session.rollback()
    finally:
        db.dispose()
    _print_report(results, dry_run)


def _print_report(results, dry_run: bool) -> None:
    from rich.table import Table

    from modelmate.research.mlflow_import import totals  # lazy: start-up (CLI command)

    table = Table(title="MLflow import (dry run: nothing written)" if dry_run else "MLflow import")
    for column in ("MLflow run", "experiment", "status", "action", "run", "outcome", "points", "adapter", "mapped",
                   "not mapped"):
        table.add_column(column, overflow="fold")
    for r in results:
        run = r.run
        mapped = ", ".join(f"{name}→{field}" for name, field in sorted(run.mapped.items()))
        missing = [f"{name} ({why})" for name, why in sorted(run.rejected.items())]
        if run.unrecognised:
            shown = ", ".join(run.unrecognised[:12]) + (f" +{len(run.unrecognised) - 12} more"
                                                        if len(run.unrecognised) > 12 else "")
            missing.append(f"unrecognised: {shown}")
        if run.unused_metrics:
            missing.append(f"metrics not on the curve: {', '.join(run.unused_metrics[:12])}")
        outcome = run.outcome or "-"
        if run.failure_category:
            outcome += f" ({run.failure_category})"
        adapter = r.adapter or ("none found" if run.adapter_path is None else f"{run.adapter_path} (not taken)")
        table.add_row(f"{run.name or '-'}\n{run.run_id}", run.experiment, run.mlflow_status,
                      r.action + (f": {r.reason}" if r.reason else ""), str(r.run_id or "-"), outcome,
                      str(len(run.curve)), adapter, mapped or "-", "; ".join(missing) or "-")
    console.print(table)
    counts = totals(results)
    planned = {"created": "to create", "updated": "to update", "skipped": "to skip"} if dry_run else {}
    console.print(f"{len(results)} MLflow run(s): " + ", ".join(f"{n} {planned.get(action, action)}"
                                                                 for action, n in counts.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(research_app, name="research")
