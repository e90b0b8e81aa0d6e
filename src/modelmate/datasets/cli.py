"""``modelmate datasets upload FILE`` and ``modelmate datasets list`` (straight to this server's database)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelmate.config import Settings

datasets_app = typer.Typer(help="Upload and list fine-tuning datasets.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

FORMAT_HELP = "auto (detected from the fields), text, alpaca, sharegpt or messages"


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")


def _database(settings: Settings):
    from modelmate.db import migrate  # lazy: start-up (CLI command)
    from modelmate.db.engine import Database  # lazy: start-up (CLI command)

    db = Database.from_settings(settings)
    migrate.upgrade(db)
    return db


def _print_errors(exc) -> None:
    err_console.print(f"[red]error:[/] {exc.message}")
    details = exc.details if isinstance(exc.details, dict) else {}
    for err in (details.get("errors") or [])[:20]:
        where = ", ".join(p for p in (f"row {err['row']}" if err.get("row") is not None else "",
                                      f"column {err['column']!r}" if err.get("column") else "") if p)
        err_console.print(f"  {where + ': ' if where else ''}{err.get('message')}", markup=False)


@datasets_app.command("upload")
def upload(
    file: Path = typer.Argument(..., help="A JSON Lines, CSV or Parquet file"),
    name: str = typer.Option(None, "--name", help="Display name (default: the file name)"),
    format: str = typer.Option("auto", "--format", "-f", help=FORMAT_HELP),
    base_model: str = typer.Option(None, "--base", help="Base model whose tokenizer counts tokens (default tiny)"),
    public: bool = typer.Option(False, "--public", help="Let every user of this server see and use it"),
    user: str = typer.Option(None, "--user", help="Account to upload as (default: the local user or first admin)"),
) -> None:
    """Validate a dataset file and store it; prints the new dataset's id."""
    from modelmate.accounts.service import cli_user  # lazy: start-up (CLI command)
    from modelmate.datasets import contamination, service  # lazy: start-up (CLI command)
    from modelmate.datasets.schemas import FormatChoice, UploadFields  # lazy: start-up (CLI command)
    from modelmate.db.engine import immediate_transaction  # lazy: start-up (CLI command)
    from modelmate.enums import Visibility  # lazy: start-up (CLI command)
    from modelmate.errors import AppError  # lazy: start-up (CLI command)

    try:
        choice = FormatChoice(format.lower())
    except ValueError:
        err_console.print(f"[red]error:[/] --format must be {FORMAT_HELP}, not {format!r}")
        raise typer.Exit(2) from None
    if not file.is_file():
        err_console.print(f"[red]error:[/] no such file: {file}")
        raise typer.Exit(2)
    settings = Settings()
    settings.ensure_dirs()
    db = _database(settings)
    fields = UploadFields(name=name, format=choice, base_model=base_model,
                          visibility=Visibility.PUBLIC if public else Visibility.PRIVATE)
    try:
        with db.session() as session, file.open("rb") as fh:
            owner = cli_user(session, user)
            prepared = service.prepare_upload(session, settings, fh, filename=file.name, fields=fields)
        with db.session() as session:
            immediate_transaction(session)
            owner = cli_user(session, user)
            dataset, created = service.register(session, settings, owner, prepared, fields)
            contamination.ensure_checked(session, settings, dataset)  # queued: a worker runs it
            summary = (dataset.id, dataset.name, dataset.format, dataset.rows, dataset.train_rows,
                       dataset.eval_rows, dataset.content_hash, dict(dataset.token_counts or {}))
    except AppError as exc:
        _print_errors(exc)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    ident, label, fmt, rows, train, held, digest, tokens = summary
    verb = "uploaded" if created else "already uploaded as"
    console.print(f"{verb} dataset [bold]{ident}[/] ({escape(str(label))}): {fmt}, {rows} rows "
                  f"({train} train / {held} eval), sha256 {digest[:12]}…", markup=True, highlight=False)
    for key, counts in tokens.items():
        console.print(f"  tokens ({escape(key)} tokenizer): {counts.get('total')} total, mean {counts.get('mean')}")


@datasets_app.command("list")
def list_(
    user: str = typer.Option(None, "--user", help="Account to list for (default: the local user or first admin)"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
) -> None:
    """Your datasets and public ones, newest first."""
    from modelmate.accounts.service import cli_user  # lazy: start-up (CLI command)
    from modelmate.datasets import service  # lazy: start-up (CLI command)
    from modelmate.errors import AppError  # lazy: start-up (CLI command)

    settings = Settings()
    db = _database(settings)
    try:
        with db.session() as session:
            owner = cli_user(session, user)
            items, total = service.list_datasets(session, owner, mine=False, q=None, limit=limit, offset=0)
            rows = [(d.id, d.name, d.format, d.file_type or "", d.rows, d.content_hash[:12],
                     d.created_at.strftime("%Y-%m-%d %H:%M")) for d in items]
    except AppError as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    table = Table(title=f"{total} dataset(s)")
    for column in ("ID", "Name", "Format", "File", "Rows", "sha256", "Created"):
        table.add_column(column, justify="right" if column in ("ID", "Rows") else "left")
    for row in rows:
        table.add_row(*(escape(str(v)) for v in row))  # names are user text, not markup
    console.print(table)
