"""Hugging Face Hub metadata through the real ``huggingface_hub.HfApi`` (``model_info``), with limits.

``huggingface_hub`` shares one HTTP client per process; we add two event hooks to it that only act inside
our calls (a context variable carries the limits): requests may only go to the configured endpoint's host
(no redirect elsewhere), and response bodies are read through a byte cap and an overall deadline.
"""

from __future__ import annotations

import contextvars
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, get_session

from modelmate import __version__
from modelmate.autofill import upstream as up
from modelmate.config import Settings

SERVICE = "Hugging Face"
README_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class _Limits:
    netloc: str
    max_bytes: int
    deadline: float


_LIMITS: contextvars.ContextVar[_Limits | None] = contextvars.ContextVar("modelmate_hf_limits", default=None)
_hooks_lock = threading.Lock()


class _CappedStream(httpx2.SyncByteStream):
    def __init__(self, inner: Any, limits: _Limits) -> None:
        self._inner = inner
        self._limits = limits

    def __iter__(self) -> Iterator[bytes]:
        yield from up.capped(self._inner, max_bytes=self._limits.max_bytes, deadline=self._limits.deadline,
                             service=SERVICE)

    def close(self) -> None:
        self._inner.close()


def _on_request(request: httpx2.Request) -> None:
    limits = _LIMITS.get()
    if limits is not None and request.url.netloc.decode("ascii", "replace").lower() != limits.netloc:
        raise up.BlockedRedirect(f"{SERVICE} redirected to another host; not following it")


def _on_response(response: httpx2.Response) -> None:
    limits = _LIMITS.get()
    if limits is None:
        return
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > limits.max_bytes:
        response.close()
        raise up.UpstreamTooLarge(f"{SERVICE} sent more than {limits.max_bytes // 1024} KiB; refusing to read it")
    response.stream = _CappedStream(response.stream, limits)


def _install_hooks() -> httpx2.Client:
    session = get_session()
    with _hooks_lock:
        hooks = session.event_hooks
        if _on_request not in hooks.get("request", []):
            session.event_hooks = {"request": [*hooks.get("request", []), _on_request],
                                   "response": [*hooks.get("response", []), _on_response]}
    return session


@contextmanager
def _limited(settings: Settings, max_bytes: int) -> Iterator[httpx2.Client]:
    netloc = urlsplit(settings.hf_endpoint).netloc.lower()
    token = _LIMITS.set(_Limits(netloc, max_bytes, time.monotonic() + settings.autofill_timeout_s * 2))
    try:
        yield _install_hooks()
    except up.UpstreamError:
        raise
    except (up.UpstreamTimeout, up.UpstreamNotFound, up.UpstreamForbidden, up.UpstreamRateLimited):
        raise
    except GatedRepoError as exc:
        raise up.UpstreamForbidden("this model is gated on Hugging Face: it needs a token with access "
                                   "(MODELMATE_HF_TOKEN)", code="upstream_gated") from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise up.UpstreamNotFound("no such model on Hugging Face (or it is private)") from exc
    except DisabledRepoError as exc:
        raise up.UpstreamNotFound("this model has been disabled on Hugging Face") from exc
    except HfHubHTTPError as exc:
        raise _from_status(exc.response) from exc
    except httpx2.TimeoutException as exc:
        raise up.UpstreamTimeout(f"{SERVICE} did not answer within {settings.autofill_timeout_s:g} s") from exc
    except httpx2.TransportError as exc:
        raise up.unreachable(SERVICE, exc) from exc
    except ValueError as exc:  # invalid JSON, unexpected shapes
        raise up.UpstreamError(f"{SERVICE} sent a response we could not read") from exc
    finally:
        _LIMITS.reset(token)


def _from_status(response: httpx2.Response | None) -> Exception:
    status = response.status_code if response is not None else 0
    if status == 429 and response is not None:
        return up.rate_limited(SERVICE, up.retry_after_seconds(response.headers.get("retry-after")))
    if status in (401, 403):
        return up.UpstreamForbidden(f"{SERVICE} refused access (HTTP {status}): the model may be gated or private, "
                                    "or the token is invalid", code="upstream_gated")
    if status == 404:
        return up.UpstreamNotFound("no such model on Hugging Face")
    return up.UpstreamError(f"{SERVICE} failed (HTTP {status}); try again later")


def api(settings: Settings) -> HfApi:
    return HfApi(endpoint=settings.hf_endpoint.rstrip("/"), token=settings.hf_token or False,
                 library_name="modelmate", library_version=__version__)


def fetch(settings: Settings, repo_id: str) -> dict[str, Any]:
    """``model_info`` of ``repo_id`` mapped to our fields, plus the first paragraph of its model card."""
    with _limited(settings, settings.autofill_max_bytes):
        info = api(settings).model_info(repo_id, timeout=settings.autofill_timeout_s, files_metadata=False,
                                        token=settings.hf_token or False)
    readme = None
    if any(s.rfilename == "README.md" for s in (info.siblings or [])):
        readme = _readme(settings, info.id, info.sha or "main")
    return to_fields(settings, info, readme)


