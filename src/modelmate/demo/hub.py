"""The hub's demo: on the first start of a fresh install, a small family of real runs on the toy model.

Nothing here is canned. Three datasets are uploaded through the datasets service, and runs are launched through the
fine-tuning service; the job worker trains them with the real trainer. Automatic evaluation (when it is on) then
benchmarks every trained model with lm-eval. What comes out fills every hub page:

* **Support helper (demo)** learns short answers for a note-taking app. It is published, so it has a public model
  page with a demo, a download and a fork button.
* **… friendlier (demo fork)** continues that adapter on a second dataset. It is the lineage graph's second
  generation, with score deltas on its edge.
* **… learning rate too low (demo)** trains, but its loss stays flat: the failure museum files it as *no learning*.
* **Long emails in a 16-token window (demo)** fails: the replies start beyond the window, so there is nothing to
  learn (*invalid data*).

The jobs queue at a negative priority, and so do their evaluations, so anything a user launches runs first. The
plan is written once, for a user who has never uploaded a dataset or launched a run, in one transaction. The fork
needs its parent's adapter, so it is launched when the parent succeeds, by a thread that watches the parent, and
again at the next start if the server stopped first.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.datasets import service as datasets
from modelmate.datasets.schemas import UploadFields
from modelmate.db.engine import Database, immediate_transaction
from modelmate.demo import repository as repo
from modelmate.finetune import service as finetune
from modelmate.finetune.schemas import RunCreate
from modelmate.hub import service as hub
from modelmate.hub.schemas import ModelPatch
from modelmate.models import User

log = logging.getLogger("modelmate.demo")

PRIORITY = -10  # below every job a user queues (0)
POLL_S = 2.0
WAIT_S = 3600.0  # how long the watcher waits for one run before it gives up (the next start tries again)

# --- the data -------------------------------------------------------------------------------------------------------

APP = "Inkwell"  # a made-up note-taking app the support datasets are about

_QA = [
    ("How do I reset my password?", "Open Settings, choose Account, then Reset password. We email you a link."),
    ("How can I export my notes?", "Open the notebook, choose Export, and pick Markdown, PDF or HTML."),
    ("Can I share a notebook with a colleague?", "Yes: open the notebook, choose Share, and enter their email."),
    ("Where do deleted notes go?", "To the Trash. They stay there for 30 days, and you can restore them."),
    ("How do I change the app's theme?", "Open Settings, then Appearance, and choose Light, Dark or System."),
    ("Why is sync not working?", "Check that you are online, then choose Sync now from the File menu."),
    ("How do I add a tag to a note?", "Type # and the tag's name anywhere in the note, or use the Tags button."),
    ("Can I use the app offline?", "Yes. Your notes are kept on your device and sync when you are back online."),
    ("How do I cancel my subscription?", "Open Settings, then Billing, and choose Cancel plan."),
    ("How do I get an invoice?", "Open Settings, then Billing; every invoice is listed there as a PDF."),
    ("Can I import notes from another app?", "Yes: choose Import from the File menu and pick the exported file."),
    ("How do I lock a note?", "Open the note, choose the lock icon, and set a password for locked notes."),
    ("How big can an attachment be?", "Up to 25 MB per file on the free plan and 200 MB on the paid plans."),
    ("How do I delete my account?", "Open Settings, then Account, and choose Delete account at the bottom."),
    ("Can I search inside PDFs?", "Yes, on the paid plans: text in attached PDFs is searched with your notes."),
    ("How do I turn off notifications?", "Open Settings, then Notifications, and switch off the ones you don't want."),
]
_ASKING = ["{q}", "Hi! {q}", "Quick question about {app}: {q}"]
_SIGN_OFF = " Is there anything else I can help you with?"
_EMAIL = ("Hello team, I have been using {app} every day for about two years now, mostly for meeting notes and for "
          "planning my week, and until recently everything worked really well on both my laptop and my phone. "
          "Since last week, though, something has changed and I am not sure whether it is me or the app. {q} "
          "Thanks a lot in advance, and sorry for the long message.")


def _chats(pairs: list[tuple[str, str]], asking: list[str], suffix: str = "") -> bytes:
    rows = [{"messages": [{"role": "user", "content": ask.format(q=q, app=APP)},
                          {"role": "assistant", "content": a + suffix}]}
            for ask in asking for q, a in pairs]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@dataclass(frozen=True)
class DemoDataset:
    name: str
    description: str
    body: bytes


SUPPORT = DemoDataset(
    "Support chats (demo)",
    f"Questions about {APP}, a made-up note-taking app, each with a short answer from its support team.",
    _chats(_QA, _ASKING))
FRIENDLY = DemoDataset(
    "Friendly support replies (demo)",
    "The same kind of questions; every answer ends by offering more help.",
    _chats(_QA, _ASKING[:2], _SIGN_OFF))
EMAILS = DemoDataset(
    "Long customer emails (demo)",
    "Long emails with short answers: the answer starts far into each conversation.",
    _chats(_QA[:12], [_EMAIL]))

# --- the runs -------------------------------------------------------------------------------------------------------

_SHORT = {"batch_size": 4, "max_seq_length": 128, "eval_split": 0.2, "logging_steps": 1, "warmup_ratio": 0.05}


@dataclass(frozen=True)
class DemoRun:
    name: str
    dataset: DemoDataset
    config: dict[str, Any]
    description: str | None = None  # set on the model page when the run succeeds


HELPER = DemoRun("Support helper (demo)", SUPPORT,
                 {**_SHORT, "max_steps": 40, "learning_rate": 1e-2, "eval_steps": 10, "save_steps": 20},
                 f"A demo fine-tune of the toy model on support chats about {APP}. Trained on this machine when "
                 "ModelMate first started; the toy knows no language, so expect noise, not answers.")
FRIENDLIER = DemoRun("Support helper, friendlier (demo fork)", FRIENDLY,
                     {**_SHORT, "max_steps": 24, "learning_rate": 1e-2, "eval_steps": 8, "save_steps": 12},
                     "A demo fork: continues Support helper (demo) on replies that end by offering more help.")
TOO_SLOW = DemoRun("Support helper, learning rate too low (demo)", SUPPORT,
                   {**_SHORT, "max_steps": 20, "learning_rate": 1e-6, "eval_steps": 10, "save_steps": 20})
TOO_SHORT = DemoRun("Long emails in a 16-token window (demo)", EMAILS,
                    {**_SHORT, "max_steps": 12, "max_seq_length": 16, "eval_steps": 6, "save_steps": 12})
PLANNED = (HELPER, TOO_SLOW, TOO_SHORT)  # launched at once; FRIENDLIER follows HELPER


def _upload(session: Session, settings: Settings, user: User, dataset: DemoDataset) -> int:
    fields = UploadFields(name=dataset.name, description=dataset.description, domain="support", license="CC0-1.0",
                          base_model="tiny")
    prepared = datasets.prepare_upload(session, settings, io.BytesIO(dataset.body), filename="chats.jsonl",
                                       fields=fields)
    row, _ = datasets.register(session, settings, user, prepared, fields)
    return row.id


def _launch(session: Session, settings: Settings, user: User, run: DemoRun, dataset_id: int,
            parent_model_id: int | None = None) -> int:
    payload = RunCreate(name=run.name, base_model="tiny", dataset_id=dataset_id, mode="expert", preset="quick",
                        config=run.config, parent_model_id=parent_model_id)
    return finetune.create_run(session, settings, user, payload, priority=PRIORITY).id


def plan(db: Database, settings: Settings, user_id: int) -> list[int]:
    """Upload the datasets and launch the first runs, once, for a user who never used the hub. Returns run ids."""
    with db.session() as session:
        immediate_transaction(session)
        user = repo.lock_user(session, user_id)
        if user is None or repo.hub_used(session, user_id):
            return []
        ids = {d.name: _upload(session, settings, user, d) for d in (SUPPORT, FRIENDLY, EMAILS)}
        runs = [_launch(session, settings, user, run, ids[run.dataset.name]) for run in PLANNED]
    log.info("hub demo: queued runs %s on the toy model", runs)
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


def fork_when_ready(db: Database, settings: Settings, user_id: int, stop: threading.Event) -> int | None:
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
        friendly = repo.live_dataset_named(session, user_id, FRIENDLY.name)
        if friendly is None:
            return None  # the user deleted the second dataset: no fork
        run_id = _launch(session, settings, user, FRIENDLIER, friendly.id, parent_model_id=parent)
    _publish(db, user_id, parent, HELPER.description)
    log.info("hub demo: %s succeeded; queued its fork (run %d)", HELPER.name, run_id)
    fork = _wait(db, user_id, FRIENDLIER.name, stop)
    if fork is not None:
        _publish(db, user_id, fork, FRIENDLIER.description)
    return run_id


def start(db: Database, settings: Settings, user_id: int, *, after: threading.Thread | None = None
          ) -> tuple[threading.Thread, threading.Event]:
    """In the background: wait for ``after`` (the toy's build), plan the demo if this user never used the hub, and
    launch the fork when its parent succeeds. Set the returned event to stop watching (at shutdown)."""
    stop = threading.Event()

    def work() -> None:
        try:
            if after is not None:
                after.join()
            from modelmate.finetune import base_models

            if not base_models.tiny_built(base_models.tiny_dir(settings)):
                log.info("hub demo: the toy model is not built; nothing to train")
                return
            plan(db, settings, user_id)
            fork_when_ready(db, settings, user_id, stop)
        except Exception:  # noqa: BLE001 - the demo is a convenience; the server runs without it
            log.exception("hub demo failed")

    thread = threading.Thread(target=work, name="hub-demo", daemon=True)
    thread.start()
    return thread, stop
