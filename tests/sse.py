"""Server-sent events from the model demo endpoint, parsed for tests (``tests/`` is on ``sys.path``)."""

from __future__ import annotations

import json

API = "/api/v1"


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def generate(client, model_id: int, **body):
    with client.stream("POST", f"{API}/models/{model_id}/generate", json=body) as r:
        text = "".join(r.iter_text())
    return r, text
