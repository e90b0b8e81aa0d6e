"""NTREX-128 loading (no Hugging Face counterpart in lm-eval) and BLEU for languages without spaces."""

from pathlib import Path

import datasets
import sacrebleu

from modelmate.evaluation.mirror import read_text_lines

NTREX_REPO = "MicrosoftTranslator/NTREX"
NTREX_COMMIT = "8561f6a622db9edad1217683e5c83daefd8bb2bf"
NTREX_BASE_URL = f"https://raw.githubusercontent.com/{NTREX_REPO}/{NTREX_COMMIT}/NTREX-128"


def _fetch(base: str, name: str) -> Path:
    if "://" not in base:
        return Path(base) / name
    return Path(datasets.DownloadManager().download(f"{base}/{name}"))


def load_ntrex(language: str, base_url: str = NTREX_BASE_URL, **_kwargs) -> datasets.DatasetDict:
    """English source + one language's reference, line-aligned, as a ``test`` split (``id``, ``source``, ``target``).

    ``base_url``: the release's ``NTREX-128`` folder, a URL (default: GitHub at a pinned commit) or a local path.
    """
    source = read_text_lines(_fetch(base_url, "newstest2019-src.eng.txt"))
    target = read_text_lines(_fetch(base_url, f"newstest2019-ref.{language}.txt"))
    if len(source) != len(target):
        raise ValueError(f"NTREX {language}: {len(source)} source lines but {len(target)} reference lines")
    rows = {"id": list(range(len(source))), "source": source, "target": target}
    return datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)})


def _corpus_bleu(items, tokenize: str) -> float:
    refs = [ref for ref, _ in items]
    preds = [pred[0] if isinstance(pred, (list, tuple)) else pred for _, pred in items]
    return sacrebleu.corpus_bleu(preds, [refs], tokenize=tokenize).score


def bleu_zh(items) -> float:
    """Corpus BLEU with sacrebleu's Chinese tokenizer."""
    return _corpus_bleu(items, "zh")


def bleu_char(items) -> float:
    """Corpus BLEU on characters (Japanese; sacrebleu's MeCab tokenizer is not installed)."""
    return _corpus_bleu(items, "char")
