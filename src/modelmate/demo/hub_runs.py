"""The hub's demo: on the first start of a fresh install, a small family of real runs on a real model.

Nothing here is canned. Three datasets (:mod:`.hub_data`: worked solutions and answer-only replies from the GSM8K
**train** split, and long emails) are uploaded through the datasets service, and runs are launched through the
fine-tuning service on the built-in SmolLM2-135M-Instruct; the job worker trains them with the real trainer, and
automatic evaluation benchmarks every trained model (and the base, once) on all domains with lm-eval. What comes
out fills every hub page:

* **Math tutor (demo)** learns GSM8K's worked-solution format. It is published: a public model page with a chat
  demo (it still knows that Paris is the capital of France), a download and a fork button.
* **… answer only (demo fork)** continues that adapter on one-sentence answers: the lineage graph's second
  generation, with score deltas on its edge.
* **… learning rate too low (demo)** trains, but its loss stays flat: the failure museum files it as *no learning*.
* **Long emails in a 16-token window (demo)** fails: the replies start beyond the window, so there is nothing to
  learn (*invalid data*).

The jobs queue at a negative priority, and so do their evaluations, so anything a user launches runs first. The
plan is written once, for a user who has never uploaded a dataset or launched a run, in one transaction. The fork
needs its parent's adapter, so it is launched when the parent succeeds, by a thread that watches the parent, and
again at the next start if the server stopped first. Tests run the same family on the toy (``base="tiny"``, with a
learning rate the random toy can move with).
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.datasets import service as datasets
from modelmate.datasets.schemas import UploadFields
from modelmate.db.engine import Database, immediate_transaction
from modelmate.demo import hub_data
from modelmate.demo import repository as repo
from modelmate.demo.hub_data import EMAILS, DemoDataset
from modelmate.finetune import base_catalog
from modelmate.finetune import service as finetune
from modelmate.finetune.schemas import RunCreate
from modelmate.hub import service as hub
from modelmate.hub.schemas import ModelPatch
from modelmate.jobs.queue import BACKGROUND_PRIORITY
from modelmate.models import User
from modelmate.training.model_specs import SMOLLM2_KEY, TINY_KEY

log = logging.getLogger("modelmate.demo")

PRIORITY = BACKGROUND_PRIORITY  # below every job a user queues (USER_PRIORITY, 0)
POLL_S = 2.0
WAIT_S = 3 * 3600.0  # how long the watcher waits for one run before it gives up (the next start tries again)
TOY_LEARNING_RATE = 1e-2  # the random toy only moves with a large step

# --- the runs -------------------------------------------------------------------------------------------------------

WORKED, ANSWER_ONLY = "worked", "answer_only"  # which GSM8K set a run trains on (EMAILS: the long emails)
_BASE = {"batch_size": 4, "eval_split": 0.1, "logging_steps": 1, "warmup_ratio": 0.05, "learning_rate": 3e-4}


@dataclass(frozen=True)
class DemoRun:
    name: str
    dataset: str  # WORKED, ANSWER_ONLY or EMAILS.name
    config: dict[str, Any]
    description: str | None = None  # set on the model page when the run succeeds


TUTOR = DemoRun("Math tutor (demo)", WORKED,
                {**_BASE, "max_seq_length": 512, "max_steps": 24, "eval_steps": 8, "save_steps": 12},
                "A demo fine-tune of SmolLM2-135M-Instruct on 400 worked solutions from the GSM8K train split "
                "(LoRA r 8, 24 steps), trained on this machine when ModelMate first started. Ask it a word problem, "
                "or anything else: it is still a general (if small) assistant.")
CONCISE = DemoRun("Math tutor, answer only (demo fork)", ANSWER_ONLY,
                  {**_BASE, "max_seq_length": 256, "max_steps": 12, "eval_steps": 6, "save_steps": 12},
                  "A demo fork: continues Math tutor (demo) on one-sentence answers ('The answer is 72.').")
TOO_SLOW = DemoRun("Math tutor, learning rate too low (demo)", ANSWER_ONLY,
                   {**_BASE, "max_seq_length": 256, "max_steps": 12, "eval_steps": 12, "save_steps": 12,
                    "learning_rate": 1e-6})
TOO_SHORT = DemoRun("Long emails in a 16-token window (demo)", EMAILS.name,
                    {**_BASE, "max_seq_length": 16, "max_steps": 12, "eval_steps": 6, "save_steps": 12})
PLANNED = (TUTOR, TOO_SLOW, TOO_SHORT)  # launched at once; CONCISE follows TUTOR
HELPER, FRIENDLIER = TUTOR, CONCISE  # the published parent and its fork


def demo_datasets(settings: Settings) -> dict[str, DemoDataset]:
    worked, answer_only = hub_data.math_datasets(settings.benchmark_data_dir)
    return {WORKED: worked, ANSWER_ONLY: answer_only, EMAILS.name: EMAILS}


def _upload(session: Session, settings: Settings, user: User, dataset: DemoDataset, base: str) -> int:
    fields = UploadFields(name=dataset.name, description=dataset.description, domain=dataset.domain,
                          license=dataset.license, base_model=base)
    prepared = datasets.prepare_upload(session, settings, io.BytesIO(dataset.body), filename="chats.jsonl",
                                       fields=fields)
    row, _ = datasets.register(session, settings, user, prepared, fields)
    return row.id


def _launch(session: Session, settings: Settings, user: User, run: DemoRun, dataset_id: int, base: str,
            parent_model_id: int | None = None) -> int:
    config = dict(run.config)
    if base == TINY_KEY and config["learning_rate"] > 1e-5:
        config["learning_rate"] = TOY_LEARNING_RATE
    payload = RunCreate(name=run.name, base_model=base, dataset_id=dataset_id, mode="expert", preset="quick",
                        config=config, parent_model_id=parent_model_id)
    return finetune.create_run(session, settings, user, payload, priority=PRIORITY).id


def plan(db: Database, settings: Settings, user_id: int, *, base: str = SMOLLM2_KEY) -> list[int]:
    """Upload the datasets and launch the first runs, once, for a user who never used the hub. Returns run ids."""
    data = demo_datasets(settings)  # read before the write lock: GSM8K may come from the Hub
    with db.session() as session:
        immediate_transaction(session)
        user = repo.lock_user(session, user_id)
        if user is None or repo.hub_used(session, user_id):
            return []
        ids = {key: _upload(session, settings, user, dataset, base) for key, dataset in data.items()}
        runs = [_launch(session, settings, user, run, ids[run.dataset], base) for run in PLANNED]
    log.info("hub demo: queued runs %s on %s", runs, base)
    return runs


def _state(db: Database, user_id: int, name: str) -> tuple[str | None, int | None]:
    """(status, output model id) of the user's run with this name; (None, None) when there is none."""
    with db.session() as session:
        run = repo.run_named(session, user_id, name)
        return (run.status, run.output_model_id) if run is not None else (None, None)


