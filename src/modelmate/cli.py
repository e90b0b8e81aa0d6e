"""The ``modelmate`` command line (Typer + Rich)."""

from __future__ import annotations

import typer
from rich.console import Console

from modelmate.accounts.cli import register as register_account_commands
from modelmate.benchmarking.cli import register as register_benchmark_commands
from modelmate.config import WILDCARD_BINDS, Settings
from modelmate.datasets.cli import register as register_dataset_commands
from modelmate.finetune.cli import register as register_finetune_commands
from modelmate.research.cli import register as register_research_commands
from modelmate.semantic.cli import register as register_search_commands
from modelmate.storage.private import use_private_umask

app = typer.Typer(help="ModelMate: a diary of AI models and a hub to fine-tune and benchmark open LLMs.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
register_account_commands(app)  # users create/list/set-password, login, logout, whoami
register_search_commands(app)  # search reindex
register_dataset_commands(app)  # datasets upload/list
register_finetune_commands(app)  # worker, train, runs list/show/cancel, models build-tiny/list
register_benchmark_commands(app)  # eval
register_research_commands(app)  # research export
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _private_files() -> None:
    # Before any command runs: what it writes (the database, artifacts, exports, the worker's child processes'
    # files) is private to this account (umask 077). Opening the database also fixes an older install's modes.
    use_private_umask()


def _database(settings: Settings):
    from modelmate.db.engine import Database  # lazy: start-up (CLI command)

    return Database.from_settings(settings)


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default 127.0.0.1; MODELMATE_HOST)"),
    port: int = typer.Option(None, help="Port (default 8000; MODELMATE_PORT)"),
    reload: bool = typer.Option(False, help="Reload on code changes (development)"),
) -> None:
    """Migrate the database, seed the demo on first start, and serve the API and UI."""
    import os

    import uvicorn

    from modelmate.api.accesslog import serve_log_config  # lazy: start-up (CLI command)

    settings = Settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    # The app factory reads its settings from the environment: it must serve the host it is bound to.
    os.environ["MODELMATE_HOST"], os.environ["MODELMATE_PORT"] = bind_host, str(bind_port)
    if bind_host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]warning:[/] binding to {bind_host} exposes ModelMate beyond this machine")
        if bind_host.strip().lower() in WILDCARD_BINDS and not (settings.allowed_hosts or settings.public_url):
            err_console.print("[yellow]warning:[/] only 127.0.0.1, localhost and [::1] are served until you set "
                              "MODELMATE_PUBLIC_URL or MODELMATE_ALLOWED_HOSTS (other Host names get 421)")
    console.print(f"ModelMate on [bold]http://{bind_host}:{bind_port}[/]  (data: {settings.data_dir})")
    # Our access log (no query values; api/accesslog.py) replaces uvicorn's; forwarded headers are handled by the
    # app's host guard (MODELMATE_TRUSTED_PROXIES), never by uvicorn.
    uvicorn.run("modelmate.app:create_app", factory=True, host=bind_host, port=bind_port, reload=reload,
                log_level=settings.log_level, log_config=serve_log_config(settings.log_level), access_log=False,
                proxy_headers=False)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply the migrations shipped with ModelMate."""
    from modelmate.db import migrate  # lazy: start-up (CLI command)

    settings = Settings()
    db = _database(settings)
    before = migrate.current_revision(db)
    migrate.upgrade(db, revision)
    console.print(f"database at revision [bold]{migrate.current_revision(db)}[/] (was {before or 'empty'})")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from modelmate.db import migrate  # lazy: start-up (CLI command)

    db = _database(Settings())
    rev = migrate.current_revision(db)
    head = migrate.head_revision()
    console.print(f"current: {rev or 'empty'}   head: {head}   {'up to date' if rev == head else 'needs upgrade'}")


@app.command()
def demo(
    reset: bool = typer.Option(False, "--reset", help="Delete your current log (entries, notes, history) first"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before deleting with --reset"),
) -> None:
    """Fill your log with the demo: ~40 real models and ten months of an engineer's diary about them."""
    from rich.table import Table

    from modelmate.accounts.service import cli_user  # lazy: start-up (CLI command)
    from modelmate.db import migrate  # lazy: start-up (CLI command)
    from modelmate.db.engine import immediate_transaction  # lazy: start-up (CLI command)
    from modelmate.demo import repository as demo_repo  # lazy: start-up (CLI command)
    from modelmate.demo.seed import seed_log  # lazy: start-up (CLI command)
    from modelmate.enums import EntryStatus  # lazy: start-up (CLI command)

    db = _database(Settings())
    try:
        migrate.upgrade(db)
        with db.session() as session:
            local = cli_user(session)
            if local is None:
                err_console.print("[red]This ModelMate has user accounts;[/] the demo only fills the single-user "
                                  "log. Sign in to the web interface to build your own log.")
                raise typer.Exit(1)
            existing = demo_repo.count_entries(session, local.id)
        if existing and not reset:
            err_console.print(f"[red]Your log already has {existing} entries[/]; the demo only fills an empty log.\n"
                              "To replace them with the demo: [bold]modelmate demo --reset[/] (asks first) "
                              "or [bold]modelmate demo --reset --yes[/].")
            raise typer.Exit(1)
        if reset and existing and not yes:
            typer.confirm(f"Delete all {existing} entries in your log, with their notes and history, "
                          "and load the demo?", abort=True)
        with db.session() as session:
            immediate_transaction(session)
            user = cli_user(session)
            deleted = demo_repo.delete_log(session, user.id) if reset and user is not None else 0
            if user is None or demo_repo.count_entries(session, user.id):
                err_console.print("[red]Your log changed meanwhile;[/] nothing was changed. Try again.")
                raise typer.Exit(1)
            result = seed_log(session, user)
    finally:
        db.dispose()
    if deleted:
        console.print(f"deleted {deleted} entries")
    table = Table(title="Your demo log")
    table.add_column("Status")
    table.add_column("Entries", justify="right")
    table.add_column("For example")
    for status in EntryStatus:
        names = result.by_status.get(status.value, [])
        table.add_row(status.value, str(len(names)), ", ".join(names[:3]) + (", …" if len(names) > 3 else ""))
    console.print(table)
    span = f" from {result.first:%b %Y} to {result.last:%b %Y}" if result.first and result.last else ""
    console.print(f"[green]seeded {result.entries} entries[/], {result.journal_notes} journal notes and "
                  f"{result.events} history events{span}")
    if result.skipped:
        console.print(f"[yellow]skipped (a private model with the same name exists):[/] {', '.join(result.skipped)}")


