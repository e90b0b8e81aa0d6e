"""Property-based API testing with schemathesis over the app's whole OpenAPI schema, in process (ASGI).

Runs once per backend (the ``app`` fixture is parametrised over SQLite and PostgreSQL). For every operation,
schemathesis generates valid and invalid requests and checks that the server never answers 5xx, only answers
with documented status codes and content types, and that every response body conforms to its schema.
New endpoints are covered automatically as soon as they appear in the schema.
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from modelmate.app import create_app
from modelmate.config import Settings
from modelmate.db.engine import Database

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BASE_URL = "http://127.0.0.1:8000"  # a host the server serves (schemathesis' in-process default is "testserver")


def _load_schema() -> schemathesis.BaseSchema:
    """The schema, built without starting anything: the app factory's OpenAPI document, nothing served."""
    schema_app = create_app(Settings(environment="test", seed_demo=False), database=Database("sqlite://"))
    loaded = schemathesis.openapi.from_dict(schema_app.openapi())
    # In-process ASGI transport; every call below passes the test's own app (and backend) explicitly.
    loaded.app = schema_app
    return loaded


schema = _load_schema()


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
def test_api_conforms_to_its_schema(case, app):
    case.call_and_validate(base_url=BASE_URL, checks=CHECKS, app=app)


def test_schema_covers_the_api(app):
    """Guard against the fuzz test silently testing nothing: the core operations are in the schema."""
    with TestClient(app, base_url=BASE_URL) as client:
        served = client.get("/api/v1/openapi.json").json()
    assert served == schema.raw_schema, "the fuzzed schema must be the one the app serves"
    paths = set(served["paths"])
    for path in ("/api/v1/health", "/api/v1/models", "/api/v1/entries", "/api/v1/entries/{entry_id}",
                 "/api/v1/entries/{entry_id}/journal", "/api/v1/entries/{entry_id}/history",
                 "/api/v1/entries/bulk", "/api/v1/tags"):
        assert path in paths, f"{path} missing from the OpenAPI schema"
