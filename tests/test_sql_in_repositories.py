"""House rule: SQL only in repositories (docs/architecture.md, "Layers"), checked over the source tree.

Outside the modules that may hold SQL (``repository.py``, ``*_repository.py``, ``db/``, ``models/``) no module may

* import a SQL-building name from SQLAlchemy (``select``, ``text``, ``func``, ``and_``, ``selectinload``,
  ``aliased``, a dialect's ``insert`` ...), or reach one through ``import sqlalchemy as sa`` (``sa.select``);
* run a statement: ``.execute``, ``.scalars``, ``.scalar``, ``.query``, ``.exec_driver_sql``, ``.connection``
  or a ``bulk_*`` call on a Session or a Connection.

The ORM unit of work stays allowed in services: ``session.get`` (a primary-key lookup), ``add``, ``add_all``,
``delete``, ``flush``, ``refresh``, ``expire``, ``begin_nested`` write no SQL of their own.

The checker knows a receiver is a Session or a Connection by its name (``session``, ``s``, ``conn`` ...,
``self.session``), by an annotation (``x: Session``) or by how it was bound (``with db.session() as x``,
``x = db.session_factory()``, ``with engine.begin() as x``). A ``select(`` that is not SQLAlchemy's
(``evaluation.suites.select``) is never flagged: only names imported from ``sqlalchemy`` count.
"""

from __future__ import annotations

import ast
from pathlib import Path

from source_rules import SRC, Violation, names_in

# SQLAlchemy names that build a statement or a clause (the core and ORM constructs, loader options, aliases).
SQL_NAMES = frozenset({
    "select", "text", "insert", "update", "delete", "func", "and_", "or_", "not_", "exists", "case", "literal",
    "literal_column", "column", "table", "bindparam", "cast", "desc", "asc", "nulls_first", "nulls_last",
    "tuple_", "union", "union_all", "intersect", "except_", "distinct", "true", "false", "null", "lambda_stmt",
    "join", "outerjoin", "over", "within_group", "any_", "all_", "collate", "extract", "type_coerce", "values",
    "between", "label", "Select", "ColumnElement", "TextClause", "aliased", "selectinload", "joinedload",
    "subqueryload", "contains_eager", "load_only", "defer", "undefer", "lazyload", "noload", "raiseload",
    "with_polymorphic", "with_loader_criteria", "sql",
})
# Modules whose every name is SQL (statement classes, dialect constructs such as postgresql.insert).
SQL_MODULE_PREFIXES = ("sqlalchemy.sql", "sqlalchemy.dialects")
# Methods that run a statement on a Session or a Connection.
STATEMENT_METHODS = frozenset({
    "execute", "scalars", "scalar", "query", "exec_driver_sql", "connection", "bulk_save_objects",
    "bulk_insert_mappings", "bulk_update_mappings",
})
SESSION_NAMES = frozenset({"session", "s", "sess", "db_session", "conn", "connection"})
SESSION_TYPES = frozenset({"Session", "Connection"})
BINDERS = frozenset({"session", "session_factory", "begin", "connect"})  # db.session(), engine.begin() ...

def may_hold_sql(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return (name == "repository.py" or name.endswith("_repository.py") or rel.startswith(("db/", "models/")))


def _is_binder(call: ast.expr) -> bool:
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in BINDERS
            or isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in SESSION_TYPES)


