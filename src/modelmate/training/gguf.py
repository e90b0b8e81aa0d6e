"""Import a GGUF file (llama.cpp's format) as a safetensors model directory ModelMate can fine-tune and evaluate.

:func:`inspect_gguf` reads only the header (the ``gguf`` package memory-maps the file): it refuses files that are not
GGUF, are cut short, or hold an architecture we cannot train (transformers must be able to dequantize it, and the
result must be one of our supported architectures). :func:`convert_gguf` then lets transformers dequantize the
weights and rebuild the tokenizer and chat template from the GGUF metadata, copies the weights into a plain model of
the same class (a GGUF-loaded model refuses ``save_pretrained``), and writes safetensors, the tokenizer, a model
card that states where the weights came from, and ``modelmate_import.json`` (provenance: source file name, size and
sha256, quantization type, tensor types, stored dtype). Quantized sources are stored as bfloat16: the dequantized
values of a 4- or 8-bit file need no more, and the card says the weights are the quantized model's, not the
original release's. Everything is written to a temporary directory first and renamed into place, so a failed import
leaves nothing behind.

Nothing here executes code from the file: GGUF holds tensors and metadata only, and the chat template is only ever
rendered by transformers' sandboxed Jinja environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelmate.storage.private import private_dir, tighten_tree

IMPORT_MARKER = "modelmate_import.json"
GGUF_MAGIC = b"GGUF"
# GGUF architecture -> the transformers class it becomes (the architectures ModelMate fine-tunes)
ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "phi3": "Phi3ForCausalLM"}
FLOAT_TYPES = {"F32", "F16", "BF16", "F64"}

Progress = Callable[[dict], None]


class GGUFImportError(ValueError):
    """A file that cannot be imported: not GGUF, truncated, or an architecture we do not support."""


@dataclass
class GGUFInfo:
    """What the header of a GGUF file says."""

    file_name: str
    size_bytes: int
    architecture: str  # GGUF name: llama, qwen2...
    model_class: str  # transformers class: LlamaForCausalLM...
    name: str | None
    file_type: str  # llama.cpp's file type, e.g. MOSTLY_Q4_1
    quantization: str  # the dominant tensor type, e.g. Q4_1 (F16/F32 for unquantized files)
    tensor_types: dict[str, int]
    quantized: bool
    context_length: int | None
    license: str | None
    tensors: int
    sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_file(path: Path, on_progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    done = 0
    last = 0.0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(8 << 20), b""):
            digest.update(block)
            done += len(block)
            now = time.monotonic()
            if on_progress and (now - last >= 0.5 or done == size):
                last = now
                on_progress({"type": "hash", "done": done, "total": size})
    return digest.hexdigest()


def _field(reader: Any, name: str) -> Any:
    entry = reader.get_field(name)
    if entry is None:
        return None
    try:
        return entry.contents()
    except (ValueError, IndexError, TypeError):
        return None


def inspect_gguf(path: Path, *, display_name: str | None = None) -> GGUFInfo:
    """Validate a GGUF file's header and describe it; raises :class:`GGUFImportError` with a plain message.

    ``display_name`` is the file's name as its owner knows it (an upload is stored under a generated name): the
    messages and the recorded provenance use it instead of the name on disk."""
    import gguf

    path = Path(path)
    shown = display_name or path.name
    if not path.is_file():
        raise GGUFImportError(f"{display_name or path} is not a file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise GGUFImportError(f"{shown} is not a GGUF file (it does not start with the GGUF signature)")
    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError, IndexError, KeyError, TypeError) as exc:
        raise GGUFImportError(f"{shown} is truncated or corrupt: its header or tensor table could not be read "
                              f"({type(exc).__name__})") from None
    end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    if not reader.tensors or end > size:
        raise GGUFImportError(f"{shown} is truncated: its tensors need {end:,} bytes but the file has {size:,}")
    arch = str(_field(reader, "general.architecture") or "")
    if arch not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise GGUFImportError(f"{shown} holds a {arch or 'unnamed'!r} model; ModelMate can import {known}")
    counts = Counter(t.tensor_type.name for t in reader.tensors)
    quantized_types = Counter({k: v for k, v in counts.items() if k not in FLOAT_TYPES})
    dominant = (quantized_types or counts).most_common(1)[0][0]
    file_type = _field(reader, "general.file_type")
    try:
        file_type_name = gguf.LlamaFileType(int(file_type)).name if file_type is not None else dominant
    except ValueError:
        file_type_name = str(file_type)
    context = _field(reader, f"{arch}.context_length")
    return GGUFInfo(
        file_name=shown, size_bytes=size, architecture=arch, model_class=ARCHITECTURES[arch],
        name=_field(reader, "general.name"), file_type=file_type_name, quantization=dominant,
        tensor_types=dict(counts), quantized=bool(quantized_types),
        context_length=int(context) if isinstance(context, int) else None,
        license=_field(reader, "general.license"), tensors=len(reader.tensors))


def _model_card(name: str, info: GGUFInfo, dtype: str) -> str:
    license_ = info.license or "other"
    stored = (f"The file is quantized ({info.quantization}); its dequantized weights are stored here as {dtype}. "
              "This is the quantized model, not the original full-precision release: expect small differences "
              "from the scores published for the original." if info.quantized else
              f"The file holds unquantized {info.quantization} weights, stored here as {dtype}.")
    return f"""---
