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


EXIT_CLEAN, EXIT_ERROR, EXIT_CONTAMINATED = 0, 1, 3  # 2: a usage error (Typer's)


def _print_report(report, as_json: bool, examples: int) -> None:
    if as_json:
        import json  # lazy: only for --json

        console.print_json(json.dumps(report.to_json()))
        return
    console.print(f"{report.rows_checked} rows, {report.tokens_checked} tokens checked against the benchmark test "
                  f"sets ({report.n}-grams) in {report.seconds:.1f} s: {escape(report.summary())}", highlight=False)
    if not report.contaminated:
        return
    table = Table(title="Overlap with benchmark test sets")
    for column in ("Task", "Domain", "Test documents", "of", "Dataset rows", "Exact"):
        table.add_column(column, justify="left" if column in ("Task", "Domain") else "right")
    for t in report.tasks:
        if t.documents:
            table.add_row(escape(t.title if t.title == t.task else f"{t.title} ({t.task})"), t.domain,
                          str(t.documents), str(t.total_documents), str(t.rows), str(t.exact))
    console.print(table)
    for t in report.tasks:
        for e in t.examples[:examples]:
            console.print(f"[bold]{escape(t.title)}[/] {e.kind}: dataset row {e.row} ↔ test document "
                          f"{escape(e.document_id)}")
            console.print(f"  row:  {e.row_text}", markup=False, highlight=False)
            console.print(f"  test: {e.document_text}", markup=False, highlight=False)


@datasets_app.command("check")
def check(
    target: str = typer.Argument(..., help="A dataset file (JSONL, CSV, Parquet) or the id of a stored dataset"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
    format: str = typer.Option("auto", "--format", "-f", help=FORMAT_HELP + " (files only)"),
    examples: int = typer.Option(3, "--examples", min=0, max=50, help="Examples printed per task"),
    user: str = typer.Option(None, "--user", help="Account that owns the stored dataset (default: the local user)"),
) -> None:
    """Check a dataset for overlap with the benchmark test sets (13-grams and exact questions).

    A FILE is checked and nothing is stored; an ID checks that stored dataset and saves its report (the dataset page
    shows it). Exit code: 0 clean, 3 overlap found, 1 error (no benchmark data, unreadable file, unknown dataset),
    2 bad arguments. Needs MODELMATE_BENCHMARK_DATA_DIR; the index is built once per benchmark data version."""
    from rich.progress import Progress  # lazy: start-up (CLI command)

    from modelmate.accounts.service import cli_user  # lazy: start-up (CLI command)
    from modelmate.contamination.index import IndexUnavailable  # lazy: start-up (CLI command)
    from modelmate.datasets import contamination, service  # lazy: start-up (CLI command)
    from modelmate.datasets.schemas import FormatChoice  # lazy: start-up (CLI command)
    from modelmate.errors import AppError  # lazy: start-up (CLI command)
    from modelmate.training.data import DataErrors  # lazy: start-up (CLI command)

    try:
        choice = FormatChoice(format.lower())
    except ValueError:
        err_console.print(f"[red]error:[/] --format must be {FORMAT_HELP}, not {format!r}")
        raise typer.Exit(2) from None
    settings = Settings()
    path = Path(target)
    stored_id = int(target) if target.isdigit() and not path.is_file() else None
    if stored_id is None and not path.is_file():
        err_console.print(f"[red]error:[/] no such file, and not a dataset id: {target!r}")
        raise typer.Exit(2)
    db = _database(settings) if stored_id is not None else None
    filename: str | None = path.name
    fmt: str | None = None if choice == FormatChoice.AUTO else choice.value
    try:
        if db is not None and stored_id is not None:
            with db.session() as session:
                owner = cli_user(session, user)
                dataset = service.get_visible(session, owner, stored_id)
                if dataset.owner_id != owner.id:
                    err_console.print(f"[red]error:[/] dataset {stored_id} belongs to another user")
                    raise typer.Exit(1)
                # its canonical records (alpaca/sharegpt are stored as messages): the format is detected
                path, fmt, filename = service.dataset_path(settings, dataset), None, None
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("checking", total=1.0)
            report = contamination.check_dataset_file(
                settings, path, filename=filename, fmt=fmt,
                progress=lambda fraction, message: bar.update(task, completed=fraction, description=message))
        if db is not None and stored_id is not None:
            with db.session() as session:
                contamination.store_report(session, stored_id, report)
    except IndexUnavailable as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    except DataErrors as exc:
        err_console.print(f"[red]error:[/] the file was not accepted: {exc}", markup=False)
        raise typer.Exit(EXIT_ERROR) from None
    except AppError as exc:
        _print_errors(exc)
        raise typer.Exit(EXIT_ERROR) from None
    finally:
        if db is not None:
            db.dispose()
    _print_report(report, as_json, examples)
    if stored_id is not None and not as_json:
        console.print(f"saved as dataset {stored_id}'s contamination report")
    raise typer.Exit(EXIT_CONTAMINATED if report.contaminated else EXIT_CLEAN)
