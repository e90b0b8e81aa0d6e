"""``modelmate demo``: seeds an empty log, refuses a full one, replaces it with --reset."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from modelmate.accounts.service import ensure_local_user
from modelmate.cli import app
from modelmate.demo.seed import load_catalog
from modelmate.models import Entry, EntryEvent, JournalNote
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryCreate

N = len(load_catalog())


@pytest.fixture
def run(tmp_path, database):
    runner = CliRunner()
    env = {"MODELMATE_DATA_DIR": str(tmp_path / "data"), "MODELMATE_DATABASE_URL": database.url,
           "COLUMNS": "160"}

    def _run(*args: str, input: str | None = None):
        return runner.invoke(app, ["demo", *args], env=env, input=input)

    return _run


def _counts(database) -> tuple[int, int, int]:
    with database.session() as session:
        return (session.scalar(select(func.count()).select_from(Entry)),
                session.scalar(select(func.count()).select_from(EntryEvent)),
                session.scalar(select(func.count()).select_from(JournalNote)))


def test_demo_seeds_an_empty_log_and_prints_a_summary(run, database):
    result = run()
    assert result.exit_code == 0, result.output
    assert f"seeded {N} entries" in result.output
    assert "Your demo log" in result.output
    for status in ("wishlist", "tried", "studied", "using", "archived"):
        assert status in result.output
    assert _counts(database)[0] == N


def test_demo_refuses_a_log_that_is_not_empty(run, database):
    assert run().exit_code == 0
    before = _counts(database)
    result = run()
    assert result.exit_code == 1
    assert f"already has {N} entries" in result.output and "--reset" in result.output
    assert _counts(database) == before


def test_reset_asks_first_and_keeps_everything_when_declined(run, database):
    assert run().exit_code == 0
    before = _counts(database)
    result = run("--reset", input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert _counts(database) == before


def test_reset_yes_replaces_the_log_without_doubling_history(run, database):
    assert run().exit_code == 0
    seeded = _counts(database)
    with database.session() as session:
        user = ensure_local_user(session)
        tracker.create_entry(session, user, EntryCreate(name="My private experiment", status="tried", rating=2))
    assert _counts(database)[0] == N + 1
    result = run("--reset", "--yes")
    assert result.exit_code == 0, result.output
    assert f"deleted {N + 1} entries" in result.output
    assert _counts(database) == seeded
    with database.session() as session:
        names = set(session.scalars(select(Entry.id)))
        assert len(names) == N


def test_reset_confirmed_interactively(run, database):
    assert run().exit_code == 0
    result = run("--reset", input="y\n")
    assert result.exit_code == 0, result.output
    assert _counts(database)[0] == N
