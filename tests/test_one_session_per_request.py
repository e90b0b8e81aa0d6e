"""House rule: one session per request (docs/architecture.md, "Layers"), checked over the source tree.

1. A module that defines routes (calls ``APIRouter``) never opens a unit of work itself: no ``x.session()``,
   ``x.session_factory()``, ``x.engine.begin()``/``connect()``, no ``app.state.db``. A request's work uses
   ``SessionDep``; the only session before it is ``api.deps.preflight`` (a large upload checked before the write
   lock is taken).
2. A function handed a ``Session`` runs inside its caller's unit of work, so it never opens another one (the
   ``x.session()`` ... calls above), wherever it lives. Code that owns its units of work (jobs, the CLI, the
   worker, event streams, the import's short transactions) is handed the ``Database`` instead.
3. A route or dependency that takes the ``Database`` (``DatabaseDep``) is an explicit exception, listed below with
   the reason its work cannot be the request's.
"""

from __future__ import annotations

import ast
from pathlib import Path

from source_rules import SRC, Violation, names_in, parse_annotation

OPENERS = frozenset({"session", "session_factory"})  # Database.session(), Database.session_factory()
ENGINE_OPENERS = frozenset({"begin", "connect"})  # db.engine.begin(), db.engine.connect()
SESSION_TYPES = frozenset({"Session", "SessionDep"})

# (module, function) -> why this work is not the request's own unit of work.
DATABASE_DEP_ALLOWED = {
    ("routes.py", "health"): "a connection ping; no session at all",
    ("accounts/endpoints.py", "_password_checked"):
        "runs before the request's session opens: the rate limiter's counters must survive the login's rollback, "
        "and no write lock is held while the password hash is checked",
    ("finetune/endpoints.py", "run_events"):
        "an event stream (up to 10 minutes) reads a snapshot each second in a short session of its own, after the "
        "request's session has committed",
    ("transfer/endpoints.py", "import_"):
        "a large import is written in short transactions of its own (transfer/batches.py) so that it never holds "
        "the write lock for long; the request has no session",
    ("hub/hf_compat.py", "_token"):
        "authentication before the request's session opens (the /hf routes are outside the API's middleware); "
        "the token's last-used touch is best effort, in its own transaction",
}


def _is_session(annotation: ast.expr | None) -> bool:
    """``Session``, ``Session | None``, ``"Session"``, ``SessionDep``, ``Annotated[Session, ...]``; not a
    ``Callable[[Session], T]`` (a function that will be handed one)."""
    annotation = parse_annotation(annotation)
    if isinstance(annotation, ast.Name):
        return annotation.id in SESSION_TYPES
    if isinstance(annotation, ast.Attribute):
        return annotation.attr in SESSION_TYPES
    if isinstance(annotation, ast.BinOp):
        return _is_session(annotation.left) or _is_session(annotation.right)
    if isinstance(annotation, ast.Subscript) and names_in(annotation.value) & {"Annotated", "Optional"}:
        first = annotation.slice.elts[0] if isinstance(annotation.slice, ast.Tuple) else annotation.slice
        return _is_session(first)
    return False


def _opens_unit_of_work(node: ast.AST) -> str | None:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    func = node.func
    if func.attr in OPENERS and not node.args and not node.keywords:
        return ast.unparse(func)
    if func.attr in ENGINE_OPENERS and isinstance(func.value, ast.Attribute) and func.value.attr == "engine":
        return ast.unparse(func)
    return None


def _defines_routes(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.Call) and names_in(n.func) & {"APIRouter"} for n in ast.walk(tree))


