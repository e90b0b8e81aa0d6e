"""Search quality on the demo catalog: recall@5 of keyword, semantic and hybrid search for paraphrased queries.

Seeds the demo log (``modelmate.demo``) into a fresh SQLite database (or ``--database-url``), embeds every
entry with the real model, then runs each labelled query through the real search service in each mode.
recall@5 of a query = |expected ∩ top 5| / |expected|; the report is the mean over queries.
Exit status 1 when hybrid does not beat keyword.

    .venv/bin/python benchmarks/search_quality.py [--database-url URL] [--verbose]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# (query, expected entry names) — paraphrases: they mostly avoid the words of the entries they should find.
LABELLED: list[tuple[str, set[str]]] = [
    ("small model from Microsoft for phones", {"Phi-3 Mini 4K Instruct", "Phi-3.5 Mini Instruct"}),
    ("transcribe spoken audio into text", {"Whisper large-v3", "wav2vec 2.0 Base (960h)"}),
    ("generate pictures from a text prompt", {"Stable Diffusion XL Base 1.0", "FLUX.1 [schnell]"}),
    ("compose songs from a description", {"MusicGen Medium"}),
    ("make a voice read my text aloud", {"Bark"}),
    ("find objects and draw boxes around them in real time", {"YOLOv8n", "DETR ResNet-50"}),
    ("cut out objects in a photo with masks", {"Segment Anything (SAM) ViT-H"}),
    ("turn sentences into vectors for retrieval",
     {"all-MiniLM-L6-v2", "BGE Large EN v1.5", "E5 Large v2", "nomic-embed-text-v1.5"}),
    ("autocomplete code in my editor",
     {"Qwen2.5-Coder 7B Instruct", "StarCoder2 15B", "DeepSeek-Coder 6.7B Instruct"}),
    ("thinks step by step, trained with reinforcement learning", {"DeepSeek-R1"}),
    ("sparse experts that route each token", {"Mixtral 8x7B Instruct v0.1", "DeepSeek-V3"}),
    ("assistant that can look at images and answer questions",
     {"LLaVA 1.5 7B", "Qwen2-VL 7B Instruct", "Idefics2 8B", "PaliGemma 3B (pt-224)"}),
    ("read the text in scanned documents", {"Qwen2-VL 7B Instruct"}),
    ("fully open model with its training data published", {"OLMo 2 7B Instruct"}),
    ("closed OpenAI model that takes images and sound", {"GPT-4o"}),
    ("Anthropic assistant that is good at programming", {"Claude 3.5 Sonnet"}),
    ("context window of millions of tokens", {"Gemini 1.5 Pro"}),
    ("tiny model for speculative decoding experiments", {"Qwen2.5 0.5B Instruct"}),
    ("Meta's biggest open weights model", {"Llama 3.1 405B Instruct"}),
    ("classify pictures by splitting them into patches", {"ViT-Base/16 (224)"}),
    ("zero-shot image classification with captions", {"CLIP ViT-L/14"}),
    ("image features learned without labels", {"DINOv2 ViT-L/14", "CLIP ViT-L/14"}),
    ("model from the Abu Dhabi institute trained on web text", {"Falcon 7B Instruct"}),
    ("Google's compact model for laptops", {"Gemma 2 2B IT"}),
    ("Alibaba chat model good at JSON and many languages", {"Qwen2.5 7B Instruct"}),
    ("image generation in just a few steps", {"FLUX.1 [schnell]"}),
    ("embeddings you can shorten without retraining", {"nomic-embed-text-v1.5"}),
    ("local chat model for RAG over my documents", {"Llama 3.1 8B Instruct"}),
    ("smallest Llama for edge devices", {"Llama 3.2 1B Instruct", "Llama 3.2 3B Instruct"}),
    ("vision language model from Google meant to be fine-tuned", {"PaliGemma 3B (pt-224)"}),
    ("English speech recognition trained on audiobooks", {"wav2vec 2.0 Base (960h)"}),
    ("trained in 8-bit floating point", {"DeepSeek-V3"}),
    ("open code model trained on The Stack", {"StarCoder2 15B"}),
    ("Hugging Face model mixing several images and text", {"Idefics2 8B"}),
    ("Whisper", {"Whisper large-v3"}),  # exact names must keep working
    ("mixtral", {"Mixtral 8x7B Instruct v0.1"}),
]
K = 5
MODES = ("keyword", "semantic", "hybrid")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every query's misses")
    args = ap.parse_args()

    from modelmate.accounts.service import ensure_local_user
    from modelmate.db import migrate
    from modelmate.db.engine import Database
    from modelmate.demo.seed import seed_log
    from modelmate.search import service as search
    from modelmate.search.schemas import SearchMode
    from modelmate.semantic import service as semantic

    tmp = tempfile.TemporaryDirectory()
    db = Database(args.database_url or f"sqlite:///{Path(tmp.name) / 'quality.db'}")
    migrate.upgrade(db)
    with db.session() as session:
        user = ensure_local_user(session)
        seed_log(session, user)
        user_id = user.id
    t0 = time.perf_counter()
    report = semantic.embed_all(db, owner_id=user_id, force=True)
    print(f"embedded {report.embedded} demo entries in {time.perf_counter() - t0:.1f} s")

    totals = dict.fromkeys(MODES, 0.0)
    with db.session() as session:
        from sqlalchemy import select

        from modelmate.models import Entry, User

        user = session.get(User, user_id)
        names_known = {e.model.name for e in session.scalars(select(Entry).where(Entry.owner_id == user_id))}
        for q, expected in LABELLED:
            unknown = expected - names_known
            assert not unknown, f"labels not in the demo catalog: {unknown}"
            line = []
            for mode in MODES:
                hits = [h.entry.name for h in search.search(session, user, q, mode=SearchMode(mode), limit=K).items]
                recall = len(expected & set(hits)) / len(expected)
                totals[mode] += recall
                line.append(f"{mode[0]}={recall:.2f}")
                if args.verbose and recall < 1:
                    print(f"  {mode:8} miss {q!r}: got {hits[:K]}")
            if args.verbose:
                print(f"{q!r}: {' '.join(line)}")
    db.dispose()
    n = len(LABELLED)
    print(f"\n{n} labelled queries over the demo catalog; recall@{K}:")
    for mode in MODES:
        print(f"  {mode:8} {totals[mode] / n:.3f}")
    if totals["hybrid"] <= totals["keyword"]:
        print("FAIL: hybrid does not beat keyword")
        return 1
    print(f"hybrid beats keyword by {(totals['hybrid'] - totals['keyword']) / n:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
