"""Text normalisation, words and hashed n-grams: the one definition the index and the check (and the demo's GSM8K
test-question filter) share.

:func:`normalise`: Unicode NFKC, lower case, GSM8K-style calculator annotations (``<<48/2=24>>``) and chat-template
special tokens (``<|im_start|>``, ``[INST]``, ``</s>``) removed, every
punctuation mark, symbol and control character turned into a space, each CJK ideograph / kana its own word (those
scripts do not separate words with spaces), whitespace collapsed. Numbers are kept (``1,000`` becomes ``1 000``).
:func:`words` also drops one-letter ASCII words, so ``(A) Paris`` and ``Paris`` and an article ``a`` never break an
n-gram: multiple-choice labels, list markers and single-letter variable names are formatting, not content.

Words are hashed to 64 bits with blake2b (stable across processes, unlike ``hash``), and n-grams are a polynomial
rolling combination of the word hashes computed in numpy (:func:`ngram_hashes`), finished with the splitmix64
mixer. Changing anything here changes :data:`NORMALISATION_VERSION`, which is part of the index version.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Sequence

import numpy as np

NORMALISATION_VERSION = "1"

_ANNOTATION = re.compile(r"<<[^<>\n]*>>")
_MARKUP = re.compile(r"<\|[^<>|\n]{0,40}\|>|\[/?inst\]|</?s>|<<sys>>|<</sys>>")  # chat-template special tokens
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


def _table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(sys.maxunicode + 1):
        cat = unicodedata.category(chr(code))
        if cat[0] in "PSC" or cat in ("Zl", "Zp"):
            table[code] = " "
    for lo, hi in _CJK_RANGES:
        for code in range(lo, hi + 1):
            if unicodedata.category(chr(code))[0] == "L":
                table[code] = f" {chr(code)} "
    # Kept as marks that str.split() and regex \s treat as whitespace: line ends, question marks, sentence ends
    table[ord("\n")] = "\n"
    table[ord("?")] = QUESTION_MARK
    for mark in ".!":
        table[ord(mark)] = SENTENCE_MARK
    return table


QUESTION_MARK = "\x1f"  # ASCII unit separator: whitespace to str.split()
SENTENCE_MARK = "\x1e"  # ASCII record separator: whitespace to str.split()
_TABLE: dict[int, str] = {}  # filled on first use (building it takes ~0.3 s)
_ONE_LETTER = re.compile(r"(?<!\S)[a-z](?!\S)")


def cleaned(text: str) -> str:
    """The normalised text before whitespace is collapsed: line ends kept, question marks as QUESTION_MARK and
    sentence ends as SENTENCE_MARK (both whitespace to ``str.split``). ``" ".join(cleaned(t).split())`` is
    :func:`normalise`; the check uses the marks to find a row's lines and questions with one pass over the text."""
    text = unicodedata.normalize("NFKC", text).lower()
    if "<" in text or "[" in text:
        text = _MARKUP.sub(" ", _ANNOTATION.sub(" ", text))
    if not _TABLE:
        _TABLE.update(_table())
    return _ONE_LETTER.sub(" ", text.translate(_TABLE))


def normalise(text: str) -> str:
    """Lower-cased NFKC text with punctuation, symbols and calculator annotations removed, whitespace collapsed."""
    return " ".join(cleaned(text).split())


def words(text: str) -> list[str]:
    """The words of ``text`` after :func:`normalise`."""
    return normalise(text).split()


class _WordHashes(dict[str, int]):
    """word -> 64-bit blake2b hash, computed once per distinct word."""

    def __missing__(self, word: str) -> int:
        value = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        if len(self) < 2_000_000:  # a bounded cache: a dataset of random strings cannot grow it without end
            self[word] = value
        return value


_WORD_HASHES = _WordHashes()


def word_hashes(tokens: Sequence[str]) -> np.ndarray:
    """uint64 hash of each word."""
    return np.fromiter(map(_WORD_HASHES.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def text_hash(normalised: str) -> int:
    """64-bit hash of a whole normalised text (the exact-question key); never 0."""
    return int.from_bytes(hashlib.blake2b(normalised.encode("utf-8"), digest_size=8,
                                          person=b"mm-question").digest(), "little") or 1


# Function words (NLTK's English list, as normalised words) and single digits: the paraphrase rule compares the
# remaining content words
STOPWORDS = frozenset("""
me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it
its itself they them their theirs themselves what which who whom this that these those am is are was were be been
being have has had having do does did doing an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over under again
further then once here there when where why how all any both each few more most other some such no nor not only
own same so than too very can will just don should now 0 1 2 3 4 5 6 7 8 9
""".split())  # noqa: SIM905 - a word list; + single digits: runs of small numbers (matrices) prove no leak


def content_mask(hashes: np.ndarray) -> np.ndarray:
    """True for the words of ``hashes`` that are not :data:`STOPWORDS`."""
    stop = _stop_hashes()  # sorted; a binary search (np.isin compares with each of the 133 words in turn)
    at = np.minimum(np.searchsorted(stop, hashes), len(stop) - 1)
    return stop[at] != hashes


def _stop_hashes() -> np.ndarray:
    if not _STOP:
        _STOP.append(np.unique(word_hashes(sorted(STOPWORDS))))
    return _STOP[0]


_STOP: list[np.ndarray] = []
_MULT = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64 arithmetic wraps)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """The hash of every run of ``n`` consecutive words (``len - n + 1`` values; empty when shorter than ``n``)."""
    count = len(hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        acc = hashes[:count].copy()
        for j in range(1, n):
            acc *= _MULT
            acc += hashes[j:j + count]
        return _mix(acc + np.uint64(n))


def ngram_rows(row_of_word: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For the n-grams of a run of words from many rows: (start positions of n-grams that lie within one row,
    their row). ``row_of_word`` is non-decreasing."""
    count = len(row_of_word) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=row_of_word.dtype)
    inside = np.flatnonzero(row_of_word[:count] == row_of_word[n - 1:])
    return inside, row_of_word[inside]
