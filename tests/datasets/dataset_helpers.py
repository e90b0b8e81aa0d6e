"""Helpers for the dataset API tests."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from modelmate.config import Settings

API = "/api/v1"
CAP = 2 * 1024 * 1024  # the small_client fixture's upload cap


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")


def upload(client: TestClient, filename: str, content: bytes, **form):
    return client.post(f"{API}/datasets", files={"file": (filename, content, "application/octet-stream")},
                       data={k: str(v) for k, v in form.items()})


def artifact_files(settings: Settings) -> list[Path]:
    root = settings.artifacts_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
