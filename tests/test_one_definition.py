"""One definition of each concept: the enumerations live in ``modelmate.enums``, the model field list in
``catalog/schemas.py``. A second hand-written list of their values anywhere else in ``src/`` fails here, and the
OpenAPI schema exposes each enumeration once, under its own name, for the UI's generated types."""

from __future__ import annotations

import ast
import json
from enum import StrEnum
from pathlib import Path

import pytest

from modelmate import enums
from modelmate.catalog.schemas import MODEL_FIELDS, ModelFields, ModelFieldsOut, ModelOut
from modelmate.enums import Domain, FailureCategory

SRC = Path(enums.__file__).parent
# Alembic revisions are frozen snapshots of the schema as it was: they must not import today's enums.
EXEMPT = {SRC / "enums.py"}
EXEMPT_DIRS = (SRC / "db" / "migrations",)
# The concepts that have one definition, and how many of their values make a list look like a copy.
ENUMS: list[type[StrEnum]] = [e for e in vars(enums).values()
                              if isinstance(e, type) and issubclass(e, StrEnum) and e.__module__ == enums.__name__]
MIN_SHARED = 3
# The descriptive model fields (name aside: a lot of things have a name). A list of names holding this many of
# them is a copy of the field list (a policy naming a few of them, such as the identity fields, is not); so is a
# schema class that declares all of them instead of inheriting ModelFields / ModelFieldsOut.
DESCRIPTIVE = frozenset(MODEL_FIELDS) - {"name"}
MIN_SHARED_FIELDS = 5
# Declared field by field on purpose, and checked below to keep every model field.
OWN_SHAPES = {"ProposedFields": "autofill: a suggestion from upstream, every field optional, plus tags"}


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py")
                  if p not in EXEMPT and not any(d in p.parents for d in EXEMPT_DIRS))


