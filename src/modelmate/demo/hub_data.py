"""The hub demo's datasets: grade-school math from the GSM8K **train** split, and long emails for a failing run.

GSM8K (Cobbe et al. 2021, MIT) is read from the local benchmark mirror (``<benchmark data dir>/gsm8k/train.jsonl``)
or, without one, from the Hugging Face dataset ``openai/gsm8k`` (``main``). Only the train split is ever used for
training data, and that is checked, not assumed: every question of the test split is normalised (the contamination
check's :func:`modelmate.contamination.normalise.normalise`) and a train row whose question matches one is dropped;
tests/contamination/test_planted.py runs the full contamination check on both sets and finds them clean. The rows
are a fixed, seeded sample, so every install trains on the same examples.

Two sets come from disjoint train rows: *worked solutions* (the reference answer with its calculator annotations
``<<48/2=24>>`` removed, ending in GSM8K's ``#### 72`` line) and *answer only* (``The answer is 72.``), a format
change for the fork.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from modelmate.contamination.normalise import normalise

WORKED_NAME = "Grade-school math, worked solutions (demo)"
ANSWER_ONLY_NAME = "Grade-school math, answer only (demo)"
SEED = 2026
WORKED_ROWS = 400
ANSWER_ONLY_ROWS = 240
_ANNOTATION = re.compile(r"<<[^<>]*>>")
_FINAL = re.compile(r"####\s*(.+?)\s*$")

APP = "Inkwell"  # a made-up note-taking app: the long emails are about it
_EMAIL_QUESTIONS = [
    "How do I reset my password?", "How can I export my notes?", "Can I share a notebook with a colleague?",
    "Where do deleted notes go?", "How do I change the app's theme?", "Why is sync not working?",
    "How do I add a tag to a note?", "Can I use the app offline?", "How do I cancel my subscription?",
    "How do I get an invoice?", "Can I import notes from another app?", "How do I lock a note?",
]
_EMAIL_ANSWERS = [
    "Open Settings, choose Account, then Reset password.", "Open the notebook, choose Export.",
    "Yes: choose Share and enter their email.", "To the Trash, for 30 days.", "Settings, then Appearance.",
    "Check you are online, then choose Sync now.", "Type # and the tag's name.", "Yes, notes sync later.",
    "Settings, then Billing, then Cancel plan.", "Settings, then Billing.", "Choose Import from the File menu.",
    "Choose the lock icon and set a password.",
]
_EMAIL = ("Hello team, I have been using {app} every day for about two years now, mostly for meeting notes and for "
          "planning my week, and until recently everything worked really well on both my laptop and my phone. "
          "Since last week, though, something has changed and I am not sure whether it is me or the app. {q} "
          "Thanks a lot in advance, and sorry for the long message.")


class DemoDataMissing(RuntimeError):
    """GSM8K is neither in the local mirror nor reachable on the Hugging Face Hub."""


@dataclass(frozen=True)
class DemoDataset:
    name: str
    description: str
    body: bytes
    domain: str
    license: str


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_gsm8k(data_dir: Path | None) -> tuple[list[dict], set[str], str]:
    """(train rows, normalised test questions, where they came from)."""
    if data_dir is not None and (Path(data_dir) / "gsm8k" / "train.jsonl").is_file():
        folder = Path(data_dir) / "gsm8k"
        return (_read_jsonl(folder / "train.jsonl"), {normalise(r["question"]) for r in _read_jsonl(
            folder / "test.jsonl")}, f"the local benchmark mirror ({folder})")
    try:
        from datasets import load_dataset

        train = [dict(r) for r in load_dataset("openai/gsm8k", "main", split="train")]
        test = {normalise(r["question"]) for r in load_dataset("openai/gsm8k", "main", split="test")}
    except Exception as exc:  # noqa: BLE001 - offline, or the Hub is down: say so, the demo skips math
        raise DemoDataMissing(f"GSM8K is not in a local benchmark mirror and could not be downloaded: {exc}") from exc
    return train, test, "the Hugging Face dataset openai/gsm8k (main)"


def worked_solution(answer: str) -> str:
    return _ANNOTATION.sub("", answer).strip()


def final_answer(answer: str) -> str:
    match = _FINAL.search(answer.strip().splitlines()[-1]) if answer.strip() else None
    if match is None:
        raise ValueError("a GSM8K answer without its '#### <number>' line")
    return match.group(1)


def _chats(pairs: list[tuple[str, str]]) -> bytes:
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in pairs]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def math_datasets(data_dir: Path | None) -> tuple[DemoDataset, DemoDataset]:
    """The worked-solutions and answer-only sets, from disjoint, seeded samples of GSM8K train rows that are not
    test questions."""
    train, test_questions, origin = load_gsm8k(data_dir)
    clean = [r for r in train if normalise(r["question"]) not in test_questions]
    rng = random.Random(SEED)
    order = list(range(len(clean)))
    rng.shuffle(order)
    worked = [clean[i] for i in order[:WORKED_ROWS]]
    short = [clean[i] for i in order[WORKED_ROWS:WORKED_ROWS + ANSWER_ONLY_ROWS]]
    note = (f"From the GSM8K train split (MIT), read from {origin}; {len(train) - len(clean)} train questions that "
            "also appear in the test split were excluded, so no benchmark test item is in it.")
    return (
        DemoDataset(WORKED_NAME,
                    f"{len(worked)} word problems, each with its worked solution ending in '#### <answer>'. " + note,
                    _chats([(r["question"], worked_solution(r["answer"])) for r in worked]), "math", "MIT"),
        DemoDataset(ANSWER_ONLY_NAME,
                    f"{len(short)} other word problems answered in one sentence ('The answer is 72.'). " + note,
                    _chats([(r["question"], f"The answer is {final_answer(r['answer'])}.") for r in short]),
                    "math", "MIT"),
    )


EMAILS = DemoDataset(
    "Long customer emails (demo)",
    f"Long emails to the support team of {APP}, a made-up note-taking app, with short answers: the answer starts "
    "far into each conversation.",
    _chats([(_EMAIL.format(app=APP, q=q), a) for q, a in zip(_EMAIL_QUESTIONS, _EMAIL_ANSWERS, strict=True)]),
    "support", "CC0-1.0")
