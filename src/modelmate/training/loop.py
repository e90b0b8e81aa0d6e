"""The training loop behind ``trainer.train``: setup, data plan, steps, evaluation, early stopping, checkpoints.

Lean by design: one host synchronisation per optimiser step (reading the step's loss and gradient norm together,
which the NaN/Inf check needs anyway), losses computed only where labels exist (``packing.causal_lm_loss_sum``),
packed micro-batches of ``batch_size * max_seq_length`` tokens split into rows of ``max_seq_length`` so attention
costs what a padded batch would, without the padding.

The data order is a pure function of (seed, epoch): the micro-batch ``m`` of the run is batch ``m % n`` of epoch
``m // n``. A checkpoint therefore only needs the step number to know where the data stands; together with the
adapter, optimizer, scheduler and RNG states a resumed run repeats the uninterrupted run's losses exactly.

Several workers: when a ``torch.distributed`` process group is initialised (``training.distributed`` starts the
ranks with Ray Train), every rank runs this same loop on its shard of every micro-batch and the gradients are
summed across ranks (``training.collective``), so each optimizer step is the single-worker step. Rank 0 alone
writes checkpoints and the adapter (its events are the ones the caller sees); every rank resumes from the
checkpoint rank 0 picks.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from array import array
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from modelmate.training import checkpoints, collective
from modelmate.training.artifacts import save_adapter
from modelmate.training.capabilities import (
    describe,
    effective_precision,
    machine_capabilities,
    needs_bitsandbytes,
    refusals,
)
from modelmate.training.config import plan_steps
from modelmate.training.data import DataError, encode_record
from modelmate.training.environment import describe_environment, pick_device
from modelmate.training.optim import make_optimizer
from modelmate.training.packing import (
    add_label_index,
    balanced_bins,
    causal_lm_loss_sum,
    collate_packed,
    collate_padded,
    count_label_tokens,
    pack_examples,
)
from modelmate.training.results import TrainingFailure, TrainJob, TrainResult
from modelmate.training.tiny import load_base_model


class Run:
    """One execution (segment) of a training job. Create, ``setup()``, ``fit()``, ``save_outputs()``, ``result()``."""

    def __init__(self, job: TrainJob, *, on_event: Callable[[dict], None], should_stop: Callable[[], bool]) -> None:
        self.job = job
        self.config = job.config
        self.on_event = on_event
        self.should_stop = should_stop
        self.step = 0
        self.total_steps = 0
        self.curve: list[dict] = []
        self.tokens = 0
        self.segment_tokens = 0
        self.compute_seconds = 0.0
        self.elapsed_before = 0.0
        self.segment_started = time.monotonic()
        self.pending_losses: list[float] = []
        self.best_eval: float | None = None
        self.bad_evals = 0
        self.stopped_early = False
        self.early_stopping: dict | None = None
        self.cancelled = False
        self.resumed_from: int | None = None
        self.environment: dict = {}
        self.rank, self.world_size = 0, 1
        self._epoch_cache: tuple[int, list[list[int]]] | None = None

    # ------------------------------------------------------------------------------------------------ events

    def emit(self, event: dict) -> None:
        self.on_event(event)

    def log(self, message: str) -> None:
        self.emit({"type": "log", "message": message})

    def seconds(self) -> float:
        return round(self.elapsed_before + time.monotonic() - self.segment_started, 3)

    # ------------------------------------------------------------------------------------------------ setup

    def _encode(self, records: list[dict], tokenizer, which: str) -> tuple[list, int]:
        examples = []
        tokens = 0
        for row, record in enumerate(records, start=1):
            try:
                ids, labels = encode_record(record, tokenizer, self.config.max_seq_length)
            except DataError:
                raise
            except Exception as exc:  # noqa: BLE001 - a template or tokenizer error names the record
                raise DataError(f"the {which} record could not be encoded: {type(exc).__name__}: {exc}",
                                row=row) from exc
            tokens += len(ids)
            if ids and count_label_tokens(labels) > 0:
                examples.append((ids, labels))
        return examples, tokens

    def setup(self, *, resume: bool) -> None:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import get_scheduler

        cfg, job = self.config, self.job
        self.rank, self.world_size = collective.process_group()
        self.device = job.device or pick_device()
        caps = machine_capabilities(self.device, bitsandbytes=needs_bitsandbytes(cfg))
        refused = refusals(cfg, caps)
        if refused:  # before loading anything: a choice this machine cannot run fails the run now, not midway
            raise TrainingFailure("unsupported", describe(refused))
        self.precision = effective_precision(cfg.precision, caps)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]
        self.environment = {**describe_environment(self.device), "precision": self.precision}
        if self.world_size > 1:
            self.environment["workers"] = self.world_size
        self.log(f"loading base model {job.base_model}")
        model, tokenizer = load_base_model(job.base_model, dtype=dtype, quantization=cfg.quantization,
                                           attention=cfg.attention, device=self.device)
        if tokenizer.chat_template is None and job.chat_template:
            tokenizer.chat_template = job.chat_template
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

        self.train_examples, train_tokens = self._encode(job.train_records, tokenizer, "training")
        self.eval_examples, _ = self._encode(job.eval_records, tokenizer, "held-out")
        if not self.train_examples:
            raise TrainingFailure("invalid_data", "No training example has any token to learn from (empty "
                                  "texts, or conversations without an assistant reply within the maximum length).")
        dropped = len(job.train_records) - len(self.train_examples)
        if dropped:
            self.log(f"{dropped} training records have nothing to learn from (no assistant tokens) and are skipped")
        self.train_tokens_per_epoch = train_tokens
        self.total_steps = plan_steps(cfg, len(job.train_records), train_tokens)
        self.eval_every = cfg.eval_steps or max(1, math.ceil(self.total_steps / 10))
        self.save_every = cfg.save_steps or max(1, math.ceil(self.total_steps / 5))
        self.train_labels = [count_label_tokens(labels) for _, labels in self.train_examples]
        self.train_lengths = [len(ids) for ids, _ in self.train_examples]
        self.micro_per_epoch = len(self._epoch_plan(0))

        model = self._memory_savers(model)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.init_adapter_hash: str | None = None
        if job.init_adapter is not None:  # a fork: continue training the parent's adapter
            model = self._load_parent_adapter(model)
        else:
            targets = list(job.target_modules or cfg.target_modules or []) or None
            # peft annotates lora_alpha as int but only divides by it: a float alpha scales the same
            lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha,  # type: ignore[arg-type]
                              lora_dropout=cfg.dropout, target_modules=targets,
                              use_dora=cfg.use_dora, use_rslora=cfg.use_rslora, bias="none", task_type="CAUSAL_LM")
            try:
                model = get_peft_model(model, lora)
            except ValueError as exc:
                names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                                if isinstance(m, torch.nn.Linear)})
                raise TrainingFailure("crashed", f"The adapter could not be attached: {exc}. Linear layers in "
                                                 f"this model: {', '.join(names)}.") from exc
        model.config.use_cache = False
        self.model = model if cfg.quantization != "none" else model.to(self.device)  # quantized: placed at load
        self.model.train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.trainable_parameters = sum(p.numel() for p in self.params)
        self.optimizer = make_optimizer(cfg.optimizer, self.params, lr=cfg.learning_rate,
                                        weight_decay=cfg.weight_decay)
        warmup = math.ceil(cfg.warmup_ratio * self.total_steps)
        self.scheduler = get_scheduler(cfg.lr_scheduler, self.optimizer, num_warmup_steps=warmup,
                                       num_training_steps=self.total_steps)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.fingerprint = self._fingerprint()
        if resume:
            self._resume()
        elif self.rank == 0:
            checkpoints.clean(job.checkpoint_dir, everything=True)
        self.emit({"type": "started", "total_steps": self.total_steps, "train_examples": len(self.train_examples),
                   "eval_examples": len(self.eval_examples), "train_tokens_per_epoch": train_tokens,
                   "trainable_parameters": self.trainable_parameters, "resumed_from_step": self.resumed_from,
                   "environment": self.environment})

    def _memory_savers(self, model):
        """The quantized base prepared for training (PEFT's ``prepare_model_for_kbit_training``: frozen weights,
        fp32 norms and input gradients), and gradient checkpointing when asked for. Non-reentrant checkpointing
        replays each layer with the RNG state of its first pass, so dropout masks and losses match a run without
        it."""
        cfg = self.config
        kwargs = {"use_reentrant": False}
        if cfg.quantization != "none":
            from peft import prepare_model_for_kbit_training

            # bitsandbytes (0.50) repacks a 4-bit layer's weights for fast CPU inference at its first eval-mode
            # forward on an AVX512-BF16 CPU and keeps them repacked when training resumes; the backward pass then
            # goes through a kernel without gradients, and after the first evaluation every gradient is zero (the
            # run silently stops learning). Training keeps the trainable format.
            for module in model.modules():
                if getattr(module, "support_avx512bf16_for_cpu", False):
                    module.support_avx512bf16_for_cpu = False

            return prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing,
                                                   gradient_checkpointing_kwargs=kwargs)
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
            model.enable_input_require_grads()
        return model

    def _load_parent_adapter(self, model):
        """The parent's LoRA adapter, loaded trainable on ``model`` (a fork starts exactly where its parent ended).

        The adapter's shape must be the configuration's (the service fixes it to the parent's); dropout is this
        run's. The adapter's files are hashed into the run's fingerprint, so checkpoints only resume on the same
        starting weights."""
        import torch
        from peft import PeftModel

        cfg = self.config
        assert self.job.init_adapter is not None  # only called for a fork
        path = Path(self.job.init_adapter)
        files = [path / "adapter_config.json", path / "adapter_model.safetensors"]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise TrainingFailure("crashed", f"The parent adapter this fork continues from is missing "
                                             f"({', '.join(missing)} not found in {path}).")
        meta = json.loads(files[0].read_text(encoding="utf-8"))
        if str(meta.get("peft_type", "LORA")).upper() != "LORA":
            raise TrainingFailure("crashed", f"The parent adapter is a {meta.get('peft_type')} adapter; only LoRA "
                                             "adapters can be continued.")
        wanted = {"r": cfg.r, "lora_alpha": cfg.alpha, "use_dora": cfg.use_dora, "use_rslora": cfg.use_rslora}
        found = {"r": meta.get("r"), "lora_alpha": meta.get("lora_alpha"),
                 "use_dora": bool(meta.get("use_dora", False)), "use_rslora": bool(meta.get("use_rslora", False))}
        differ = [f"{k} is {found[k]} in the parent adapter but {v} in this configuration"
                  for k, v in wanted.items() if found[k] != v]
        if differ:
            raise TrainingFailure("crashed", "A fork continues its parent's adapter, so its shape cannot change: "
                                             + "; ".join(differ) + ".")
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.read_bytes())
        self.init_adapter_hash = digest.hexdigest()
        self.log(f"continuing from the parent adapter {path} (sha256 {self.init_adapter_hash[:12]})")
        model = PeftModel.from_pretrained(model, str(path), is_trainable=True)
        for module in model.modules():  # this run's dropout on every adapter layer
            drop = getattr(module, "lora_dropout", None)
            if isinstance(drop, torch.nn.ModuleDict):
                for name in list(drop.keys()):
                    drop[name] = torch.nn.Dropout(p=cfg.dropout) if cfg.dropout > 0 else torch.nn.Identity()
        for peft_config in model.peft_config.values():
            peft_config.lora_dropout = cfg.dropout
        return model

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        # the worker count is not part of a run's identity: any number of workers takes the same steps
        identity = {"config": self.config.model_dump(mode="json", exclude={"workers"}), "base": self.job.base_model,
                    "targets": list(self.job.target_modules or []), "precision": self.precision}
        if self.init_adapter_hash:  # a fork: the starting weights are part of the run's identity
            identity["init_adapter"] = self.init_adapter_hash
        digest.update(json.dumps(identity, sort_keys=True).encode())
        for examples in (self.train_examples, self.eval_examples):
            digest.update(b"|")
            for ids, labels in examples:
                digest.update(array("q", ids).tobytes())
                digest.update(array("q", labels).tobytes())
        return digest.hexdigest()

    def _resume(self) -> None:
        checkpoint_dir = Path(self.job.checkpoint_dir)
        latest = None
        if self.rank == 0:  # rank 0 decides (and cleans up); the others load the checkpoint it picked
            checkpoints.clean(checkpoint_dir)  # half-written temp dirs from a killed run
            latest = checkpoints.latest_checkpoint(checkpoint_dir)
            if latest is not None and latest.state.get("fingerprint") != self.fingerprint:
                self.log("existing checkpoints belong to a different configuration or dataset; starting afresh")
                checkpoints.clean(checkpoint_dir, everything=True)
                latest = None
        if self.world_size > 1:
            step = collective.broadcast_int(latest.step if latest is not None else -1, self.device)
            latest = None if step < 0 else latest or self._checkpoint_at(checkpoint_dir, step)
        if latest is None:
            return
        state = checkpoints.load_checkpoint(latest, model=self.model, optimizer=self.optimizer,
                                            scheduler=self.scheduler)
        self.step = state["step"]
        self.curve = state["curve"]
        self.tokens = state["tokens"]
        self.elapsed_before = state["seconds"]
        self.pending_losses = state["pending_losses"]
        self.best_eval = state["best_eval"]
        self.bad_evals = state["bad_evals"]
        self.resumed_from = self.step
        self.log(f"resumed from the checkpoint at step {self.step}")

    def _checkpoint_at(self, checkpoint_dir: Path, step: int) -> checkpoints.Checkpoint:
        path = checkpoint_dir / f"step-{step:06d}"
        state = checkpoints.read_state(path)
        if state is None or state.get("fingerprint") != self.fingerprint:
            raise TrainingFailure("crashed", f"Worker {self.rank} cannot read the checkpoint {path} that worker 0 "
                                             "resumes from; every worker needs the checkpoint directory (a shared "
                                             "filesystem when the workers run on several machines).")
        return checkpoints.Checkpoint(step=step, path=path, state=state)

    # ------------------------------------------------------------------------------------------------ data

    def _epoch_plan(self, epoch: int) -> list[list[int]]:
        """Micro-batches (lists of example indices) of ``epoch``, in that epoch's order."""
        if self._epoch_cache and self._epoch_cache[0] == epoch:
            return self._epoch_cache[1]
        cfg = self.config
        seed = f"{cfg.seed}:{epoch}"
        if cfg.packing:  # exactly the micro-batch count plan_steps uses: ceil(tokens / budget)
            budget = cfg.batch_size * cfg.max_seq_length
            plan = balanced_bins(self.train_examples, math.ceil(self.train_tokens_per_epoch / budget), seed=seed)
        else:
            order = list(range(len(self.train_examples)))
            random.Random(seed).shuffle(order)
            plan = [order[i:i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        self._epoch_cache = (epoch, plan)
        return plan

    def _collate(self, examples: list) -> dict:
        if self.config.packing:
            return collate_packed(examples, row_tokens=self.config.max_seq_length, pad_id=self.pad_id)
        return collate_padded(examples, self.pad_id)

    def _micro_batch(self, m: int) -> tuple[dict | None, int, int]:
        """(tensors on the device, real tokens, labelled tokens) of the run's micro-batch ``m``.

        The token counts are the whole micro-batch's; the tensors hold this rank's shard of it (all of it with one
        worker; ``None`` when the shard is empty)."""
        indices = self._epoch_plan(m // self.micro_per_epoch)[m % self.micro_per_epoch]
        mine = collective.shard(indices, self.train_lengths, self.rank, self.world_size)
        batch = None
        if mine:
            collated = add_label_index(self._collate([self.train_examples[i] for i in mine]))
            batch = {k: v.to(self.device, non_blocking=True) for k, v in collated.items()}
        return batch, sum(self.train_lengths[i] for i in indices), sum(self.train_labels[i] for i in indices)

    def _autocast(self):
        import torch

        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device, dtype=dtype)

    # ------------------------------------------------------------------------------------------------ steps

    def _train_step(self) -> tuple[float, float, float, int]:
        import torch

        ga = self.config.gradient_accumulation_steps
        if self.world_size > 1:  # dropout masks from (seed, rank, step): see collective.step_seed
            torch.manual_seed(collective.step_seed(self.config.seed, self.rank, self.step))
        micro = [self._micro_batch(m) for m in range(self.step * ga, (self.step + 1) * ga)]
        labelled = max(1, sum(n for _, _, n in micro))  # the whole step's, on every rank
        loss_total = torch.zeros((), device=self.device)
        for batch, _, _ in micro:
            if batch is None:
                continue
            with self._autocast():
                loss_sum, _ = causal_lm_loss_sum(self.model, batch)
            loss = loss_sum / labelled
            (self.scaler.scale(loss) if self.scaler else loss).backward()
            loss_total += loss.detach()
        if self.world_size > 1:  # the global gradient and loss: the sum of every rank's share
            (summed,) = collective.sum_gradients(self.params, [loss_total])
            loss_total = torch.tensor(summed, device=self.device)
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        loss_value, norm_value = torch.stack([loss_total.float(), grad_norm.float()]).tolist()  # the one sync
        lr = self.scheduler.get_last_lr()[0]
        if not math.isfinite(loss_value) or (self.scaler is None and not math.isfinite(norm_value)):
            what, value = ("loss", loss_value) if not math.isfinite(loss_value) else ("gradient", norm_value)
            raise TrainingFailure("diverged", (
                f"Training diverged at step {self.step + 1}: the {what} became {value} "
                f"(not a finite number). The learning rate ({lr:.3g}) is probably too high for this model and data; "
                "lower it (for example by 10x), keep gradient clipping on, or add warmup."))
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_value, norm_value, lr, sum(n for _, n, _ in micro)

    def evaluate(self) -> float | None:
        import torch

        if not self.eval_examples:
            return None
        cfg = self.config
        if cfg.packing:
            plan = pack_examples(self.eval_examples, cfg.batch_size * cfg.max_seq_length, seed=0)
        else:
            plan = [list(range(i, min(i + cfg.batch_size, len(self.eval_examples))))
                    for i in range(0, len(self.eval_examples), cfg.batch_size)]
        if self.world_size > 1:  # each rank scores its shard of every batch; the sums are added up below
            lengths = [len(ids) for ids, _ in self.eval_examples]
            plan = [mine for indices in plan
                    if (mine := collective.shard(indices, lengths, self.rank, self.world_size))]
        self.model.eval()
        total = torch.zeros((), device=self.device)
        count = 0
        try:
            with torch.no_grad():
                for indices in plan:
                    batch = add_label_index(self._collate([self.eval_examples[i] for i in indices]))
                    batch = {k: v.to(self.device) for k, v in batch.items()}
                    with self._autocast():
                        loss_sum, n = causal_lm_loss_sum(self.model, batch)
                    total += loss_sum.float()
                    count += n
        finally:
            self.model.train()
        if self.world_size > 1:
            summed, summed_count = collective.sum_values([total.item(), count], self.device)
            value = summed / max(1, summed_count)
        else:
            value = total.item() / max(1, count)
        if not math.isfinite(value):
            raise TrainingFailure("diverged", f"The held-out loss became {value} at step {self.step}: training "
                                              "diverged. Lower the learning rate.")
        return value

    def _checkpoint(self) -> None:
        if self.rank != 0:  # every rank holds the same weights and state; rank 0 writes them
            return
        state = {"fingerprint": self.fingerprint, "total_steps": self.total_steps, "curve": self.curve,
                 "tokens": self.tokens, "seconds": self.seconds(), "pending_losses": self.pending_losses,
                 "best_eval": self.best_eval, "bad_evals": self.bad_evals, "micro_per_epoch": self.micro_per_epoch}
        checkpoints.save_checkpoint(self.job.checkpoint_dir, self.step, model=self.model, optimizer=self.optimizer,
                                    scheduler=self.scheduler, state=state)
        self.emit({"type": "checkpoint", "step": self.step})

    def _early_stop_check(self, eval_loss: float) -> bool:
        cfg = self.config
        if self.best_eval is None or self.best_eval - eval_loss > cfg.early_stopping_threshold:
            self.best_eval = eval_loss
            self.bad_evals = 0
            return False
        self.bad_evals += 1
        if cfg.early_stopping_patience and self.bad_evals >= cfg.early_stopping_patience:
            reason = (f"the held-out loss has not improved by more than {cfg.early_stopping_threshold:g} for "
                      f"{self.bad_evals} evaluations (best {self.best_eval:.4f})")
            self.early_stopping = {"step": self.step, "reason": reason, "best_eval_loss": self.best_eval}
            return True
        return False

    def fit(self) -> None:
        cfg = self.config
        self.segment_started = time.monotonic()
        if self.step >= self.total_steps:
            return
        if self.should_stop():
            self.cancelled = True
            return
        while self.step < self.total_steps:
            started = time.perf_counter()
            loss, grad_norm, lr, real_tokens = self._train_step()
            self.compute_seconds += time.perf_counter() - started
            self.step += 1
            self.tokens += real_tokens
            self.segment_tokens += real_tokens
            self.pending_losses.append(loss)
            last = self.step == self.total_steps
            do_eval = bool(self.eval_examples) and (self.step % self.eval_every == 0 or last)
            stop = self.should_stop()
            if self.step % cfg.logging_steps == 0 or last or do_eval or stop:
                row = {"step": self.step, "loss": round(sum(self.pending_losses) / len(self.pending_losses), 6),
                       "eval_loss": None, "lr": lr, "grad_norm": round(grad_norm, 6), "tokens": self.tokens,
                       "seconds": self.seconds()}
                self.pending_losses = []
                self.curve.append(row)
                self.emit({"type": "step", "epoch": round(self.step * cfg.gradient_accumulation_steps
                                                          / self.micro_per_epoch, 4), **row})
            early = False
            if do_eval:
                eval_loss = self.evaluate()
                assert eval_loss is not None  # do_eval implies held-out examples
                self.curve[-1]["eval_loss"] = round(eval_loss, 6)
                self.emit({"type": "eval", "step": self.step, "eval_loss": self.curve[-1]["eval_loss"]})
                early = self._early_stop_check(eval_loss)
            if early:
                assert self.early_stopping is not None  # set by _early_stop_check
                self.stopped_early = True
                self.emit({"type": "early_stop", "step": self.step, "reason": self.early_stopping["reason"]})
            if stop and not early and not last:
                self.cancelled = True
            if self.step % self.save_every == 0 or last or early or self.cancelled:
                self._checkpoint()
            if early or self.cancelled:
                return

    # ------------------------------------------------------------------------------------------------ results

    def _final(self, key: str) -> float | None:
        return next((row[key] for row in reversed(self.curve) if row.get(key) is not None), None)

    def _summary(self) -> tuple[str, str | None, str]:
        loss, eval_loss = self._final("loss"), self._final("eval_loss")
        losses = f"final training loss {loss:.4f}" if loss is not None else "no training loss yet"
        if eval_loss is not None:
            losses += f", held-out loss {eval_loss:.4f}"
        if self.cancelled:
            return "partial", "cancelled", (f"Stopped at step {self.step} of {self.total_steps} because a stop was "
                                            f"requested; the adapter holds the weights reached so far ({losses}).")
        if self.stopped_early:
            assert self.early_stopping is not None  # set with stopped_early
            return "success", None, (f"Stopped early at step {self.step} of {self.total_steps}: "
                                     f"{self.early_stopping['reason']}; {losses}.")
        return "success", None, f"Trained {self.step} steps on {self.tokens:,} tokens; {losses}."

    def save_outputs(self) -> list[str]:
        if self.rank != 0:  # rank 0 saves the adapter every rank holds
            return []
        outcome, category, message = self._summary()
        card = {"base_model": self.job.base_model, **self.job.model_card,
                "config": self.config.model_dump(mode="json"), "outcome": outcome, "failure_category": category,
                "message": message, "steps": self.step, "total_steps": self.total_steps,
                "final_loss": self._final("loss"), "final_eval_loss": self._final("eval_loss"),
                "train_tokens": self.tokens, "tokens_per_second": self._throughput(),
                "environment": self.environment}
        card["config"]["target_modules"] = list(self.job.target_modules or self.config.target_modules or [])
        files = save_adapter(self.model, self.tokenizer, Path(self.job.output_dir), card)
        self.log(f"saved the adapter to {self.job.output_dir}")
        return files

    def _throughput(self) -> float | None:
        return round(self.segment_tokens / self.compute_seconds, 1) if self.compute_seconds > 0 else None

    def result(self, *, artifacts: list[str] | None = None, failure: tuple[str, str, dict] | None = None,
               peak_memory: int | None = None) -> TrainResult:
        import torch

        category: str | None
        if failure:
            outcome, (category, message, error) = "failure", failure
        else:
            (outcome, category, message), error = self._summary(), None
        environment = dict(self.environment)
        if peak_memory is not None:
            environment["peak_rss_bytes"] = peak_memory
        if getattr(self, "device", "cpu") == "cuda" and torch.cuda.is_available():
            peak_memory = int(torch.cuda.max_memory_allocated())
            environment["peak_gpu_bytes"] = peak_memory
        return TrainResult(
            outcome=outcome, failure_category=category, message=message, error=error, steps=self.step,
            total_steps=self.total_steps, final_loss=self._final("loss"), final_eval_loss=self._final("eval_loss"),
            train_tokens=self.tokens, tokens_per_second=self._throughput(), seconds=self.seconds(),
            peak_memory_bytes=peak_memory, environment=environment, stopped_early=self.stopped_early,
            artifacts=artifacts or [], curve=self.curve, early_stopping=self.early_stopping,
            resumed_from_step=self.resumed_from)
