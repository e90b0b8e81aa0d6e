"""Scenario 23: every object endpoint, called with user B's credentials on user A's private ids → 404, and
nothing changes. The matrix is generated from the app's routes, so endpoints added later are covered too.

How it works: every ``/api/v1`` route with an id-like parameter (path, query or JSON body field named ``id``,
``ids``, ``*_id`` or ``*_ids``) must have a FACTORY that yields A's object id for that parameter name, or be listed
in NOT_OBJECT_IDS with a reason. A route whose id parameter has neither makes this test fail: whoever adds an
endpoint adds the way to build A's object here, and the endpoint is checked from then on.

Expectations:
* a path parameter pointing at A's object → exactly 404 (never 403: that would confirm it exists), also when
  the other path parameters are B's own objects (e.g. B's entry + A's journal note);
* a query/body id (filters, compare, bulk, model_id on create) → 404, or a 2xx answer that contains nothing of A;
* no response to B ever contains A's private marker text, and the database is unchanged afterwards.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from modelmate.db.base import Base
from modelmate.models import Evaluation, Job, Model, TrainingRun

API = "/api/v1"
ID_NAME = re.compile(r"(^|_)ids?$")
VOLATILE_COLUMNS = {("user_sessions", "last_seen_at"), ("user_sessions", "expires_at"),
                    ("api_tokens", "last_used_at")}


@dataclass
class World:
    """One user's private objects (created through the API where one exists)."""

    client: TestClient
    user_id: int
    marker: str
    entry_ids: list[int] = field(default_factory=list)
    note_id: int = 0
    model_id: int = 0  # a PRIVATE catalog model
    token_id: int = 0
    token: str = ""
    job_id: int = 0
    dataset_id: int = 0  # a PRIVATE uploaded dataset
    run_id: int = 0  # a training run
    evaluation_id: int = 0  # an evaluation of the private model


# parameter name → A's object id(s). Add a line when you add an endpoint with a new kind of id.
FACTORIES: dict[str, Callable[[World], Any]] = {
    "entry_id": lambda w: w.entry_ids[0],
    "note_id": lambda w: w.note_id,
    "model_id": lambda w: w.model_id,
    "token_id": lambda w: w.token_id,
    "user_id": lambda w: w.user_id,
    "ids": lambda w: list(w.entry_ids),  # entries?ids=, compare?ids=, bulk {"ids": [...]}
    "entry_ids": lambda w: list(w.entry_ids),
    "job_id": lambda w: w.job_id,
    "dataset_id": lambda w: w.dataset_id,
    "run_id": lambda w: w.run_id,
    "parent_model_id": lambda w: w.model_id,  # fork: A's private fine-tuned model
    "evaluation_id": lambda w: w.evaluation_id,
    "base_model_id": lambda w: w.model_id,  # leaderboard filter: A's private model
    "owner": lambda w: w.client.user["username"],  # hub page /hub/models/{owner}/{slug}: A's private model
    "slug": lambda w: f"private-model-{w.user_id}",
    "filename": lambda w: "adapter_config.json",  # PUT /runs/external/{run_id}/adapter/{filename}: a fixed name
}
# id-looking parameters that are not references to someone's object: name → why.
NOT_OBJECT_IDS: dict[str, str] = {
    "hf_repo_id": "a public Hugging Face repository name, not a reference to a ModelMate object",
    "url_or_id": "autofill's input: a public Hugging Face / GitHub URL or repo id, not a ModelMate object",
    "external_id": "the caller's own id of a run in another tool (unique per owner and source), not a ModelMate "
                   "object: B's external_id equal to A's creates B's own run",
}
# Routes that answer B differently on purpose: (method, path) → accepted statuses.
EXPECTED: dict[tuple[str, str], set[int]] = {
    ("PATCH", f"{API}/admin/users/{{user_id}}"): {403},  # admins only: a non-admin is refused before any lookup
}
# Bodies the schema-driven builder cannot guess (every variant is tried).
BODY_OVERRIDES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("POST", f"{API}/entries/bulk"): [{"action": "delete"}, {"action": "set_status", "status": "archived"},
                                      {"action": "add_tags", "tags": ["b-tag"]},
                                      {"action": "remove_tags", "tags": ["a-tag"]}],
    ("PATCH", f"{API}/entries/{{entry_id}}"): [{"notes": "changed by B", "status": "archived", "rating": 1},
                                               {"name": "renamed by B"}],
    ("PATCH", f"{API}/models/{{model_id}}"): [{"description": "changed by B", "name": "renamed by B"}],
    ("PATCH", f"{API}/admin/users/{{user_id}}"): [{"is_active": False}, {"is_admin": True}],
    ("POST", f"{API}/entries"): [{"name": None}],  # with model_id = A's private model
    ("POST", f"{API}/autofill"): [{"url_or_id": "some-org/some-model"}],  # + entry_id = A's entry (no fetch: 404)
    ("POST", f"{API}/models/{{model_id}}/generate"): [{"prompt": "hello", "max_new_tokens": 1}],  # demo
}


