"""The one-time setup token: creating the first account from a browser needs it.

While no account exists, the first signup becomes the administrator and takes over the single-user log. Anyone
who can reach the server (a DNS-rebinding page, a neighbour on the LAN) could otherwise claim it. So, while no
account exists, every server start rotates a setup token, prints it in the server's log (only whoever runs the
server sees it) and keeps only its SHA-256 digest, in ``<data dir>/setup-token.sha256`` (0600). ``POST
/auth/signup`` for the first account must carry it; it is consumed when that account is committed. ``modelmate
users create`` (local administration) needs no token. ``MODELMATE_SETUP_TOKEN`` fixes the token instead of a
random one, for automation (end-to-end tests, provisioning scripts); it is never printed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from modelmate.accounts import security
from modelmate.config import Settings
from modelmate.errors import ForbiddenError

FILE_NAME = "setup-token.sha256"
log = logging.getLogger("modelmate.accounts")


def token_path(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


def rotate(settings: Settings) -> str:
    """A fresh token (or the configured one) whose digest replaces any earlier one; returns the token."""
    token = settings.setup_token.get_secret_value() if settings.setup_token else security.new_secret()
    path = token_path(settings)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask, and even if a stale temp file was left with looser bits
        os.write(fd, (security.digest(token) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return token


def discard(settings: Settings) -> None:
    """Forget the token (the first account exists now)."""
    with contextlib.suppress(FileNotFoundError):
        token_path(settings).unlink()


def matches(settings: Settings, token: str | None) -> bool:
    if not token:
        return False
    try:
        stored = token_path(settings).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    return security.digests_match(token, stored)


def where_message(settings: Settings) -> str:
    return ("No account exists yet: creating the first (administrator) account needs the one-time setup token "
            "that the server printed in its log when it started (a new one at every start until it is used), or "
            "run `modelmate users create NAME --email EMAIL --admin` on the server"
            + (" (this server's token is set by MODELMATE_SETUP_TOKEN)" if settings.setup_token else ""))


def require(settings: Settings, token: str | None, session: Session) -> None:
    """The guard of the first browser signup: a valid token, consumed once the account is committed."""
    if not token:
        raise ForbiddenError(where_message(settings), code="setup_token_required")
    if not matches(settings, token):
        raise ForbiddenError("this setup token is wrong or was already used. " + where_message(settings),
                             code="setup_token_invalid")
    event.listen(session, "after_commit", lambda _session: discard(settings), once=True)


def announce(settings: Settings, *, accounts_exist: bool) -> None:
    """At start-up: a new token while no account exists (printed in the log); none once one does."""
    if accounts_exist:
        discard(settings)
        return
    token = rotate(settings)
    if settings.setup_token:
        log.warning("No account exists yet. Create the first (administrator) account at /signup with the setup "
                    "token from MODELMATE_SETUP_TOKEN, or with `modelmate users create NAME --email EMAIL --admin`.")
    else:
        log.warning("No account exists yet. To create the first (administrator) account at /signup, use this "
                    "one-time setup token: %s  (a new one is printed at every start until an account exists; or "
                    "run `modelmate users create NAME --email EMAIL --admin`)", token)