@app.command("export")
def export_log(
    format: str = typer.Option("json", "--format", "-f", help="csv or json"),
    output: str = typer.Option(None, "--output", "-o", help="File to write (default: standard output)"),
) -> None:
    """Export your whole log (entries, tags, notes, journal, timestamps) as CSV or JSON."""
    import sys
    from pathlib import Path

    from modelmate.accounts.service import cli_user  # lazy: start-up (CLI command)
    from modelmate.db import migrate  # lazy: start-up (CLI command)
    from modelmate.transfer import service as transfer  # lazy: start-up (CLI command)
    from modelmate.transfer.schemas import ExportFormat  # lazy: start-up (CLI command)

    try:
        fmt = ExportFormat(format.lower())
    except ValueError:
        err_console.print(f"[red]error:[/] --format must be csv or json, not {format!r}")
        raise typer.Exit(2) from None
    db = _database(Settings())
    try:
        migrate.upgrade(db)
        with db.session() as session:
            user = cli_user(session)
            if user is None:
                err_console.print("[red]error:[/] this database has accounts; export from the web UI or the API")
                raise typer.Exit(1)
            if output:
                target = Path(output)
                tmp = target.with_name(f".{target.name}.part")
                with tmp.open("w", encoding="utf-8", newline="") as fh:
                    n = transfer.write_export(session, user, fmt, fh)
                tmp.replace(target)
                err_console.print(f"exported {n} entries to [bold]{target}[/]")
            else:
                sys.stdout.reconfigure(newline="")  # type: ignore[union-attr]  # CSV writes its own CRLF
                transfer.write_export(session, user, fmt, sys.stdout)
                sys.stdout.flush()
    finally:
        db.dispose()


