"""What a finished run leaves behind: the LoRA adapter, the tokenizer (with its chat template) and a model card.

The card is the Hugging Face ``README.md`` convention: YAML front matter (``base_model``, ``base_model_relation:
adapter``, ``library_name: peft``, ``datasets``, ``license``, ``tags``) and a human-readable body with the
configuration, the final losses and the outcome. Only safetensors are written (no pickle).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from modelmate.storage.private import private_dir, tighten_tree

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
BASE_TAGS = ("modelmate", "lora")
CARD_CONFIG_KEYS = ("method", "r", "alpha", "dropout", "use_dora", "use_rslora", "target_modules", "learning_rate",
                    "lr_scheduler", "warmup_ratio", "epochs", "max_steps", "batch_size",
                    "gradient_accumulation_steps", "max_seq_length", "packing", "precision", "seed", "eval_split",
                    "early_stopping_patience", "max_grad_norm", "weight_decay", "quantization",
                    "gradient_checkpointing", "attention", "optimizer")


def _yaml_scalar(value: Any) -> str:
    """A YAML scalar that is always read back as the same string/number/bool (JSON strings are valid YAML)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def card_tags(card: dict) -> list[str]:
    tags = list(BASE_TAGS)
    if card.get("toy"):
        tags.append("toy")
    tags.extend(str(t) for t in card.get("tags") or [])
    return list(dict.fromkeys(t.strip() for t in tags if str(t).strip()))


def front_matter(card: dict) -> dict:
    """The YAML metadata of the card, as a dict (the exact values written)."""
    return {
        "base_model": card.get("base_model") or "unknown",
        "base_model_relation": "adapter",
        "library_name": "peft",
        "license": card.get("license") or "other",
        "datasets": [str(d) for d in card.get("datasets") or []],
        "tags": card_tags(card),
        "pipeline_tag": "text-generation",
    }


def _yaml(meta: dict) -> str:
    lines = []
    for key, value in meta.items():
        if isinstance(value, list):
            if not value:
                lines.append(f"{key}: []")
                continue
            lines.append(f"{key}:")
            lines.extend(f"- {_yaml_scalar(v)}" for v in value)
        else:
            lines.append(f"{key}: {_yaml_scalar(value)}")
    return "\n".join(lines)


def _md_cell(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | dict | bool) or value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _fmt_loss(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "—"


def render_model_card(card: dict) -> str:
    """``card`` keys: name, base_model, datasets, license, tags, description, toy, and optionally config (dict),
    outcome, failure_category, message, steps, total_steps, final_loss, final_eval_loss, train_tokens,
    tokens_per_second, environment."""
    meta = front_matter(card)
    name = card.get("name") or "Fine-tuned adapter"
    body = [f"# {name}", ""]
    if card.get("toy"):
        body += ["> **TOY MODEL.** This adapter was trained on ModelMate's toy `tiny` base model. It shows the "
                 "pipeline working; it is not a useful language model.", ""]
    if card.get("description"):
        body += [str(card["description"]), ""]
    body += [f"A LoRA adapter for `{meta['base_model']}`, trained with ModelMate (transformers + PEFT).", "",
             "## Results", "", "| | |", "|---|---|"]
    outcome = card.get("outcome")
    if outcome:
        label = outcome + (f" ({card['failure_category']})" if card.get("failure_category") else "")
        body.append(f"| Outcome | {_md_cell(label)} |")
    if card.get("steps") is not None:
        body.append(f"| Steps | {card['steps']}" + (f" of {card['total_steps']}" if card.get("total_steps") else "")
                    + " |")
    body.append(f"| Final training loss | {_fmt_loss(card.get('final_loss'))} |")
    body.append(f"| Final held-out loss | {_fmt_loss(card.get('final_eval_loss'))} |")
    if card.get("train_tokens") is not None:
        body.append(f"| Tokens trained | {card['train_tokens']:,} |")
    if card.get("tokens_per_second"):
        body.append(f"| Throughput | {card['tokens_per_second']:,.0f} tokens/s |")
    if card.get("message"):
        body += ["", str(card["message"])]
    config = card.get("config") or {}
    if config:
        body += ["", "## Training configuration", "", "| Setting | Value |", "|---|---|"]
        body += [f"| `{key}` | {_md_cell(config[key])} |" for key in CARD_CONFIG_KEYS if key in config]
    if meta["datasets"]:
        body += ["", "## Data", ""] + [f"- `{d}`" for d in meta["datasets"]]
    env = card.get("environment") or {}
    if env:
        versions = ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items() if v)
        body += ["", "## Environment", "", f"Device: {env.get('device', '?')}; Python {env.get('python', '?')}; "
                 f"{versions}."]
    body += ["", "## Use", "", "```python", "from peft import PeftModel",
             "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
             f"base = AutoModelForCausalLM.from_pretrained({json.dumps(meta['base_model'])})",
             "model = PeftModel.from_pretrained(base, \"path/to/this/adapter\")",
             "tokenizer = AutoTokenizer.from_pretrained(\"path/to/this/adapter\")", "```", ""]
    return f"---\n{_yaml(meta)}\n---\n\n" + "\n".join(body)


def write_model_card(out_dir: Path, card: dict) -> None:
    out_dir = private_dir(Path(out_dir))
    (out_dir / "README.md").write_text(render_model_card(card), encoding="utf-8")


def save_adapter(model, tokenizer, out_dir: Path, card: dict) -> list[str]:
    """Write adapter (safetensors), tokenizer and model card into ``out_dir`` atomically; returns the file names.

    Everything is written into a temp directory next to ``out_dir`` and renamed into place, so ``out_dir`` is
    either absent, the previous complete version, or the new complete version. ``adapter_config.json`` records
    ``card['base_model']`` (an id or name) as the base rather than a path on this machine.
    """
    out_dir = Path(out_dir)
    private_dir(out_dir.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))  # 0700
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        config_path = tmp / "adapter_config.json"
        adapter_config = json.loads(config_path.read_text(encoding="utf-8"))
        if card.get("base_model"):
            adapter_config["base_model_name_or_path"] = str(card["base_model"])
        config_path.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tokenizer.save_pretrained(str(tmp))
        write_model_card(tmp, card)
        missing = [name for name in ADAPTER_FILES if not (tmp / name).is_file()]
        if missing:
            raise RuntimeError(f"the adapter was not written completely (missing {', '.join(missing)})")
        tighten_tree(tmp)  # the libraries' files get the umask's mode: private (0600) whatever it is
        if out_dir.exists():
            trash = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            os.rename(out_dir, trash)
            os.rename(tmp, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(p.name for p in out_dir.iterdir() if p.is_file())
