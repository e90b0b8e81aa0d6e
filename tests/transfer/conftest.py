"""Fixtures for the import/export tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def upload(client) -> Callable[..., object]:
    def _upload(data: bytes | str, filename: str = "log.csv", **params: object):
        if isinstance(data, str):
            data = data.encode()
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
        return client.post("/api/v1/import", files={"file": (filename, data, "application/octet-stream")},
                           params=params)

    return _upload
