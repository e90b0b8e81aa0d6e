"""The ``modelmate`` command line (Typer + Rich)."""

from __future__ import annotations

import typer
from rich.console import Console

from modelmate.config import Settings

app = typer.Typer(help="ModelMate: a diary of AI models and a hub to fine-tune and benchmark open LLMs.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err_console = Console(stderr=True)


def _database(settings: Settings):
    from modelmate.db.engine import Database

    return Database.from_settings(settings)


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default 127.0.0.1; MODELMATE_HOST)"),
    port: int = typer.Option(None, help="Port (default 8000; MODELMATE_PORT)"),
    reload: bool = typer.Option(False, help="Reload on code changes (development)"),
) -> None:
    """Migrate the database, seed the demo on first start, and serve the API and UI."""
    import uvicorn

    settings = Settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    if bind_host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]warning:[/] binding to {bind_host} exposes ModelMate beyond this machine")
    console.print(f"ModelMate on [bold]http://{bind_host}:{bind_port}[/]  (data: {settings.data_dir})")
    uvicorn.run("modelmate.app:create_app", factory=True, host=bind_host, port=bind_port, reload=reload,
                log_level=settings.log_level, proxy_headers=False)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply the migrations shipped with ModelMate."""
    from modelmate.db import migrate

    settings = Settings()
    db = _database(settings)
    before = migrate.current_revision(db)
    migrate.upgrade(db, revision)
    console.print(f"database at revision [bold]{migrate.current_revision(db)}[/] (was {before or 'empty'})")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from modelmate.db import migrate

    db = _database(Settings())
    rev = migrate.current_revision(db)
    head = migrate.head_revision()
    console.print(f"current: {rev or 'empty'}   head: {head}   {'up to date' if rev == head else 'needs upgrade'}")


def main() -> None:  # pragma: no cover
    app()