license: {license_}
library_name: transformers
pipeline_tag: text-generation
tags:
- modelmate
- gguf-import
---

# {name}

Imported by ModelMate from the GGUF file `{info.file_name}` ({info.size_bytes:,} bytes,
sha256 `{info.sha256}`), a {info.architecture} model{f" named {info.name!r}" if info.name else ""}.

{stored}

The tokenizer and chat template were rebuilt from the file's metadata by transformers.
"""


def convert_gguf(path: Path, out_dir: Path, *, name: str, on_progress: Progress | None = None,
                 info: GGUFInfo | None = None) -> GGUFInfo:
    """Convert ``path`` into a model directory ``out_dir`` (safetensors, tokenizer, card, provenance marker).

    ``out_dir`` must not exist, or be an earlier import (it is replaced only after the new one is complete).
    ``on_progress`` receives ``{"type": "stage", "stage", "message"}`` and ``{"type": "hash", "done", "total"}``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    def stage(key: str, message: str) -> None:
        if on_progress:
            on_progress({"type": "stage", "stage": key, "message": message})

    path, out_dir = Path(path).resolve(), Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / IMPORT_MARKER).is_file():
        raise GGUFImportError(f"{out_dir} exists and is not a model imported by ModelMate; refusing to replace it")
    stage("inspect", f"reading the header of {info.file_name if info else path.name}")
    info = info or inspect_gguf(path)
    shown = info.file_name
    stage("hash", f"checksumming {shown} ({info.size_bytes / 2**20:,.0f} MiB)")
    info.sha256 = sha256_file(path, on_progress)
    dtype = torch.bfloat16 if info.quantized else (torch.float16 if info.quantization == "F16" else torch.float32)
    dtype_name = str(dtype).removeprefix("torch.")
    stage("dequantize", f"dequantizing {info.tensors} tensors ({info.quantization}) with transformers")
    started = time.monotonic()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its notes about packed-weight kernels do not apply: we dequantize
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, trust_remote_code=False)
        loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype,
                                                      trust_remote_code=False)
    except (ValueError, KeyError, RuntimeError, OSError, TypeError, NotImplementedError) as exc:
        raise GGUFImportError(f"transformers could not load {shown}: {type(exc).__name__}: {exc}"[:1000]) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    if type(loaded).__name__ != info.model_class:
        raise GGUFImportError(f"{shown} loaded as {type(loaded).__name__}, expected {info.model_class}")
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [info.model_class]
    config.name_or_path = name
    if hasattr(config, "_model_name_or_path"):
        config._model_name_or_path = name
    config.use_cache = True
    stage("rebuild", "copying the weights into a plain model")
    with torch.device("meta"):
        plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict(), assign=True, strict=True)
    plain.tie_weights()
    if any(not p.is_floating_point() or p.is_meta for p in plain.parameters()):
        raise GGUFImportError(f"transformers kept the weights of {shown} packed instead of dequantizing them")
    plain.to(dtype)  # type: ignore[arg-type]  # transformers types the wrapped .to() as taking only a model
    plain.generation_config = loaded.generation_config
    del loaded
    parameters = sum(p.numel() for p in plain.parameters())
    if info.context_length:
        tokenizer.model_max_length = info.context_length
    private_dir(out_dir.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))  # 0700
    try:
        stage("save", f"writing safetensors ({dtype_name}) and the tokenizer")
        plain.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "README.md").write_text(_model_card(name, info, dtype_name), encoding="utf-8")
        marker = {"format": "gguf", "name": name, "source": info.as_dict(), "stored_dtype": dtype_name,
                  "parameters": parameters, "seconds": round(time.monotonic() - started, 1),
                  "created_by": "modelmate models add-gguf"}
        (tmp / IMPORT_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        tighten_tree(tmp)  # private files (0600) whatever the umask
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stage("done", f"imported {name}: {parameters:,} parameters in {out_dir}")
    return info


def read_marker(model_dir: Path) -> dict[str, Any] | None:
    """The provenance of an imported model directory (None when it is not one, or incomplete)."""
    marker = Path(model_dir) / IMPORT_MARKER
    if not marker.is_file() or not (Path(model_dir) / "config.json").is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