class _Checker(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[Violation] = []
        self.sa_aliases: set[str] = set()  # import sqlalchemy [as sa]
        self.sessions: set[str] = set()  # names annotated or bound as a Session/Connection in this module

    def flag(self, node: ast.AST, what: str) -> None:
        self.found.append(Violation(self.path, getattr(node, "lineno", 0), what))

    # imports ---------------------------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "sqlalchemy" or alias.name.startswith("sqlalchemy."):
                if alias.name.startswith(SQL_MODULE_PREFIXES):
                    self.flag(node, f"imports {alias.name}")
                self.sa_aliases.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level == 0 and (module == "sqlalchemy" or module.startswith("sqlalchemy.")):
            for alias in node.names:
                if module.startswith(SQL_MODULE_PREFIXES) or alias.name in SQL_NAMES:
                    self.flag(node, f"imports {alias.name} from {module}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        root: ast.expr = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in self.sa_aliases and node.attr in SQL_NAMES:
            self.flag(node, f"uses {ast.unparse(node)}")
        self.generic_visit(node)

    # sessions and connections ----------------------------------------------------------------------------------
    def _bind(self, target: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.sessions.add(target.id)

    def visit_arg(self, node: ast.arg) -> None:
        if names_in(node.annotation) & SESSION_TYPES:
            self.sessions.add(node.arg)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if names_in(node.annotation) & SESSION_TYPES:
            self._bind(node.target)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if _is_binder(node.value):
            for target in node.targets:
                self._bind(target)
        self.generic_visit(node)

    def visit_withitem(self, node: ast.withitem) -> None:
        if _is_binder(node.context_expr):
            self._bind(node.optional_vars)
        self.generic_visit(node)

    def _is_session(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in SESSION_NAMES or node.id in self.sessions or node.id.endswith("_session")
        if isinstance(node, ast.Attribute):  # self.session, ctx.session, self._session
            return node.attr.lstrip("_") in SESSION_NAMES or node.attr.endswith("_session")
        return _is_binder(node)  # db.session().execute(...)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in STATEMENT_METHODS and self._is_session(func.value):
            self.flag(node, f"runs SQL: {ast.unparse(func)}(...)")
        self.generic_visit(node)


def check_source(source: str, path: str) -> list[Violation]:
    tree = ast.parse(source, filename=path)
    checker = _Checker(path)
    # Bindings first (a session bound below its use in the file still counts), then the checks.
    binder = _Checker(path)
    binder.visit(tree)
    checker.sessions = binder.sessions
    checker.visit(tree)
    return sorted(set(checker.found), key=lambda v: (v.line, v.what))


def violations(src: Path = SRC) -> list[Violation]:
    found: list[Violation] = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if may_hold_sql(rel):
            continue
        found += check_source(path.read_text(encoding="utf-8"), rel)
    return found


def test_sql_only_in_repositories() -> None:
    found = violations()
    assert not found, "SQL outside the repositories (move it into the package's repository module):\n" + "\n".join(
        map(str, found))


VIOLATING = '''\
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.dialects.postgresql import insert


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(sa.text("t")))


def rows(db):
    with db.session() as x:
        return x.execute(sa.select(1)).all()


def raw(engine):
    with engine.begin() as c:
        c.exec_driver_sql("ANALYZE")


class Repo:
    def first(self, ident):
        return self.session.query(ident).first()
'''

CLEAN = '''\
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelmate.evaluation import suites


def add(session: Session, row, key) -> object:
    session.add(row)
    session.flush()
    specs = suites.select(["code"])  # not SQLAlchemy's select
    cursor = object()
    cursor.execute = print  # not a session
    cursor.execute("x")
    return session.get(type(row), key), specs, IntegrityError
'''


def test_checker_reports_every_violation_with_file_and_line() -> None:
    found = [str(v) for v in check_source(VIOLATING, "pkg/service.py")]
    assert found == [
        "pkg/service.py:2: imports func from sqlalchemy",
        "pkg/service.py:2: imports select from sqlalchemy",
        "pkg/service.py:3: imports selectinload from sqlalchemy.orm",
        "pkg/service.py:4: imports insert from sqlalchemy.dialects.postgresql",
        "pkg/service.py:8: runs SQL: session.scalar(...)",
        "pkg/service.py:8: uses sa.text",
        "pkg/service.py:13: runs SQL: x.execute(...)",
        "pkg/service.py:13: uses sa.select",
        "pkg/service.py:18: runs SQL: c.exec_driver_sql(...)",
        "pkg/service.py:23: runs SQL: self.session.query(...)",
    ]


def test_checker_fails_on_a_violating_tree(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "service.py").write_text(VIOLATING, encoding="utf-8")
    (tmp_path / "pkg" / "repository.py").write_text(VIOLATING, encoding="utf-8")  # allowed there
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN, encoding="utf-8")
    found = violations(tmp_path)
    assert {v.path for v in found} == {"pkg/service.py"}
    assert len(found) == 10
