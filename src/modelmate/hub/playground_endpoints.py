"""/api/v1 model demo: ``POST /models/{model_id}/generate`` streams generated text as server-sent events.

Events: ``token`` ``{"text"}`` for each new piece of text, then ``done`` ``{"tokens", "seconds", "finish_reason"}``
(``stop`` | ``length`` | ``timeout`` | ``cancelled``) or ``error`` ``{"message"}``. Everything that can be decided
before streaming is an ordinary JSON error: 404 (not visible), 409 ``model_unavailable``, 422, 429 ``demo_busy``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from modelmate.api.deps import IdPath, OptionalUser, SessionDep, SettingsDep
from modelmate.errors import ErrorResponse
from modelmate.hub import playground
from modelmate.hub.playground import GenerateIn

router = APIRouter(tags=["hub"])

RESPONSES: dict[int | str, dict] = {
    200: {"content": {"text/event-stream": {}},
          "description": "Server-sent events: `token` {text}…, then `done` {tokens, seconds, finish_reason} or "
                         "`error` {message}"},
    404: {"model": ErrorResponse, "description": "No such model visible to you"},
    409: {"model": ErrorResponse, "description": "`model_unavailable`: its weights are not on this server"},
    422: {"model": ErrorResponse, "description": "Invalid request (limits: 4000 characters, 256 new tokens)"},
    429: {"model": ErrorResponse, "description": "`demo_busy`: another generation is running (see Retry-After)"},
}


def _sse(event: dict) -> str:
    kind = event.get("type", "error")
    data = {k: v for k, v in event.items() if k != "type"}
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/models/{model_id}/generate", responses=RESPONSES, response_class=StreamingResponse,
             summary="Try the model: generate text from a prompt or a chat, streamed as server-sent events")
def generate(model_id: IdPath, payload: GenerateIn, session: SessionDep, settings: SettingsDep,
             user: OptionalUser) -> StreamingResponse:
    target = playground.prepare(session, settings, user, model_id)
    state = playground.demo()
    token = state.acquire()

    def stream() -> Iterator[str]:
        for event in state.run(token, target, payload):
            yield _sse(event)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