def check_source(source: str, path: str, *, allowed: dict[tuple[str, str], str] | None = None) -> list[Violation]:
    allowed = DATABASE_DEP_ALLOWED if allowed is None else allowed
    tree = ast.parse(source, filename=path)
    found: list[Violation] = []
    routes = _defines_routes(tree)
    if routes:
        for node in ast.walk(tree):
            opener = _opens_unit_of_work(node)
            if opener:
                found.append(Violation(path, node.lineno, f"a route module opens a unit of work: {opener}()"))
            if isinstance(node, ast.Attribute) and node.attr == "db" and ast.unparse(node.value).endswith("app.state"):
                found.append(Violation(path, node.lineno, f"a route module reaches the database: {ast.unparse(node)}"))
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
        if any(_is_session(p.annotation) for p in params):
            for node in ast.walk(fn):
                opener = _opens_unit_of_work(node)
                if opener:
                    found.append(Violation(path, node.lineno, f"{fn.name}() is handed a Session but opens another "
                                                              f"unit of work: {opener}()"))
        if routes and any("DatabaseDep" in names_in(p.annotation) for p in params) and (path, fn.name) not in allowed:
            found.append(Violation(path, fn.lineno, f"{fn.name}() takes the Database in a request; use SessionDep "
                                                    "(or list the reason in DATABASE_DEP_ALLOWED)"))
    return sorted(set(found), key=lambda v: (v.line, v.what))


def violations(src: Path = SRC) -> list[Violation]:
    found: list[Violation] = []
    for path in sorted(src.rglob("*.py")):
        found += check_source(path.read_text(encoding="utf-8"), path.relative_to(src).as_posix())
    return found


def test_one_session_per_request() -> None:
    found = violations()
    assert not found, "a second unit of work inside a request:\n" + "\n".join(map(str, found))


def test_every_exception_is_still_used() -> None:
    sources = {rel: (SRC / rel).read_text(encoding="utf-8") for rel, _ in DATABASE_DEP_ALLOWED}
    for rel, name in DATABASE_DEP_ALLOWED:
        tree = ast.parse(sources[rel])
        assert any(isinstance(n, ast.FunctionDef) and n.name == name and "DatabaseDep" in ast.unparse(n.args)
                   for n in ast.walk(tree)), f"{rel}:{name} no longer takes DatabaseDep: drop its exception"


VIOLATING = '''\
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from modelmate.api.deps import DatabaseDep, SessionDep

router = APIRouter()


@router.post("/things")
def create(request: Request, session: SessionDep, db: DatabaseDep) -> None:
    with db.session() as other:
        other.add(object())
    request.app.state.db.ping()


def helper(session: Session, db) -> None:
    with db.engine.begin() as conn:
        conn.close()
'''


def test_checker_reports_every_second_unit_of_work() -> None:
    found = [str(v) for v in check_source(VIOLATING, "pkg/endpoints.py", allowed={})]
    assert found == [
        "pkg/endpoints.py:10: create() takes the Database in a request; use SessionDep (or list the reason in "
        "DATABASE_DEP_ALLOWED)",
        "pkg/endpoints.py:11: a route module opens a unit of work: db.session()",
        "pkg/endpoints.py:11: create() is handed a Session but opens another unit of work: db.session()",
        "pkg/endpoints.py:13: a route module reaches the database: request.app.state.db",
        "pkg/endpoints.py:17: a route module opens a unit of work: db.engine.begin()",
        "pkg/endpoints.py:17: helper() is handed a Session but opens another unit of work: db.engine.begin()",
    ]


def test_a_job_that_owns_its_units_of_work_passes() -> None:
    job = '''\
def handle(db, payload) -> None:
    with db.session() as session:
        session.flush()
'''
    assert check_source(job, "pkg/tasks.py", allowed={}) == []
    assert check_source(job.replace("(db, payload)", "(db, work: Callable[[Session], None])"), "pkg/tasks.py",
                        allowed={}) == []
    for handed in ("s: 'Session'", "s: Session | None", "s: SessionDep", "s: Annotated[Session, SESSION]"):
        assert check_source(job.replace("payload", handed), "pkg/tasks.py", allowed={}), handed