def _wait(db: Database, user_id: int, name: str, stop: threading.Event) -> int | None:
    """The output model of the named run once it has succeeded; None when it failed, is missing or stop is set."""
    waited = 0.0
    while waited < WAIT_S:
        status, model_id = _state(db, user_id, name)
        if status in ("queued", "running"):
            if stop.wait(POLL_S):
                return None
            waited += POLL_S
            continue
        return model_id if status == "succeeded" else None
    return None


def _publish(db: Database, user_id: int, model_id: int, description: str | None) -> None:
    with db.session() as session:
        user = session.get(User, user_id)
        if user is not None:
            hub.update(session, user, model_id, ModelPatch(visibility="public", description=description))


def fork_when_ready(db: Database, settings: Settings, user_id: int, stop: threading.Event, *,
                    base: str = SMOLLM2_KEY) -> int | None:
    """Wait for the helper; then publish it and launch its fork (once: nothing when a fork of it exists).
    Returns the fork's run id."""
    parent = _wait(db, user_id, HELPER.name, stop)
    if parent is None:
        return None
    with db.session() as session:
        immediate_transaction(session)
        user = repo.lock_user(session, user_id)
        if user is None or repo.has_fork_of(session, user_id, parent):
            return None
        answer_only = repo.live_dataset_named(session, user_id, hub_data.ANSWER_ONLY_NAME)
        if answer_only is None:
            return None  # the user deleted the second dataset: no fork
        run_id = _launch(session, settings, user, FRIENDLIER, answer_only.id, base, parent_model_id=parent)
    _publish(db, user_id, parent, HELPER.description)
    log.info("hub demo: %s succeeded; queued its fork (run %d)", HELPER.name, run_id)
    fork = _wait(db, user_id, FRIENDLIER.name, stop)
    if fork is not None:
        _publish(db, user_id, fork, FRIENDLIER.description)
    return run_id


def start(db: Database, settings: Settings, user_id: int, *, after: threading.Thread | None = None,
          base: str = SMOLLM2_KEY) -> tuple[threading.Thread, threading.Event]:
    """In the background: wait for ``after`` (the base model's install), plan the demo if this user never used the
    hub, and launch the fork when its parent succeeds. Set the returned event to stop watching (at shutdown)."""
    stop = threading.Event()

    def work() -> None:
        try:
            if after is not None:
                after.join()
            if not base_catalog.installed(settings, base):
                log.info("hub demo: the base model %s is not installed on this server; nothing to train", base)
                return
            try:
                plan(db, settings, user_id, base=base)
            except hub_data.DemoDataMissing as exc:
                log.warning("hub demo: %s", exc)
                return
            fork_when_ready(db, settings, user_id, stop, base=base)
        except Exception:  # noqa: BLE001 - the demo is a convenience; the server runs without it
            log.exception("hub demo failed")

    thread = threading.Thread(target=work, name="hub-demo", daemon=True)
    thread.start()
    return thread, stop
