"""Planted contamination: GSM8K and MMLU test items pasted into an otherwise clean dataset, verbatim, reformatted
and paraphrased, and the measurement of what the check finds (recall per variant, precision over all flagged rows).

Shared by tests/contamination/test_planted.py and benchmarks/contamination.py (which prints the table that
docs/contamination.md quotes). Items are the first rows of the test splits, which the fixture subset and the full
mirror have in common.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelmate.contamination.check import check_texts_detailed, record_texts  # noqa: F401 - re-exported
from modelmate.contamination.index import BenchmarkIndex
from modelmate.contamination.normalise import normalise
from modelmate.contamination.report import ContaminationReport

GSM8K_ITEMS = 12
MMLU_SUBJECTS = ("nutrition", "philosophy", "elementary_mathematics", "global_facts")
MMLU_PER_SUBJECT = 3
VERBATIM = ("verbatim", "verbatim_inside_text")
REFORMATTED = ("upper_spacing", "punctuation_markdown", "chat_template", "prompt_completion", "messages_system",
               "question_only_line")
PARAPHRASED = ("synonyms", "sentences_reordered", "synonyms_reordered", "handwritten")

# word -> replacement (numbers are never touched)
_SYNONYMS = {
    "how": "in what way", "many": "a number of", "much": "a lot of", "does": "would", "each": "every", "every": "each",
    "total": "overall", "buys": "purchases", "bought": "purchased", "sells": "sold", "makes": "earns",
    "day": "daily period", "week": "seven-day period", "decides": "chooses", "takes": "needs", "runs": "jogs",
    "which": "what", "following": "listed below", "the": "this", "of": "from", "in": "within", "is": "was",
    "are": "were", "and": "plus", "her": "their", "his": "their", "he": "they", "she": "they", "that": "which",
    "to": "towards", "for": "for the sake of", "with": "alongside", "what": "which", "was": "is",
}

# Handwritten paraphrases of the first items (numbers kept, sentences reworded and reordered).
HANDWRITTEN = {
    ("gsm8k", "test:0"): "Every day Janet's ducks produce 16 eggs. Three of them go into her breakfast and four "
                         "into the muffins she bakes for friends. The rest she sells at the market for $2 each. "
                         "How many dollars does she earn daily? She sells 16 - 3 - 4 = 9 eggs, so 9 * 2 = 18.",
    ("gsm8k", "test:1"): "To make a robe you need 2 bolts of blue fabric and half as much white fabric. What is "
                         "the total number of bolts needed? White is 2/2 = 1 bolt, so 2 + 1 = 3 bolts.",
    ("gsm8k", "test:2"): "Josh buys a house for $80,000 and spends $50,000 fixing it up, which raises its value "
                         "by 150%. What was his profit? Cost 130,000; value rose by 120,000 to 200,000; profit "
                         "70,000.",
    ("gsm8k", "test:3"): "Three times a week James runs 3 sprints of 60 meters each. In a week, how many meters "
                         "is that? 3*3 = 9 sprints, 9*60 = 540 meters.",
    ("mmlu_nutrition", "test:0"): "As of 2020, which kind of food is eaten less in Scotland and Wales? Meat, "
                                  "confectionary, fruit and vegetables, or potatoes?",
    ("mmlu_nutrition", "test:1"): "All else being equal, when does a disease's prevalence in a population go up? "
                                  "When incidence falls, when people survive longer with it, when recovery is "
                                  "quicker, or when the measured population grows?",
    ("mmlu_philosophy", "test:0"): "Aesthetics is concerned with objects that are: essential for our existence, "
                                   "unimportant to most, not essential for our existence, or seldom seen.",
    ("mmlu_philosophy", "test:1"): "Why did Socrates think an unexamined life was a tragedy? Because of the "
                                   "grievous harm it does to the state, the justice system, the body or the soul.",
}


@dataclass(frozen=True)
class Item:
    task: str
    document_id: str
    question: str
    answer: str  # GSM8K: the solution; MMLU: the lettered choices and the answer line
    generic: bool = False  # the question alone is shared by other test items ("Which of the following is true?")


@dataclass(frozen=True)
class Plant:
    item: Item
    variant: str
    record: dict[str, Any]


def items(root: Path) -> list[Item]:
    out = []
    with open(root / "gsm8k/test.jsonl", encoding="utf-8") as fh:
        for number, line in enumerate(fh):
            if number == GSM8K_ITEMS:
                break
            row = json.loads(line)
            out.append(Item("gsm8k", f"test:{number}", row["question"], row["answer"]))
    for subject in MMLU_SUBJECTS:
        with open(root / f"mmlu/test/{subject}_test.csv", encoding="utf-8", newline="") as fh:
            records = list(csv.reader(fh))
        stems = Counter(normalise(rec[0]) for rec in records)
        for number, rec in enumerate(records[:MMLU_PER_SUBJECT]):
            choices = "\n".join(f"{label}. {text}" for label, text in zip("ABCD", rec[1:5], strict=True))
            out.append(Item(f"mmlu_{subject}", f"test:{number}", rec[0].strip(), f"{choices}\nAnswer: {rec[5]}",
                            generic=stems[normalise(rec[0])] > 1))
    return out


def _synonyms(text: str) -> str:
    return re.sub(r"[A-Za-z]+", lambda m: _SYNONYMS.get(m.group(0).lower(), m.group(0)), text)


def _sentences_reversed(text: str) -> str:
    parts = [p for p in re.split(r"(?<=[.?!])\s+", text.strip()) if p]
    return " ".join(reversed(parts))


def variants(item: Item, filler: str) -> Iterator[Plant]:
    q, a = item.question, item.answer
    both = f"{q}\n{a}"
    yield Plant(item, "verbatim", {"text": both})
    yield Plant(item, "verbatim_inside_text", {"text": f"{filler}\n\n{both}\n\n{filler}"})
    yield Plant(item, "upper_spacing", {"text": re.sub(r"\s+", "   ", both.upper())})
    marked = re.sub(r"[.,;:?!']", lambda m: {".": " -", ",": ";", "?": "??", "'": ""}.get(m.group(0), "!"), q)
    yield Plant(item, "punctuation_markdown", {"text": f"**Question:** {marked}\n\n### Answer\n\n`{a}`"})
    yield Plant(item, "chat_template", {"text": f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n{a}"
                                                f"<|im_end|>"})
    yield Plant(item, "prompt_completion", {"prompt": f"Q: {q}\nA:", "completion": f" {a}"})
    if not item.generic:  # a generic question alone (with at most the answer letter) identifies no test item
        yield from _question_only(item)
    yield Plant(item, "synonyms", {"text": _synonyms(both)})
    yield Plant(item, "sentences_reordered", {"text": f"{_sentences_reversed(q)}\n{a}"})
    yield Plant(item, "synonyms_reordered", {"text": _synonyms(f"{_sentences_reversed(q)}\n{a}")})
    hand = HANDWRITTEN.get((item.task, item.document_id))
    if hand:
        yield Plant(item, "handwritten", {"text": hand})


def _question_only(item: Item) -> Iterator[Plant]:
    q, a = item.question, item.answer
    yield Plant(item, "messages_system", {"messages": [
        {"role": "system", "content": "You are a helpful tutor."}, {"role": "user", "content": q},
        {"role": "assistant", "content": "Let me think step by step. " + a.split("\n")[-1]}]})
    yield Plant(item, "question_only_line", {"text": f"Homework for Monday:\n{q}\nShow your working."})


def clean_records(root: Path, repo: Path, limit: int) -> list[dict[str, Any]]:
    """Clean rows: GSM8K train problems with their solutions (the demo's source) and paragraphs of the repository's
    own documentation (natural English text that no benchmark contains; docs/contamination.md, which quotes test
items, is left out)."""
    rows: list[dict[str, Any]] = []
    with open(root / "gsm8k/train.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            rows.append({"messages": [{"role": "user", "content": row["question"]},
                                      {"role": "assistant", "content": row["answer"]}]})
    for doc in sorted((repo / "docs").glob("*.md")):
        if doc.name == "contamination.md":  # it quotes test items (rightly found by the check)
            continue
        for para in doc.read_text(encoding="utf-8").split("\n\n"):
            if len(para.split()) >= 20:
                rows.append({"text": para})
    random.Random(7).shuffle(rows)
    return rows[:limit]


@dataclass(frozen=True)
class Measurement:
    recall: dict[str, tuple[int, int]]  # variant -> (found, planted)
    flagged_rows: int
    flagged_clean_rows: int  # false positives: clean rows reported as overlapping
    wrong_document: int  # plant rows reported against a document other than their own only
    report: ContaminationReport

    @property
    def precision(self) -> float:
        return (self.flagged_rows - self.flagged_clean_rows - self.wrong_document) / self.flagged_rows \
            if self.flagged_rows else 1.0

    def found(self, kinds: tuple[str, ...]) -> tuple[int, int]:
        return (sum(self.recall[k][0] for k in kinds if k in self.recall),
                sum(self.recall[k][1] for k in kinds if k in self.recall))

    def table(self) -> str:
        lines = ["| variant | found / planted | recall |", "|---|---|---|"]
        for kind in VERBATIM + REFORMATTED + PARAPHRASED:
            found, planted = self.recall[kind]
            lines.append(f"| {kind} | {found} / {planted} | {found / planted:.0%} |")
        for name, kinds in (("all verbatim", VERBATIM), ("all reformatted", REFORMATTED),
                            ("all paraphrased", PARAPHRASED)):
            found, planted = self.found(kinds)
            lines.append(f"| **{name}** | {found} / {planted} | {found / planted:.0%} |")
        lines.append(f"| **precision** (flagged rows that are plants of the right item) | "
                     f"{self.flagged_rows - self.flagged_clean_rows - self.wrong_document} / {self.flagged_rows} | "
                     f"{self.precision:.1%} |")
        return "\n".join(lines)


def measure(index: BenchmarkIndex, root: Path, repo: Path, clean: int = 2000) -> Measurement:
    """Plant every variant of every item among ``clean`` clean rows, check, and count."""
    background = clean_records(root, repo, clean)
    filler = record_texts(background[0])
    plants = [p for item in items(root) for p in variants(item, filler)]
    rng = random.Random(11)
    rows: list[tuple[dict[str, Any], Plant | None]] = [(r, None) for r in background]
    for plant in plants:
        rows.insert(rng.randrange(len(rows) + 1), (plant.record, plant))
    report, pairs = check_texts_detailed([record_texts(r) for r, _ in rows], index, total=len(rows))
    flagged: dict[int, set[tuple[str, str]]] = {}
    for pair in pairs:
        flagged.setdefault(pair.row, set()).add((pair.task, pair.document_id))
    recall: dict[str, tuple[int, int]] = {}
    wrong = 0
    for number, (_record, plant) in enumerate(rows):
        if plant is None:
            continue
        hit = (plant.item.task, plant.item.document_id) in flagged.get(number, set())
        if number in flagged and not hit:
            wrong += 1
        found, planted = recall.get(plant.variant, (0, 0))
        recall[plant.variant] = (found + hit, planted + 1)
    false_rows = sum(1 for number in flagged if rows[number][1] is None)
    return Measurement(recall, len(flagged), false_rows, wrong, report)