def build_world(account_client, database, username: str) -> World:
    marker = f"PRIVATE{secrets.token_hex(6)}"  # never in a response to anyone else
    word = "zebracorn"  # a searchable word next to it (search answers echo the query, so not the marker)
    c = account_client(username)
    w = World(client=c, user_id=c.user["id"], marker=marker)
    with database.session() as s:  # no API makes these directly yet: a private model and a finished job
        job = Job(owner_id=w.user_id, kind="enrich", status="succeeded", payload={"note": marker},
                  result={"note": marker}, progress=1.0)
        s.add(job)
        model = Model(name=f"{marker} model", name_key=f"{marker.lower()} model", developer_key="",
                      slug=f"private-model-{w.user_id}",
                      description=marker, kind="finetuned", visibility="private", owner_id=w.user_id,
                      source_links=[], benchmark_scores={}, hub_info={}, metadata_extra={})
        s.add(model)
        s.flush()
        w.model_id, w.job_id = model.id, job.id
        run = TrainingRun(owner_id=w.user_id, job_id=job.id, name=f"{marker} run", base_model_id=model.id,
                          config={"note": marker}, status="queued", loss_curve_data=[], early_stopping=[],
                          environment={}, estimate={})
        s.add(run)
        s.flush()
        w.run_id = run.id
        evaluation = Evaluation(owner_id=w.user_id, model_id=model.id, mode="quick", status="final",
                                tasks=["boolq"], settings={"note": marker}, settings_hash=marker,
                                raw_results={"note": marker})
        s.add(evaluation)
        s.flush()
        w.evaluation_id = evaluation.id
    # logging a model the catalog does not know adds it to the PUBLIC catalog (by design): no marker in its name
    e1 = c.post(f"{API}/entries", json={"name": f"Shared {secrets.token_hex(4)}", "notes": f"{word} {marker}",
                                        "tags": [f"{marker}tag", "a-tag"],
                                        "status": "tried", "rating": 4})
    e2 = c.post(f"{API}/entries", json={"model_id": w.model_id, "notes": f"{word} {marker}",
                                        "status": "using"})
    assert e1.status_code == 201 and e2.status_code == 201, (e1.text, e2.text)
    w.entry_ids = [e1.json()["id"], e2.json()["id"]]
    note = c.post(f"{API}/entries/{w.entry_ids[0]}/journal", json={"body": f"{marker} journal {word}"})
    assert note.status_code == 201, note.text
    w.note_id = note.json()["id"]
    tok = c.post(f"{API}/auth/tokens", json={"name": f"{marker} token", "scopes": ["read", "write"]})
    assert tok.status_code == 201, tok.text
    w.token_id, w.token = tok.json()["id"], tok.json()["token"]
    ds = c.post(f"{API}/datasets", files={"file": (f"{marker}.jsonl", f'{{"text": "{marker} {word}"}}\n'.encode())},
                data={"name": f"{marker} dataset", "description": marker})
    assert ds.status_code == 201, ds.text
    w.dataset_id = ds.json()["id"]
    return w