@app.command("import")
def import_log(
    file: str = typer.Argument(..., help="A ModelMate CSV or JSON export (or a file like it)"),
    format: str = typer.Option("auto", "--format", "-f", help="auto, csv or json"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only validate and preview; write nothing"),
) -> None:
    """Import entries from CSV or JSON: all or nothing; rows for models already in your log update them."""
    from pathlib import Path

    from rich.progress import Progress
    from rich.table import Table

    from modelmate.accounts.service import cli_user  # lazy: start-up (CLI command)
    from modelmate.db import migrate  # lazy: start-up (CLI command)
    from modelmate.db.engine import immediate_transaction  # lazy: start-up (CLI command)
    from modelmate.errors import AppError  # lazy: start-up (CLI command)
    from modelmate.transfer import service as transfer  # lazy: start-up (CLI command)
    from modelmate.transfer.schemas import ImportFormat, ImportReport  # lazy: start-up (CLI command)

    try:
        fmt = ImportFormat(format.lower())
    except ValueError:
        err_console.print(f"[red]error:[/] --format must be auto, csv or json, not {format!r}")
        raise typer.Exit(2) from None
    path = Path(file)
    if not path.is_file():
        err_console.print(f"[red]error:[/] no such file: {path}")
        raise typer.Exit(2)
    settings = Settings()
    db = _database(settings)
    report: ImportReport | None = None
    failure: AppError | None = None
    try:
        migrate.upgrade(db)
        with Progress(console=err_console, transient=True) as bar, path.open("rb") as fh:
            task = bar.add_task("importing", total=None)
            try:
                with db.session() as session:
                    immediate_transaction(session)
                    user = cli_user(session)
                    user_id = user.id if user is not None else None
                if user_id is None:
                    err_console.print("[red]error:[/] this database has accounts; import from the web UI or API")
                    raise typer.Exit(1)
                # Its own short transactions: a running server's writers are not held up (RELIABILITY.md #41).
                report = transfer.import_file(
                    db, user_id, fh, filename=path.name, fmt=fmt, dry_run=dry_run,
                    max_bytes=settings.max_import_bytes, max_rows=settings.max_import_rows,
                    progress=lambda done, total: bar.update(task, completed=done, total=total))
            except AppError as exc:
                failure = exc
    finally:
        db.dispose()
    if failure is not None:
        details = failure.details if isinstance(failure.details, dict) else {}
        if "total_rows" in details:
            report = ImportReport.model_validate(details)
        else:
            err_console.print(f"[red]error:[/] {failure.message}")
            for err in (details.get("errors") or [])[:20]:
                err_console.print(f"  row {err.get('row')}, column {err.get('column')}: {err.get('message')}")
            raise typer.Exit(1)
    assert report is not None
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    if report.errors:
        table = Table(title=f"{report.error_count} error(s)")
        table.add_column("Row", justify="right")
        table.add_column("Column")
        table.add_column("Problem")
        for err in report.errors[:50]:
            table.add_row(str(err.row or "-"), err.column or "", err.message)
        err_console.print(table)
        if report.error_count > 50:
            err_console.print(f"… and {report.error_count - 50} more")
    counts = Table(title=f"{path.name} ({report.format.value})")
    for name in ("rows", "valid", "created", "updated", "unchanged"):
        counts.add_column(name, justify="right")
    counts.add_row(str(report.total_rows), str(report.valid_rows), str(report.created), str(report.updated),
                   str(report.unchanged))
    console.print(counts)
    if report.committed:
        console.print("[green]imported[/]")
    elif report.errors:
        console.print("[red]nothing was imported[/] (fix the rows above and run again)")
    else:
        console.print("dry run: nothing was written")
    if report.errors:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover
    app()
