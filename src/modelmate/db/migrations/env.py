"""Alembic environment. The connection is handed in by :mod:`modelmate.db.migrate`.

Applying migrations needs no ORM metadata, so this imports none: ``modelmate.db`` sits below ``modelmate.models``
(the ORM imports ``db.base``; see the layers contract in pyproject.toml). Whoever compares or autogenerates hands
the metadata in with ``config.attributes["target_metadata"] = modelmate.models.Base.metadata``.
"""

from __future__ import annotations

from alembic import context

config = context.config
target_metadata = config.attributes.get("target_metadata")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("alembic: pass a connection or set sqlalchemy.url")
        engine = create_engine(url)
        with engine.connect() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
