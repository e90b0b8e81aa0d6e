"""The first account (the administrator, who inherits the single-user log) is claimed from a browser only with the
one-time setup token the server prints in its log at start-up; ``modelmate users create`` needs none."""

from __future__ import annotations

import logging
import re
import stat

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select
from typer.testing import CliRunner

from modelmate.accounts import setup
from modelmate.app import create_app
from modelmate.cli import app as cli
from modelmate.config import Settings
from modelmate.models import Entry, User

API = "/api/v1"
OWN = "http://127.0.0.1:8000"
TOKEN_IN_LOG = re.compile(r"one-time setup token: (\S+)")


def _printed_token(caplog: pytest.LogCaptureFixture) -> str:
    found = [m.group(1) for r in caplog.records if (m := TOKEN_IN_LOG.search(r.getMessage()))]
    assert found, "the server did not print a setup token"
    return found[-1]


def _signup(c: TestClient, password: str, token: str | None = None, username: str = "alice"):
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    if token is not None:
        body["setup_token"] = token
    return c.post(f"{API}/auth/signup", json=body)


def _users(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(User).where(User.is_local.is_(False)))


def test_first_signup_needs_the_token_printed_at_start(settings, database, new_password, caplog):
    caplog.set_level(logging.WARNING, logger="modelmate")
    with TestClient(create_app(settings, database=database), base_url=OWN) as c:
        token = _printed_token(caplog)
        entry = c.post(f"{API}/entries", json={"name": "Logged before accounts"}).json()
        assert c.get(f"{API}/auth/state").json()["setup_required"] is True

        missing = _signup(c, new_password())
        assert missing.status_code == 403
        error = missing.json()["error"]
        assert error["code"] == "setup_token_required"
        assert "setup token" in error["message"] and "log" in error["message"]
        assert "modelmate users create" in error["message"]
        wrong = _signup(c, new_password(), token[:-2] + ("xy" if not token.endswith("xy") else "zz"))
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "setup_token_invalid"
        assert _users(database) == 0 and c.get(f"{API}/auth/state").json()["mode"] == "single_user"

        ok = _signup(c, new_password(), token)
        assert ok.status_code == 201, ok.text
        assert ok.json()["user"]["is_admin"] is True
        with database.session() as s:
            assert s.scalar(select(Entry.owner_id).where(Entry.id == entry["id"])) == ok.json()["user"]["id"]
        assert not setup.token_path(settings).exists()  # consumed
        state = c.get(f"{API}/auth/state").json()
        assert state["mode"] == "accounts" and state["setup_required"] is False

        # afterwards the usual signup rules apply, token or not (the used token grants nothing more)
        c.cookies.clear()
        again = _signup(c, new_password(), token, username="bob")
        assert again.status_code == 201 and again.json()["user"]["is_admin"] is False


def test_a_new_token_at_every_start_until_it_is_used(settings, database, new_password, caplog):
    caplog.set_level(logging.WARNING, logger="modelmate")
    with TestClient(create_app(settings, database=database), base_url=OWN):
        first = _printed_token(caplog)
    caplog.clear()
    with TestClient(create_app(settings, database=database), base_url=OWN) as c:
        second = _printed_token(caplog)
        assert second != first
        assert _signup(c, new_password(), first).json()["error"]["code"] == "setup_token_invalid"
        assert _signup(c, new_password(), second).status_code == 201
    caplog.clear()
    with TestClient(create_app(settings, database=database), base_url=OWN):
        assert not any(TOKEN_IN_LOG.search(r.getMessage()) for r in caplog.records)
    assert not setup.token_path(settings).exists()


def test_only_a_private_digest_is_stored(settings, database, caplog):
    caplog.set_level(logging.WARNING, logger="modelmate")
    with TestClient(create_app(settings, database=database), base_url=OWN):
        token = _printed_token(caplog)
    path = setup.token_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = path.read_text()
    assert token not in stored and re.fullmatch(r"[0-9a-f]{64}\n", stored)
    assert setup.matches(settings, token) and not setup.matches(settings, stored.strip())


def test_signup_closed_still_lets_the_token_holder_claim_the_server(settings, database, new_password,
                                                                   setup_token):
    closed = create_app(settings.model_copy(update={"signup_open": False}), database=database)
    with TestClient(closed, base_url=OWN) as c:
        assert _signup(c, new_password()).json()["error"]["code"] == "setup_token_required"
        assert _signup(c, new_password(), setup_token()).status_code == 201
        c.cookies.clear()
        assert _signup(c, new_password(), username="bob").json()["error"]["code"] == "signup_closed"


def test_the_cli_creates_the_first_admin_without_a_token(client, settings, database, tmp_path, new_password):
    assert setup.token_path(settings).exists()
    password = new_password()
    env = {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
           "HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli, ["users", "create", "owner", "--email", "owner@example.com", "--admin",
                                      "--password-stdin"], input=f"{password}\n", env=env)
    assert result.exit_code == 0, result.output
    assert _users(database) == 1
    assert not setup.token_path(settings).exists()  # no browser token outlives the first account


def test_a_fixed_token_for_automation_is_never_printed(settings, database, new_password, caplog):
    fixed = "e2e-" + "f" * 28
    configured = settings.model_copy(update={"setup_token": SecretStr(fixed)})
    caplog.set_level(logging.WARNING, logger="modelmate")
    with TestClient(create_app(configured, database=database), base_url=OWN) as c:
        assert fixed not in "\n".join(r.getMessage() for r in caplog.records)
        assert any("MODELMATE_SETUP_TOKEN" in r.getMessage() for r in caplog.records)
        wrong = _signup(c, new_password(), "e2e-" + "g" * 28)
        assert "MODELMATE_SETUP_TOKEN" in wrong.json()["error"]["message"]
        assert _signup(c, new_password(), fixed).status_code == 201
    with pytest.raises(ValidationError):
        Settings(environment="test", setup_token="short")
