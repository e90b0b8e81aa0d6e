"""Small datasets for the fine-tuning tests."""

from __future__ import annotations


def text_rows(n: int = 40) -> list[dict]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    return [{"text": f"Example {i}: " + " ".join(words[(i + j) % len(words)] for j in range(12))} for i in range(n)]


def chat_rows(n: int = 30) -> list[dict]:
    return [{"instruction": f"Add {i} and {i + 1}.", "output": f"{i} plus {i + 1} is {2 * i + 1}."}
            for i in range(n)]