def _strings(nodes: list[ast.expr | None]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _string_groups(tree: ast.AST, *, records: bool = True) -> list[tuple[int, list[str]]]:
    """Every group of string literals written together: a tuple/list/set display, a ``Literal[...]`` and (with
    ``records``) the keys of a dict display and the keyword names of a call."""
    groups: list[tuple[int, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            groups.append((node.lineno, _strings(list(node.elts))))
        elif isinstance(node, ast.Subscript) and getattr(node.value, "id", getattr(node.value, "attr", "")) == \
                "Literal":
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            groups.append((node.lineno, _strings(list(args))))
        elif isinstance(node, ast.Dict) and records:
            groups.append((node.lineno, _strings(list(node.keys))))
        elif isinstance(node, ast.Call) and records:
            groups.append((node.lineno, [k.arg for k in node.keywords if k.arg]))
    return groups


def _class_fields(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    """(line, name, annotated names) of every class body."""
    return [(node.lineno, node.name, [s.target.id for s in node.body
                                      if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)])
            for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]


def _copies(values: frozenset[str], minimum: int, *, skip: frozenset[Path] = frozenset(),
            records: bool = True) -> list[str]:
    found: list[str] = []
    for path in _sources():
        if path in skip:
            continue
        for line, group in _string_groups(ast.parse(path.read_text(encoding="utf-8")), records=records):
            shared = sorted(values.intersection(group))
            if len(shared) >= minimum:
                copy = f"{path.relative_to(SRC)}:{line}: {', '.join(shared)}"
                if copy not in found:  # Literal["a", "b"] is a subscript holding a tuple: one copy
                    found.append(copy)
    return found


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_no_second_list_of_an_enums_values(enum: type[StrEnum]):
    values = frozenset(e.value for e in enum)
    copies = _copies(values, min(MIN_SHARED, len(values)))
    assert not copies, (f"{enum.__name__}'s values are listed by hand outside modelmate/enums.py; use the enum "
                        "(or derive from it):\n" + "\n".join(copies))


def test_the_model_field_list_is_written_once():
    # catalog/schemas.py defines the two shapes (input: validated types, output: stored types); the ORM table
    # (models/catalog.py) is the database's own definition. Everything else derives from MODEL_FIELDS. Records
    # (a dict display, a call's keywords: a base model preset, a row being built) are values, not definitions.
    skip = frozenset({SRC / "catalog" / "schemas.py", SRC / "models" / "catalog.py"})
    copies = _copies(DESCRIPTIVE, MIN_SHARED_FIELDS, skip=skip, records=False)
    for path in _sources():
        if path in skip:
            continue
        for line, name, fields in _class_fields(ast.parse(path.read_text(encoding="utf-8"))):
            if set(fields) >= DESCRIPTIVE and name not in OWN_SHAPES:
                copies.append(f"{path.relative_to(SRC)}:{line}: class {name} declares every model field")
    assert not copies, ("the model fields are listed by hand; derive from catalog.schemas.MODEL_FIELDS or inherit "
                        "ModelFields / ModelFieldsOut:\n" + "\n".join(copies))


def test_the_input_and_output_model_fields_agree():
    assert tuple(ModelFieldsOut.model_fields) == MODEL_FIELDS
    assert set(ModelFields.model_fields) == DESCRIPTIVE
    assert set(MODEL_FIELDS) <= set(ModelOut.model_fields)
    from modelmate.autofill.schemas import ProposedFields

    assert set(MODEL_FIELDS) <= set(ProposedFields.model_fields), OWN_SHAPES["ProposedFields"]


def test_the_scan_finds_a_copy(tmp_path: Path):
    """The scanner itself: each kind of group it reads catches a copy."""
    source = ('X = ("math", "code", "reading")\n'
              'Y = Literal["diverged", "crashed", "cancelled", "uncategorized"]\n'
              'Z = {"wishlist": 1, "tried": 2, "using": 3}\n'
              'f(developer=1, license=2, version=3, parameters=4)\n'
              'class A:\n    developer: str\n    license: str\n    version: str\n    hf_repo_id: str\n')
    tree = ast.parse(source)
    groups = [set(g) for _, g in _string_groups(tree)]
    assert {"math", "code", "reading"} in groups
    assert {"diverged", "crashed", "cancelled", "uncategorized"} in groups
    assert {"wishlist", "tried", "using"} in groups
    assert {"developer", "license", "version", "parameters"} in groups
    assert {"developer", "license", "version", "parameters"} not in [set(g) for _, g in
                                                                     _string_groups(tree, records=False)]
    assert _class_fields(tree) == [(5, "A", ["developer", "license", "version", "hf_repo_id"])]


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from modelmate.app import create_app
    from modelmate.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("openapi"), seed_demo=False, environment="test")
    return json.loads(json.dumps(create_app(settings).openapi()))


# The enums the API exposes (the UI reads them from web/src/client as components["schemas"][name]).
API_ENUMS = [enums.ModelType, enums.EntryStatus, enums.RunStatus, enums.JobStatus, enums.TrainingOutcome,
             enums.FailureCategory, enums.Domain, enums.ModelKind, enums.JobKind, enums.EventKind, enums.Visibility,
             enums.EvaluationState, enums.EvalBackend, enums.RunSource,
             enums.ContaminationStatus]


@pytest.mark.parametrize("enum", API_ENUMS, ids=lambda e: e.__name__)
def test_the_api_schema_names_each_enum_once(openapi: dict, enum: type[StrEnum]):
    schemas = openapi["components"]["schemas"]
    values = [e.value for e in enum]
    assert schemas[enum.__name__]["enum"] == values
    # Two enums may share values (a run's and a job's lifecycle are alike) but nothing else may copy them.
    named = {e.__name__ for e in ENUMS}
    others = [name for name, s in schemas.items() if name not in named and s.get("enum") == values]
    assert not others, f"{enum.__name__} is also exposed as {others}"
    # No operation or component spells the values out inline instead of referring to the named schema.
    inline = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            if node.get("enum") == values and where != f"components/schemas/{enum.__name__}":
                inline.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(openapi["paths"], "paths")
    walk({k: v for k, v in schemas.items() if k not in named}, "components/schemas")
    assert not inline, f"{enum.__name__}'s values are inlined at {inline}"


def test_the_museum_filter_is_a_failure_category_or_uncategorized(openapi: dict):
    op = openapi["paths"]["/api/v1/museum"]["get"]
    (param,) = [p for p in op["parameters"] if p["name"] == "category"]
    variants = param["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/FailureCategory"} in variants
    consts = [v.get("const") for v in variants if "const" in v] + \
             [x for v in variants for x in v.get("enum", [])]
    assert consts == [enums.UNCATEGORIZED]
    assert enums.UNCATEGORIZED not in {c.value for c in FailureCategory}


def test_the_capability_changes_domain_filter_is_the_domain_enum(openapi: dict):
    op = openapi["paths"]["/api/v1/capability-changes"]["get"]
    (param,) = [p for p in op["parameters"] if p["name"] == "domain"]
    assert {"$ref": "#/components/schemas/Domain"} in param["schema"]["anyOf"]
    from modelmate.evaluation.suites import DOMAINS, SUITES

    assert tuple(d.value for d in Domain) == DOMAINS
    assert {s.domain for s in SUITES} == set(DOMAINS)
