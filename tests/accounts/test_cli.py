"""``modelmate users create`` (same service as signup) and ``modelmate login/whoami/logout`` against a live server."""

from __future__ import annotations

import json
import stat

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from modelmate.cli import app as cli
from modelmate.models import Entry, User

API = "/api/v1"
runner = CliRunner()


def _env(settings, tmp_path) -> dict[str, str]:
    return {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home")}


def test_users_create_admin_takes_over_single_user_data(app, client, make_entry, settings, tmp_path, database,
                                                        new_password):
    entry = make_entry(name="Before accounts")
    password = new_password()
    result = runner.invoke(cli, ["users", "create", "Root_Admin", "--email", "root@example.com", "--admin"],
                           input=f"{password}\n{password}\n", env=_env(settings, tmp_path))
    assert result.exit_code == 0, result.output
    assert "root_admin" in result.output and "first account" in result.output
    assert password not in result.output  # hidden input is not echoed
    with database.session() as s:
        user = s.scalars(select(User).where(User.username == "root_admin")).one()
        assert user.is_admin and not user.is_local and user.password_hash.startswith("$argon2id$")
        assert s.scalar(select(Entry.owner_id).where(Entry.id == entry["id"])) == user.id
    assert client.get(f"{API}/entries").status_code == 401
    c = TestClient(app, base_url="http://127.0.0.1:8000")
    assert c.post(f"{API}/auth/login", json={"username": "root_admin", "password": password}).status_code == 200
    assert c.get(f"{API}/entries").json()["total"] == 1

    second = new_password()
    result = runner.invoke(cli, ["users", "create", "worker", "--email", "w@example.com", "--password-stdin"],
                           input=f"{second}\n", env=_env(settings, tmp_path))
    assert result.exit_code == 0, result.output
    with database.session() as s:
        worker = s.scalars(select(User).where(User.username == "worker")).one()
        assert not worker.is_admin
    listed = runner.invoke(cli, ["users", "list"], env=_env(settings, tmp_path))
    assert "root_admin" in listed.output and "worker" in listed.output


def test_users_create_refuses_weak_mismatched_and_duplicate(client, settings, tmp_path, new_password):
    env = _env(settings, tmp_path)
    weak = runner.invoke(cli, ["users", "create", "alice", "--email", "a@example.com", "--password-stdin"],
                         input="password123\n", env=env)
    assert weak.exit_code == 1 and "too common" in weak.output
    bad_name = runner.invoke(cli, ["users", "create", "A B", "--email", "a@example.com", "--password-stdin"],
                             input=new_password() + "\n", env=env)
    assert bad_name.exit_code == 2
    mismatch = runner.invoke(cli, ["users", "create", "alice", "--email", "a@example.com"],
                             input=f"{new_password()}\n{new_password()}\n{new_password()}\n", env=env)
    assert mismatch.exit_code != 0
    pw = new_password()
    assert runner.invoke(cli, ["users", "create", "alice", "--email", "a@example.com", "--password-stdin"],
                         input=pw + "\n", env=env).exit_code == 0
    dup = runner.invoke(cli, ["users", "create", "alice", "--email", "b@example.com", "--password-stdin"],
                        input=pw + "\n", env=env)
    assert dup.exit_code == 1 and "already registered" in dup.output


def test_login_whoami_logout_with_a_live_server(live_server, account_client, settings, tmp_path):
    alice = account_client("alice")
    token = alice.post(f"{API}/auth/tokens", json={"name": "cli", "scopes": ["read"]}).json()["token"]
    env = _env(settings, tmp_path)
    creds = tmp_path / "config" / "modelmate" / "credentials.json"

    refused = runner.invoke(cli, ["login", "--url", live_server], input=token[:-2] + "zz\n", env=env)
    assert refused.exit_code == 1 and "refused" in refused.output and not creds.exists()
    assert token[:-2] not in refused.output

    result = runner.invoke(cli, ["login", "--url", live_server], input=token + "\n", env=env)
    assert result.exit_code == 0, result.output
    assert "alice" in result.output and token not in result.output
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    assert json.loads(creds.read_text()) == {"url": live_server, "token": token}

    who = runner.invoke(cli, ["whoami"], env=env)
    assert who.exit_code == 0 and "alice" in who.output

    out = runner.invoke(cli, ["logout"], env=env)
    assert out.exit_code == 0 and not creds.exists()
    assert runner.invoke(cli, ["whoami"], env=env).exit_code == 1


def test_cli_user_is_the_local_user_then_the_first_admin(client, account_client, database):
    import pytest

    from modelmate.accounts.service import cli_user
    from modelmate.errors import NotFoundError

    with database.session() as s:
        assert cli_user(s).is_local
    alice = account_client("alice")
    account_client("bob")
    with database.session() as s:
        assert cli_user(s).id == alice.user["id"]
        assert cli_user(s, "bob").username == "bob"
        with pytest.raises(NotFoundError):
            cli_user(s, "nobody")
