"""A faster lm-eval model for decoder-only transformers: the same requests, the same answers, less compute.

:class:`FastLM` is lm-eval's own ``HFLM`` with two request types re-implemented for causal models:

* **log-likelihood** (multiple choice): requests are processed in lexicographic order of their context tokens, so
  contexts that share a prefix (the few-shot block of every MMLU question of one subject, the fixed six-question
  prompt of TruthfulQA, one question's context for all its choices) are next to each other. The key/value cache of
  the shared prefix is computed once and reused; only the part after it is run. All continuations of one context run
  as one batch on top of that cache, and the output head (49k-wide for SmolLM2) is applied only where a continuation
  token is scored.
* **greedy generation** (``generate_until``): contexts are batched (lexicographic order again, so a batch shares its
  few-shot prefix, which is computed once), each row's own tokens are placed after the shared prefix with the right
  positions and mask, and decoding runs with a key/value cache. A row leaves the batch as soon as it emits an
  end-of-sequence token or one of the task's stop sequences, so a long answer no longer keeps a whole batch busy.

Both compute exactly what ``HFLM`` computes for each request (a causal model's outputs for a row depend only on that
row's tokens and positions); only the order of floating-point operations differs, so values agree to ~1e-5 and
accuracies and generated texts are the same. ``benchmarks/eval_speed.py`` and the tests compare the two on real
benchmark rows. Anything outside that contract (sampling, sliding-window attention, seq2seq models, logit soft-capping,
requests longer than the context) falls back to ``HFLM``'s own code.

Progress: set :attr:`FastLM.progress` to a callable ``(documents_done, documents_total)``; it is called as
documents complete (a document is done when all its requests are).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text

ProgressFn = Callable[[int, int], None]
KV = list[tuple[torch.Tensor, torch.Tensor]]

SCORE_TOKENS = 4096  # rows x positions per log-likelihood pass (bounds the [rows, positions, vocab] logits)
GEN_ROWS = 32  # most rows decoded together
GEN_TOKENS = 65_536  # rows x (prompt + new tokens) per generation batch (bounds the key/value cache)
PREFIX_CHUNK = 2048  # prompt tokens run through the model at once when a prefix is extended
PROGRESS_EVERY_S = 0.5


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class DocProgress:
    """Counts finished documents from finished requests; calls ``fn(done, total)`` at most every half second."""

    def __init__(self, requests: Sequence[Any], fn: ProgressFn | None) -> None:
        self.fn = fn
        self.keys = [(getattr(r, "task_name", None), getattr(r, "doc_id", i)) for i, r in enumerate(requests)]
        self.left: dict[Any, int] = {}
        for key in self.keys:
            self.left[key] = self.left.get(key, 0) + 1
        self.total = len(self.left)
        self.done = 0
        self.last = 0.0
        if fn is not None:
            fn(0, self.total)

    def finished(self, index: int) -> None:
        if self.fn is None or index >= len(self.keys):
            return
        key = self.keys[index]
        self.left[key] -= 1
        if self.left[key] == 0:
            self.done += 1
            now = time.monotonic()
            if now - self.last >= PROGRESS_EVERY_S or self.done == self.total:
                self.last = now
                self.fn(self.done, self.total)


class FastLM(HFLM):
    """``HFLM`` with prefix-cached log-likelihoods and early-exit batched greedy generation (see the module doc)."""

    def __init__(self, *args: Any, gen_rows: int = GEN_ROWS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress: ProgressFn | None = None
        self.gen_rows = max(1, int(gen_rows))
        self._tracker: DocProgress | None = None
        self._prefix: list[int] = []
        self._kv: KV = []

    # ------------------------------------------------------------------------------------------------- support

    @property
    def fast(self) -> bool:
        """Whether this model can take the fast paths (else everything goes to HFLM)."""
        model = self.model
        config = getattr(model, "config", None)
        if self.backend != "causal" or config is None:
            return False
        if not (hasattr(model, "get_decoder") and hasattr(model, "get_output_embeddings")):
            return False
        if any(getattr(config, name, None) for name in ("final_logit_softcapping", "logit_scale", "logits_scaling")):
            return False
        if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
            return False
        layer_types = getattr(config, "layer_types", None) or []
        return all(t == "full_attention" for t in layer_types)

    def _cache(self, kv: KV, rows: int = 1):
        from transformers import DynamicCache

        data = [(k.expand(rows, *k.shape[1:]), v.expand(rows, *v.shape[1:])) for k, v in kv] if kv else None
        return DynamicCache(ddp_cache_data=data, config=self.model.config)

    @staticmethod
    def _kv_of(cache) -> KV:
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _use_prefix(self, tokens: Sequence[int]) -> None:
        """Make the cached prefix exactly ``tokens``: keep the longest common part, run the rest."""
        keep = common_prefix(self._prefix, tokens)
        if keep < len(self._prefix):
            self._kv = [(k[:, :, :keep], v[:, :, :keep]) for k, v in self._kv] if keep else []
            self._prefix = self._prefix[:keep]
        if len(tokens) > keep:
            cache = self._cache(self._kv)
            for start in range(keep, len(tokens), PREFIX_CHUNK):  # bounded attention memory for long prompts
                piece = list(tokens[start:start + PREFIX_CHUNK])
                ids = torch.tensor([piece], dtype=torch.long, device=self.device)
                self.model.get_decoder()(input_ids=ids, past_key_values=cache, use_cache=True)
            self._kv = self._kv_of(cache)
            self._prefix = list(tokens)

    def _release(self) -> None:
        self._prefix, self._kv = [], []

    # ------------------------------------------------------------------------------------------ log-likelihood

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        self._tracker = DocProgress(requests, self.progress)
        try:
            return super().loglikelihood(requests, disable_tqdm=True)
        finally:
            self._tracker = None

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
        if not self.fast:
            out = super()._loglikelihood_tokens(requests, disable_tqdm=True, override_bs=override_bs)
            if self._tracker is not None:
                for i in range(len(requests)):
                    self._tracker.finished(i)
            return out
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        groups: dict[tuple[int, ...], list[int]] = {}
        too_long: list[int] = []
        for i, (_, ctx, cont) in enumerate(requests):
            if not ctx or not cont or len(ctx) + len(cont) > self.max_length + 1:
                too_long.append(i)
            else:
                groups.setdefault(tuple(ctx), []).append(i)
        try:
            with torch.inference_mode():
                for ctx in sorted(groups):
                    self._use_prefix(ctx[:-1])
                    self._score_context(ctx, groups[ctx], requests, results)
        finally:
            self._release()
        if too_long:  # HFLM truncates these from the left: let it
            plain = super()._loglikelihood_tokens([requests[i] for i in too_long], disable_tqdm=True,
                                                  override_bs=override_bs)
            for i, answer in zip(too_long, plain, strict=True):
                results[i] = answer
                self._finished(i)
        return results

    def _finished(self, index: int) -> None:
        if self._tracker is not None:
            self._tracker.finished(index)

    def _score_context(self, ctx: tuple[int, ...], members: list[int], requests, results: list) -> None:
        """Score every continuation of one context on top of the cached ``ctx[:-1]``."""
        rows: dict[tuple[int, ...], list[int]] = {}
        for i in members:
            cont = requests[i][2]
            rows.setdefault((ctx[-1], *cont[:-1]), []).append(i)
        ordered = sorted(rows, key=len, reverse=True)
        start = 0
        while start < len(ordered):
            width = len(ordered[start])
            count = max(1, SCORE_TOKENS // max(1, width))
            chunk = ordered[start:start + count]
            start += len(chunk)
            ids = torch.full((len(chunk), width), self.tokenizer.pad_token_id or 0, dtype=torch.long,
                             device=self.device)
            for r, row in enumerate(chunk):
                ids[r, :len(row)] = torch.tensor(row, dtype=torch.long)
            # right padding needs no mask: a causal model's real positions never see the padding after them
            hidden = self.model.get_decoder()(input_ids=ids, past_key_values=self._cache(self._kv, len(chunk)),
                                              use_cache=True).last_hidden_state
            logprobs = F.log_softmax(self.model.get_output_embeddings()(hidden), dim=-1, dtype=self.softmax_dtype)
            for r, row in enumerate(chunk):
                for i in rows[row]:
                    cont = torch.tensor(requests[i][2], dtype=torch.long, device=self.device)
                    scores = logprobs[r, :len(cont)]
                    greedy = bool((scores.argmax(dim=-1) == cont).all())
                    results[i] = (float(scores.gather(1, cont.unsqueeze(-1)).sum()), greedy)
                    self._finished(i)

    # ---------------------------------------------------------------------------------------------- generation

    def generate_until(self, requests, disable_tqdm: bool = False):
        tracker = DocProgress(requests, self.progress)
        if not self.fast or self.think_end_token is not None:
            out = super().generate_until(requests, disable_tqdm=True)
            for i in range(len(requests)):
                tracker.finished(i)
            return out
        results: list[str | None] = [None] * len(requests)
        by_kwargs: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            by_kwargs.setdefault(repr(sorted(request.args[1].items())), []).append(i)
        try:
            with torch.inference_mode():
                for members in by_kwargs.values():
                    self._generate_group(requests, members, results, tracker)
        finally:
            self._release()
        return results

    def _generate_group(self, requests, members: list[int], results: list, tracker: DocProgress) -> None:
        gen_kwargs = dict(requests[members[0]].args[1])
        kwargs = normalize_gen_kwargs(gen_kwargs, self.max_gen_toks)
        eos = self.tok_decode(self.eot_token_id, skip_special_tokens=False)
        until = handle_stop_sequences(kwargs.pop("until", None), eos=eos)
        max_new = int(kwargs.pop("max_gen_toks"))
        sampling = bool(kwargs.pop("do_sample", False)) or float(kwargs.pop("temperature", 0.0) or 0.0) > 0
        if sampling or kwargs:  # sampling, or settings this loop does not implement: HFLM's generate()
            texts = super().generate_until([requests[i] for i in members], disable_tqdm=True)
            for i, text in zip(members, texts, strict=True):
                results[i] = text
                tracker.finished(i)
            return
        max_ctx = self.max_length - max_new
        if max_ctx <= 0:
            raise ValueError(f"Invalid configuration: requested max tokens to generate ({max_new}) must be less "
                             f"than model's maximum sequence length ({self.max_length}).")
        encoded = {}
        for i in members:
            ids, _ = self.tok_batch_encode([requests[i].args[0]], left_truncate_len=max_ctx,
                                           truncation=self.truncation)
            encoded[i] = ids[0].tolist()
        order = sorted(members, key=lambda i: encoded[i])
        start = 0
        while start < len(order):
            width = len(encoded[order[start]]) + max_new
            take = max(1, min(self.gen_rows, GEN_TOKENS // max(1, width)))
            batch = order[start:start + take]
            start += len(batch)
            texts = self._greedy([encoded[i] for i in batch], until, max_new)
            for i, text in zip(batch, texts, strict=True):
                results[i] = text
                tracker.finished(i)

    def _stop_ids(self) -> set[int]:
        ids = {self.eot_token_id}
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        if isinstance(configured, int):
            ids.add(configured)
        elif isinstance(configured, list | tuple):
            ids.update(int(t) for t in configured)
        return ids

    def _greedy(self, contexts: list[list[int]], until: list[str], max_new: int) -> list[str]:
        """Greedy decoding of ``contexts`` together; returns each row's text cut at its first stop sequence."""
        shared = min(common_prefix(contexts[0], c) for c in contexts)
        shared = min(shared, min(len(c) for c in contexts) - 1)  # every row keeps a token of its own
        self._use_prefix(contexts[0][:shared])
        rows = len(contexts)
        width = max(len(c) - shared for c in contexts)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((rows, width), pad, dtype=torch.long, device=self.device)
        mask = torch.zeros((rows, shared + width), dtype=torch.long, device=self.device)
        positions = torch.full((rows, width), shared, dtype=torch.long, device=self.device)
        mask[:, :shared] = 1
        for r, ctx in enumerate(contexts):
            own = ctx[shared:]
            ids[r, width - len(own):] = torch.tensor(own, dtype=torch.long)
            mask[r, shared + width - len(own):] = 1
            positions[r, width - len(own):] = torch.arange(shared, shared + len(own))
        cache = self._cache(self._kv, rows)
        decoder, head = self.model.get_decoder(), self.model.get_output_embeddings()
        stop_ids = self._stop_ids()
        generated: list[list[int]] = [[] for _ in contexts]
        alive = list(range(rows))
        last = positions[:, -1]
        for _ in range(max_new):
            hidden = decoder(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                             use_cache=True).last_hidden_state[:, -1]
            next_tokens = head(hidden).argmax(dim=-1).tolist()
            keep: list[int] = []
            for slot, (row, token) in enumerate(zip(alive, next_tokens, strict=True)):
                if token in stop_ids:
                    continue
                generated[row].append(token)
                # as HFLM's stopping criteria: stop sequences are looked for with special tokens kept
                text = self.tok_decode(generated[row], skip_special_tokens=False)
                if not any(term and term in text for term in until):
                    keep.append(slot)
            if not keep:
                break
            if len(keep) < len(alive):
                index = torch.tensor(keep, dtype=torch.long, device=self.device)
                cache.batch_select_indices(index)
                mask, last = mask[index], last[index]
                alive = [alive[s] for s in keep]
                next_tokens = [next_tokens[s] for s in keep]
            ids = torch.tensor(next_tokens, dtype=torch.long, device=self.device).unsqueeze(-1)
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
            last = last + 1
            positions = last.unsqueeze(-1)
        return [postprocess_generated_text(self.tok_decode(tokens), stop=until, think_end_token=None)
                for tokens in generated]
