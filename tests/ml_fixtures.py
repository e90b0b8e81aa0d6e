"""Small ML helpers shared by the training, datasets and fine-tuning tests.

``make_tokenizer()`` trains a real byte-level BPE tokenizer (``tokenizers``, vocabulary ≤ 512) on a few hundred
generated English sentences in well under a second and wraps it as a ``PreTrainedTokenizerFast`` with bos/eos/pad,
the ChatML special tokens and a chat template (the toy model's ChatML by default). Nothing is downloaded.

Import it from any test (``tests/`` is on ``sys.path`` through the root conftest): ``from ml_fixtures import
make_tokenizer``.
"""

from __future__ import annotations

import random
from functools import lru_cache

from modelmate.training.model_specs import CHATML_CHAT_TEMPLATE

BOS, EOS, PAD, IM_START, IM_END = "<|startoftext|>", "<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"

_SUBJECTS = ["the model", "a small dataset", "the trainer", "my cat", "the teacher", "a quiet river", "the worker",
             "an old library", "the loss curve", "every student"]
_VERBS = ["reads", "writes", "learns", "finds", "keeps", "answers", "counts", "follows", "explains", "remembers"]
_OBJECTS = ["the answer", "a long story", "three questions", "the best route", "simple words", "a new idea",
            "the last page", "many numbers", "the right token", "a short poem"]
_ENDINGS = ["today.", "every morning.", "without help.", "in the evening.", "very slowly.", "with care.",
            "before lunch.", "at the end.", "once again.", "for a friend."]


def sentences(n: int = 400, seed: int = 0) -> list[str]:
    """Deterministic, varied English sentences (plus a few questions and digits)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} " \
               f"{rng.choice(_ENDINGS)}"
        if i % 7 == 0:
            text = f"What does {rng.choice(_SUBJECTS)} do? {text} Number {i}."
        out.append(text)
    return out


@lru_cache(maxsize=4)
def make_tokenizer(chat_template: str | None = CHATML_CHAT_TEMPLATE, vocab_size: int = 384):
    """A fresh BPE ``PreTrainedTokenizerFast`` (cached per template and size; do not mutate it in tests)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                  special_tokens=[PAD, BOS, EOS, IM_START, IM_END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(sentences(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   extra_special_tokens=[IM_START, IM_END], model_max_length=512)
    if chat_template:
        fast.chat_template = chat_template
    return fast