# --- route discovery ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body_id_fields: tuple[str, ...]


def api_routes(app) -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) for every API route, through included routers too."""
    contexts = routing.iter_route_contexts(app.routes) if hasattr(routing, "iter_route_contexts") else None
    if contexts is None:  # older FastAPI: included routes are flattened into app.routes
        for r in app.routes:
            if isinstance(r, APIRoute):
                yield r.path, r
        return
    for ctx in contexts:
        if isinstance(ctx.original_route, APIRoute):
            yield ctx.path, ctx.original_route


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _json_body_schema(spec: dict, method: str, path: str) -> dict | None:
    op = spec["paths"].get(path, {}).get(method.lower(), {})
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolve(content["application/json"]["schema"], spec)


def discover(app) -> list[RouteInfo]:
    spec = app.openapi()
    out = []
    for path, route in api_routes(app):
        if not path.startswith(API):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            body = _json_body_schema(spec, method, path)
            body_ids = tuple(sorted(k for k in (body or {}).get("properties", {}) if ID_NAME.search(k)))
            out.append(RouteInfo(method, path, tuple(p.name for p in route.dependant.path_params),
                                 tuple(p.name for p in route.dependant.query_params), body_ids))
    return out


def id_params(info: RouteInfo) -> list[str]:
    names = list(info.path_params) + [q for q in info.query_params if ID_NAME.search(q)] + list(info.body_id_fields)
    return [n for n in names if n not in NOT_OBJECT_IDS]


# --- request building -----------------------------------------------------------------------------------------

def example(schema: dict, spec: dict, depth: int = 0) -> Any:
    """A minimal valid value for a JSON schema: required properties only."""
    schema = _resolve(schema, spec)
    if depth > 6:
        return None
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o, spec).get("type") != "null"]
            return example(options[0], spec, depth + 1) if options else None
    if "allOf" in schema:
        return example(schema["allOf"][0], spec, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: example(props[k], spec, depth + 1) for k in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {}), spec, depth + 1)] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return "2026-01-01"
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        return "b" * max(1, schema.get("minLength", 1))
    return None


def requests_for(info: RouteInfo, app, a: World, b: World) -> Iterator[tuple[str, str, dict, Any]]:
    """(description, url, query, json body) variants that aim B's request at A's objects."""
    spec = app.openapi()
    path_sets = []
    if len(info.path_params) > 1:  # each one A's while the others are B's own (parent/child mix-ups)
        for victim in info.path_params:
            path_sets.append({p: FACTORIES[p](a if p == victim else b) for p in info.path_params})
    path_sets.append({p: FACTORIES[p](a) for p in info.path_params})
    query_ids = {q: FACTORIES[q](a) for q in info.query_params if ID_NAME.search(q) and q not in NOT_OBJECT_IDS}
    op = spec["paths"][info.path][info.method.lower()]
    query = dict(query_ids)
    for p in op.get("parameters", []):
        if p["in"] == "query" and p.get("required") and p["name"] not in query:
            query[p["name"]] = example(p["schema"], spec)
    body_schema = _json_body_schema(spec, info.method, info.path)
    bodies: list[Any] = [None]
    if body_schema is not None:
        base = example(body_schema, spec) or {}
        overrides = BODY_OVERRIDES.get((info.method, info.path))
        bodies = [base | o for o in overrides] if overrides else [base]
        for body in bodies:
            for f in info.body_id_fields:
                if f not in NOT_OBJECT_IDS:
                    body[f] = FACTORIES[f](a)
            for k in [k for k, v in body.items() if v is None]:
                body.pop(k)
    for values, body in itertools.product(path_sets, bodies):
        url = info.path.format(**values)
        yield f"{info.method} {url} {query or ''} {body or ''}", url, query, body


def snapshot(database) -> dict[str, list[tuple]]:
    out = {}
    with database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(map(repr, r)) for r in rows]
    return out


# --- the tests ------------------------------------------------------------------------------------------------

def test_every_id_parameter_has_a_factory(app, client):
    missing = sorted({(info.method, info.path, p) for info in discover(app) for p in id_params(info)
                      if p not in FACTORIES})
    assert not missing, ("routes with id parameters the isolation matrix cannot build objects for; add a FACTORIES "
                         f"entry (or NOT_OBJECT_IDS with a reason) in {__file__}: {missing}")


def test_matrix_covers_the_known_object_routes(app, client):
    covered = {(i.method, i.path) for i in discover(app) if id_params(i)}
    for must in [("GET", f"{API}/entries/{{entry_id}}"), ("DELETE", f"{API}/entries/{{entry_id}}/journal/{{note_id}}"),
                 ("PATCH", f"{API}/models/{{model_id}}"), ("DELETE", f"{API}/auth/tokens/{{token_id}}"),
                 ("POST", f"{API}/entries/bulk"), ("GET", f"{API}/entries"), ("POST", f"{API}/entries")]:
        assert must in covered, must
    assert len(covered) >= 15


@pytest.mark.parametrize("auth", ["session", "token"])
def test_user_b_cannot_reach_user_a_objects(app, client, account_client, database, auth):
    a = build_world(account_client, database, "alice")
    b = build_world(account_client, database, "bob")
    assert not b.client.user["is_admin"]
    if auth == "token":
        caller = TestClient(app, base_url="http://127.0.0.1:8000", headers={"Authorization": f"Bearer {b.token}"})
    else:
        caller = b.client
    before = snapshot(database)
    failures: list[str] = []
    checked = 0
    for info in discover(app):
        ids = id_params(info)
        if not ids:
            continue
        unknown = [p for p in ids if p not in FACTORIES]
        if unknown:
            failures.append(f"{info.method} {info.path}: no factory for {unknown}")
            continue
        expected = EXPECTED.get((info.method, info.path), {404})
        for desc, url, query, body in requests_for(info, app, a, b):
            resp = caller.request(info.method, url, params=query or None, json=body)
            checked += 1
            if a.marker in resp.text:
                failures.append(f"{desc} → {resp.status_code} LEAKS A's data")
                continue
            if resp.status_code == 422 and resp.json().get("error", {}).get("code") == "invalid_request":
                failures.append(f"{desc} → 422: the matrix could not build a valid request; add BODY_OVERRIDES "
                                f"({resp.json()['error']['message']})")
                continue
            if info.path_params:
                ok = resp.status_code in expected
            else:  # filters and lists may answer 2xx, as long as nothing of A's is in it
                ok = resp.status_code in expected or 200 <= resp.status_code < 300
            if not ok:
                failures.append(f"{desc} → {resp.status_code} (expected {sorted(expected)}): {resp.text[:200]}")
    assert not failures, "\n".join(failures)
    assert checked >= 20
    after = snapshot(database)
    changed = [t for t in before if before[t] != after[t]]
    assert not changed, f"B's refused requests changed tables: {changed}"
    # and A still sees everything
    page = a.client.get(f"{API}/entries").json()
    assert sorted(e["id"] for e in page["items"]) == sorted(a.entry_ids)
    assert a.client.get(f"{API}/models/{a.model_id}").status_code == 200
    assert a.client.get(f"{API}/entries/{a.entry_ids[0]}/journal").json()[0]["id"] == a.note_id


def test_b_lists_and_searches_never_show_a_objects(app, client, account_client, database):
    a = build_world(account_client, database, "alice")
    b = build_world(account_client, database, "bob")
    assert a.client.get(f"{API}/search", params={"q": "zebracorn"}).json()["total"] >= 1  # A finds them
    for info in discover(app):
        if info.method != "GET" or info.path_params:
            continue
        resp = b.client.get(info.path, params={"q": "zebracorn"} if "q" in info.query_params else None)
        assert a.marker not in resp.text, (info.path, resp.status_code)
        assert resp.status_code < 500, (info.path, resp.text)
