"""Fixtures shared by the job-queue tests."""

from __future__ import annotations

import pytest

from modelmate.db.base import utcnow
from modelmate.models import User


@pytest.fixture
def owner(database) -> int:
    """A fresh account to own the jobs a test enqueues."""
    with database.session() as s:
        user = User(username=f"jobs-{utcnow().timestamp()}", is_admin=False, is_active=True, is_local=False,
                    created_at=utcnow(), updated_at=utcnow())
        s.add(user)
        s.flush()
        return user.id
