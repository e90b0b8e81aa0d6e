"""Database: engine/session factory, declarative Base, and Alembic migrations shipped in the package."""

from modelmate.db.base import Base
from modelmate.db.engine import Database, immediate_transaction

__all__ = ["Base", "Database", "immediate_transaction"]
