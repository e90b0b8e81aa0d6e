"""User text inside SQL ``LIKE`` patterns: ``%`` and ``_`` (and the escape character itself) match only themselves.

Use the pattern helpers with ``ESCAPE``, on SQLite and PostgreSQL alike::

    stmt.where(Model.name_key.like(contains(q), escape=LIKE_ESCAPE))
"""

from __future__ import annotations

LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """``text`` with the LIKE wildcards (``%``, ``_``) and the escape character (``\\``) escaped."""
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def contains(text: str) -> str:
    """A pattern matching any value that contains ``text`` literally."""
    return f"%{escape_like(text)}%"


def starts_with(text: str) -> str:
    """A pattern matching any value that starts with ``text`` literally."""
    return f"{escape_like(text)}%"