def _readme(settings: Settings, repo_id: str, revision: str) -> str | None:
    """The model card's text (capped), or None when it cannot be read: it only adds a description."""
    url = f"{settings.hf_endpoint.rstrip('/')}/{repo_id}/raw/{revision}/README.md"
    try:
        with _limited(settings, min(settings.autofill_max_bytes, README_MAX_BYTES)) as client:
            r = client.get(url, headers=build_hf_headers(token=settings.hf_token or False, library_name="modelmate"),
                           timeout=settings.autofill_timeout_s)
            if r.status_code != 200:
                return None
            return r.text
    except up.AppError:
        return None


# --- mapping -------------------------------------------------------------------------------------------------

PIPELINE_TYPES = {
    "text-generation": "LLM", "text2text-generation": "LLM", "conversational": "LLM", "summarization": "LLM",
    "translation": "LLM", "question-answering": "LLM", "fill-mask": "LLM", "text-classification": "LLM",
    "token-classification": "LLM", "zero-shot-classification": "LLM",
    "feature-extraction": "Embedding", "sentence-similarity": "Embedding",
    "automatic-speech-recognition": "Audio", "text-to-speech": "Audio", "text-to-audio": "Audio",
    "audio-classification": "Audio", "audio-to-audio": "Audio", "voice-activity-detection": "Audio",
    "image-text-to-text": "Multimodal", "visual-question-answering": "Multimodal",
    "document-question-answering": "Multimodal", "video-text-to-text": "Multimodal", "any-to-any": "Multimodal",
    "image-to-text": "Multimodal", "text-to-image": "Vision", "text-to-video": "Vision",
    "object-detection": "Vision", "depth-estimation": "Vision", "zero-shot-image-classification": "Vision",
    "mask-generation": "Vision", "unconditional-image-generation": "Vision", "video-classification": "Vision",
}
NOISE_TAGS = {"safetensors", "pytorch", "endpoints_compatible", "autotrain_compatible", "text-generation-inference",
              "region:us", "model-index", "custom_code", "deploy:azure", "tf", "jax", "gguf", "onnx"}
MAX_TAGS = 10


def model_type(pipeline_tag: str | None, tags: list[str]) -> str | None:
    if pipeline_tag:
        if pipeline_tag in PIPELINE_TYPES:
            return PIPELINE_TYPES[pipeline_tag]
        if pipeline_tag.startswith(("image-", "video-")):
            return "Vision"
        if pipeline_tag.startswith("audio") or "speech" in pipeline_tag:
            return "Audio"
    for t in tags:
        if t in PIPELINE_TYPES:
            return PIPELINE_TYPES[t]
    return None


def _license(card: Any, tags: list[str]) -> str | None:
    value = card.get("license") if card is not None else None
    if isinstance(value, list):
        value = value[0] if value else None
    if value == "other" and card is not None and card.get("license_name"):
        value = card.get("license_name")
    if not value:
        value = next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)
    return str(value)[:100] if value else None


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value)[:200] if value else None


_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.S)


def card_summary(readme: str | None, limit: int = 1000) -> str | None:
    """The first paragraph of prose in a model card (front matter, headings, badges, HTML, tables skipped)."""
    if not readme:
        return None
    text = _FRONT_MATTER.sub("", readme.replace("\r\n", "\n"), count=1)
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith(("#", "<", "|", "!", "[!", "```", ">", "-->"))]
        para = " ".join(lines)
        para = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", para)  # images
        para = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", para)  # links → their text
        para = re.sub(r"[*_`]{1,3}", "", para).strip()
        if len(para) >= 40 and any(c.isalpha() for c in para):
            return para[:limit].rstrip() + ("…" if len(para) > limit else "")
    return None


def to_fields(settings: Settings, info: Any, readme: str | None) -> dict[str, Any]:
    tags = list(info.tags or [])
    card = info.card_data
    repo_id = info.id
    org, _, name = repo_id.rpartition("/")
    total = getattr(info.safetensors, "total", None) if info.safetensors else None
    keep = [t for t in tags if ":" not in t and t not in NOISE_TAGS and len(t) <= 64]
    if info.pipeline_tag and info.pipeline_tag not in keep:
        keep.insert(0, info.pipeline_tag)
    fields = {
        "name": name[:200], "developer": (info.author or org or None),
        "model_type": model_type(info.pipeline_tag, tags),
        "parameters": int(total) if isinstance(total, int) and total >= 0 else None,
        "license": _license(card, tags), "version": None, "description": card_summary(readme),
        "source_links": [f"{settings.hf_endpoint.rstrip('/')}/{repo_id}"], "hf_repo_id": repo_id,
        "github_repo": None, "tags": keep[:MAX_TAGS],
    }
    extra = {
        "downloads": info.downloads, "likes": info.likes, "stars": None, "library": info.library_name,
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
        "base_model": _first(card.get("base_model")) if card is not None else None,
        "pipeline_tag": info.pipeline_tag, "homepage": None, "gated": bool(info.gated) if info.gated else False,
        "sha": info.sha,
    }
    return {"source": "huggingface", "id": repo_id, "fields": fields, "extra": extra}
