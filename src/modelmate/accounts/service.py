"""Users. Until accounts arrive, one local user (no password, cannot log in) owns everything."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelmate.models import User

LOCAL_USERNAME = "local"


def ensure_local_user(session: Session) -> User:
    user = session.scalars(select(User).where(User.is_local.is_(True)).order_by(User.id).limit(1)).first()
    if user is None:
        user = User(username=LOCAL_USERNAME, display_name="You", is_local=True, is_admin=True)
        session.add(user)
        session.flush()
    return user
