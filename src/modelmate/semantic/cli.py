"""``modelmate search reindex``: embed every entry now (skipping unchanged text), with a progress bar."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from modelmate.config import Settings

search_app = typer.Typer(help="Search maintenance (semantic embeddings).", no_args_is_help=True)
console = Console()


@search_app.command("reindex")
def reindex(force: bool = typer.Option(False, "--force", help="Re-embed every entry, even unchanged ones")) -> None:
    """Compute the semantic-search embeddings of every entry (all users) that is missing or out of date."""
    from modelmate.db import migrate  # lazy: start-up (CLI command)
    from modelmate.db.engine import Database  # lazy: start-up (CLI command)
    from modelmate.semantic import embedder, service  # lazy: start-up (CLI command)

    settings = Settings()
    if not settings.semantic_enabled:
        console.print("[yellow]semantic search is turned off[/] (MODELMATE_SEMANTIC_ENABLED=false); nothing to do")
        raise typer.Exit(0)
    embedder.configure(settings.embedder)
    db = Database.from_settings(settings)
    try:
        migrate.upgrade(db)
        with Progress(TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=console) as bar:
            task = bar.add_task("embed", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = service.embed_all(db, force=force, progress=progress)
    finally:
        db.dispose()
    console.print(f"[green]embedded {report.embedded}[/] entries, {report.unchanged} unchanged "
                  f"(model {embedder.active()})")


def register(app: typer.Typer) -> None:
    app.add_typer(search_app, name="search")
