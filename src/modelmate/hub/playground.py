"""The model playground (the "demo" on a model page): try a base model or a fine-tune in the browser, tokens
streamed as they are generated.

- ``prepare`` (before any streaming): 404 when the model is not visible to the viewer; 409 ``model_unavailable``
  with a plain sentence when its weights are not on this machine (an external catalog entry, a Hugging Face base
  never downloaded here, a missing adapter or toy model).
- One generation at a time on the whole server (CPU inference is heavy): a second request while one runs gets
  429 ``demo_busy`` with ``Retry-After``.
- Loaded models are cached (``CACHE_SIZE`` entries, least recently used out), keyed by model id + weights + the
  adapter's modification time, so a re-trained adapter is reloaded.
- Every generation has a wall-clock limit (``TIMEOUT_S``); it ends with ``finish_reason: "timeout"``.

Generation itself is ``training.generate`` (pure); the SSE framing is in ``playground_endpoints``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from modelmate.catalog.schemas import RawText
from modelmate.config import Settings
from modelmate.enums import ModelKind
from modelmate.errors import AppError, ConflictError
from modelmate.finetune import adapters
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as ft_repo
from modelmate.hub.service import get_visible
from modelmate.models import Model, User
from modelmate.storage.artifacts import StoreUnavailable
from modelmate.training import generate

CACHE_SIZE = 2
TIMEOUT_S = 60.0
RETRY_AFTER_S = 5
LOAD_GRACE_S = 120.0  # loading a model counts on top of the generation's time limit
MAX_MESSAGES = 50


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: RawText = Field(max_length=generate.MAX_PROMPT_CHARS)


class GenerateIn(BaseModel):
    """Either a chat (``messages``, formatted with the model's chat template) or a plain ``prompt`` to continue."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] | None = Field(None, min_length=1, max_length=MAX_MESSAGES)
    prompt: RawText | None = Field(None, min_length=1, max_length=generate.MAX_PROMPT_CHARS)
    max_new_tokens: int = Field(generate.DEFAULT_NEW_TOKENS, ge=1, le=generate.MAX_NEW_TOKENS)
    temperature: float = Field(0.7, ge=0, le=2, description="0 = greedy (always the most likely token)")
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Same seed + settings → the same text")

    @model_validator(mode="after")
    def _one_input(self) -> GenerateIn:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give either messages or a prompt (not both)")
        if self.messages is not None and sum(len(m.content) for m in self.messages) > generate.MAX_PROMPT_CHARS:
            raise ValueError(f"the conversation is longer than {generate.MAX_PROMPT_CHARS} characters")
        return self


@dataclass(frozen=True)
class Target:
    """What to load: the base weights (a local directory or a cached Hugging Face id) and the adapter, if any."""

    model_id: int
    name: str
    base: str
    adapter: Path | None
    version: float  # the adapter's modification time (0 for base models)

    @property
    def key(self) -> tuple:
        return (self.model_id, self.base, str(self.adapter or ""), self.version)


def unavailable(model: Model, reason: str) -> ConflictError:
    return ConflictError(f"'{model.name}' cannot be run on this server: {reason}.", code="model_unavailable")


def _hf_cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - an odd id or cache layout: treat as not downloaded
        return False


def _base_weights(settings: Settings, model: Model) -> str:
    info = model.hub_info or {}
    path = bases.local_weights(settings, model)
    if path is not None:
        if info.get("key") == bases.TINY_KEY and not bases.tiny_built(path):
            raise unavailable(model, "the toy model has not been built yet (run `modelmate models build-tiny`)")
        if not (path / "config.json").is_file():
            raise unavailable(model, f"its model directory {path} is missing")
        return str(path)
    if model.hf_repo_id and _hf_cached(model.hf_repo_id):
        return model.hf_repo_id
    if model.hf_repo_id:
        raise unavailable(model, f"its weights ({model.hf_repo_id}) have never been downloaded to this machine; "
                                 "they are fetched when someone trains on or evaluates this model here")
    raise unavailable(model, "ModelMate has no weights for it (a catalog entry only)")


def target_for(settings: Settings, session: Session, model: Model) -> Target:
    """The weights to load for ``model``; 409 ``model_unavailable`` when they are not on this machine."""
    if model.kind == ModelKind.EXTERNAL.value:
        raise unavailable(model, "it is a catalog entry for a model hosted elsewhere, not weights on this server")
    if model.kind == ModelKind.FINETUNED.value:
        try:
            adapter = adapters.adapter_dir(settings, model) if (model.hub_info or {}).get("adapter") else None
        except StoreUnavailable as exc:
            raise unavailable(model, str(exc)) from None
        if adapter is None or not (adapter / "adapter_config.json").is_file():
            raise unavailable(model, "its adapter files are not on this machine")
        base = ft_repo.model_by_id(session, model.base_model_id) if model.base_model_id else None
        if base is None:
            raise unavailable(model, "its base model is no longer in the catalog")
        try:
            source = _base_weights(settings, base)
        except ConflictError as exc:
            raise unavailable(model, f"its base model is not available ({exc.message.rstrip('.')})") from None
        return Target(model.id, model.name, source, adapter, (adapter / "adapter_model.safetensors").stat().st_mtime)
    return Target(model.id, model.name, _base_weights(settings, model), None, 0.0)


def can_run(settings: Settings, session: Session, model: Model) -> bool:
    """Whether the playground can load this model here (the same answer ``POST /models/{id}/generate`` gives)."""
    try:
        target_for(settings, session, model)
    except AppError:
        return False
    return True


def prepare(session: Session, settings: Settings, viewer: User | None, model_id: int) -> Target:
    """404 unless visible to ``viewer`` (public, or the viewer's own); 409 when it cannot run here."""
    return target_for(settings, session, get_visible(session, viewer, model_id))


class Demo:
    """The server-wide demo state: the model cache and the one-generation-at-a-time slot."""

    def __init__(self, *, cache_size: int = CACHE_SIZE, timeout_s: float = TIMEOUT_S) -> None:
        self.cache: OrderedDict[tuple, generate.LoadedModel] = OrderedDict()
        self.cache_size = cache_size
        self.timeout_s = timeout_s
        self.lock = threading.Lock()  # guards the slot and the cache
        self.holder: object | None = None
        self.held_since = 0.0

    def acquire(self) -> object:
        """Take the generation slot (a token to release it with) or answer 429 while another generation runs.
        A slot held far beyond the time limit (a stream that never started) is taken over."""
        with self.lock:
            now = time.monotonic()
            if self.holder is not None and now - self.held_since < self.timeout_s + LOAD_GRACE_S:
                raise AppError("Another demo generation is running on this server; try again in a few seconds.",
                               code="demo_busy", status_code=429, details={"retry_after": RETRY_AFTER_S},
                               headers={"Retry-After": str(RETRY_AFTER_S)})
            self.holder, self.held_since = object(), now
            return self.holder

    def release(self, token: object) -> None:
        with self.lock:
            if self.holder is token:
                self.holder = None

    @property
    def busy(self) -> bool:
        with self.lock:
            return self.holder is not None

    def loaded(self, target: Target) -> generate.LoadedModel:
        with self.lock:
            found = self.cache.get(target.key)
            if found is not None:
                self.cache.move_to_end(target.key)
                return found
        model = generate.load(target.base, target.adapter)
        with self.lock:
            self.cache[target.key] = model
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return model

    def run(self, token: object, target: Target, request: GenerateIn) -> Iterator[dict]:
        """The generation's events (``token``…, then ``done`` or ``error``); releases the slot ``token`` (from
        ``acquire()``) when it ends."""
        try:
            params = generate.GenerationParams(max_new_tokens=request.max_new_tokens,
                                               temperature=request.temperature, top_p=request.top_p,
                                               seed=request.seed)
            try:
                loaded = self.loaded(target)
                messages = [m.model_dump() for m in request.messages] if request.messages is not None else None
                text = generate.prompt_text(loaded.tokenizer, messages=messages, prompt=request.prompt)
                ids = generate.encode(loaded, text, params.max_new_tokens)
            except generate.GenerationError as exc:
                yield {"type": "error", "message": f"'{target.name}' could not be loaded: {exc}"}
                return
            except Exception as exc:  # noqa: BLE001 - a broken model is an error event, never a dead stream
                yield {"type": "error", "message": f"'{target.name}' could not be loaded: "
                                                   f"{type(exc).__name__}: {str(exc)[:300]}"}
                return
            deadline = time.monotonic() + self.timeout_s
            try:
                yield from generate.stream(loaded, ids, params, deadline=deadline)
            except Exception as exc:  # noqa: BLE001
                yield {"type": "error", "message": f"generation failed: {type(exc).__name__}: {str(exc)[:300]}"}
        finally:
            self.release(token)


_demo = Demo()


def demo() -> Demo:
    """The process-wide demo state."""
    return _demo
