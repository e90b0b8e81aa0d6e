"""``modelmate users …`` (local administration, straight to the database) and ``modelmate login/logout/whoami``
(a remote server, through its API with a personal API token)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from modelmate.config import Settings

users_app = typer.Typer(help="Manage accounts on this server's database.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "modelmate" / "credentials.json"


def _database(settings: Settings):
    from modelmate.db import migrate  # lazy: start-up (CLI command)
    from modelmate.db.engine import Database  # lazy: start-up (CLI command)

    db = Database.from_settings(settings)
    migrate.upgrade(db)
    return db


def _read_password(password_stdin: bool, prompt: str = "Password") -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)


@users_app.command("create")
def users_create(
    username: str = typer.Argument(..., help="3–32 characters: a-z, 0-9, '_' or '-'"),
    email: str = typer.Option(..., "--email", help="Email address"),
    admin: bool = typer.Option(False, "--admin", help="Make the account an administrator"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
) -> None:
    """Create an account. The first account takes over everything logged in single-user mode."""
    from modelmate.accounts import service  # lazy: start-up (CLI command)
    from modelmate.accounts.schemas import normalise_email, normalise_username  # lazy: start-up (CLI command)
    from modelmate.errors import AppError  # lazy: start-up (CLI command)

    try:
        username, email = normalise_username(username), normalise_email(email)
    except ValueError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    password = _read_password(password_stdin)
    settings = Settings()
    db = _database(settings)
    try:
        with db.session() as session:
            first = service.auth_mode(session) == "single_user"
            user = service.create_account(session, username=username, email=email, password=password,
                                          admin=admin, signup_open=True)
            summary = f"created [bold]{user.username}[/] (id {user.id}{', admin' if user.is_admin else ''})"
    except AppError as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    if first:
        from modelmate.accounts import setup  # lazy: start-up (CLI command)

        setup.discard(settings)  # the browser's one-time setup token is no longer needed
    console.print(summary)
    if first:
        console.print("This is the first account: everything logged in single-user mode now belongs to it, "
                      "and the server asks for a sign-in from now on.")


@users_app.command("list")
def users_list() -> None:
    """List accounts."""
    from modelmate.accounts import repository  # lazy: start-up (CLI command)

    db = _database(Settings())
    try:
        with db.session() as session:
            users, _ = repository.list_users(session, limit=10_000, offset=0)
            table = Table("id", "username", "email", "admin", "active")
            for u in users:
                table.add_row(str(u.id), u.username, u.email or "", "yes" if u.is_admin else "",
                              "yes" if u.is_active else "no")
    finally:
        db.dispose()
    console.print(table)


@users_app.command("set-password")
def users_set_password(
    username: str = typer.Argument(..., help="The account"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
) -> None:
    """Set an account's password (recovery) and sign out all its sessions."""
    from modelmate.accounts import repository, security  # lazy: start-up (CLI command)
    from modelmate.db.base import utcnow  # lazy: start-up (CLI command)

    password = _read_password(password_stdin, "New password")
    db = _database(Settings())
    try:
        with db.session() as session:
            user = repository.find_by_login(session, username)
            if user is None:
                err_console.print(f"[red]error:[/] no account named {username!r}")
                raise typer.Exit(1)
            try:
                security.check_password_policy(password, username=user.username, email=user.email)
            except security.PasswordPolicyError as exc:
                err_console.print(f"[red]error:[/] {exc}")
                raise typer.Exit(1) from exc
            user.password_hash = security.hash_password(password)
            repository.revoke_user_sessions(session, user.id, utcnow())
    finally:
        db.dispose()
    console.print(f"password of [bold]{username}[/] changed; its sessions were signed out")


def _me(url: str, token: str) -> dict:
    import httpx

    resp = httpx.get(f"{url.rstrip('/')}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"},
                     timeout=10.0, follow_redirects=False)
    if resp.status_code == 401:
        raise ValueError("the server refused this token (invalid, expired or revoked)")
    resp.raise_for_status()
    return resp.json()


def _write_credentials(data: dict) -> Path:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when the file already existed with looser permissions
        os.write(fd, json.dumps(data, indent=2).encode())
    finally:
        os.close(fd)
    return path


def read_credentials() -> dict | None:
    path = credentials_path()
    if not path.exists():
        return None
    return json.loads(path.read_text())


def login(
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The ModelMate server"),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the API token from standard input"),
) -> None:
    """Store an API token for a server (create one under Settings → API tokens)."""
    if not url.startswith(("http://", "https://")):
        err_console.print("[red]error:[/] --url must start with http:// or https://")
        raise typer.Exit(2)
    token = sys.stdin.readline().strip() if token_stdin else typer.prompt("API token", hide_input=True).strip()
    try:
        me = _me(url, token)
    except Exception as exc:  # network errors, refusals: one clear line, never the token
        err_console.print(f"[red]error:[/] could not sign in to {url}: {exc}")
        raise typer.Exit(1) from exc
    path = _write_credentials({"url": url.rstrip("/"), "token": token})
    console.print(f"signed in to {url} as [bold]{me.get('username')}[/] (token saved to {path})")


def logout() -> None:
    """Forget the stored API token (revoke it in the web UI to disable it everywhere)."""
    path = credentials_path()
    if path.exists():
        path.unlink()
        console.print("signed out: the stored token was removed (revoke it in the web UI to disable it)")
    else:
        console.print("not signed in")


def whoami() -> None:
    """Show who the stored API token signs in as."""
    creds = read_credentials()
    if not creds:
        err_console.print("not signed in: run `modelmate login --url URL`")
        raise typer.Exit(1)
    try:
        me = _me(creds["url"], creds["token"])
    except Exception as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"{me.get('username')} on {creds['url']}{' (admin)' if me.get('is_admin') else ''}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
