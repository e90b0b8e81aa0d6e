"""Where a dataset's benchmark contamination shows: the stored check and its API, the run record and the model page
(lineage: a fork inherits), the leaderboards (left out by default, in SQL), the capability feed (a contaminated gain
is labelled and never a headline) and the research export's columns. Reports are real ``ContaminationReport``s
stored through the service, as the check job stores them."""

from __future__ import annotations

import pytest
from dataset_helpers import API, jsonl, upload

from modelmate.contamination.report import ContaminationReport, OverlapExample, TaskOverlap
from modelmate.datasets import contamination
from modelmate.datasets import contamination_repository as crepo
from modelmate.db.base import utcnow
from modelmate.models import CapabilityChange, Job, Model, TrainingRun
from modelmate.research import export

ROWS = [{"instruction": f"question {i} <script>alert(1)</script>", "output": f"answer {i}"} for i in range(12)]


def gsm8k_report(documents: int = 37) -> ContaminationReport:
    example = OverlapExample(row=3, row_text="Natalia sold clips to 48 of her friends <b>in April</b>",
                             document_id="test:0", document_text="Natalia sold clips to 48 of her friends in April",
                             kind="exact", shared_ngrams=9)
    return ContaminationReport(
        index_version="v1-test", n=13, rows_checked=12, tokens_checked=480, seconds=0.4, tasks=(
            TaskOverlap(task="gsm8k", suite_task="gsm8k", domain="math", title="GSM8K", rows=40,
                        documents=documents, total_documents=1319, exact=5, examples=(example,)),
            TaskOverlap(task="mmlu_nutrition", suite_task="mmlu", domain="knowledge", title="MMLU (10 subjects)",
                        rows=4, documents=4, total_documents=306, exact=0)))


def clean_report() -> ContaminationReport:
    return ContaminationReport(index_version="v1-test", n=13, rows_checked=12, tokens_checked=480, seconds=0.2)


def store(database, dataset_id: int, report: ContaminationReport) -> None:
    with database.session() as s:
        contamination.store_report(s, dataset_id, report)


def score(value: float, settings_hash: str = "h1") -> dict:
    return {"score": value, "stderr": 0.001, "tasks": ["gsm8k"], "evaluation_id": None, "mode": "full",
            "settings_hash": settings_hash, "measured_at": utcnow().isoformat()}


def add_model(database, name: str, *, owner_id: int | None, kind: str = "finetuned", visibility: str = "public",
              base_id: int | None = None, parent_id: int | None = None, scores: dict | None = None) -> int:
    with database.session() as s:
        m = Model(name=name, name_key=name.lower(), developer_key="", kind=kind, owner_id=owner_id,
                  visibility=visibility, base_model_id=base_id, parent_model_id=parent_id,
                  benchmark_scores=scores or {}, hub_info={"adapter": True} if kind == "finetuned" else {})
        s.add(m)
        s.flush()
        return m.id


def add_run(database, *, owner_id: int, base_id: int, dataset_id: int | None, output_id: int,
            parent_id: int | None = None) -> int:
    with database.session() as s:
        run = TrainingRun(owner_id=owner_id, base_model_id=base_id, dataset_id=dataset_id, output_model_id=output_id,
                          parent_model_id=parent_id, status="succeeded", training_outcome="success", config={})
        s.add(run)
        s.flush()
        return run.id


@pytest.fixture
def world(client, database, account_client):
    """alice: a contaminated public dataset (GSM8K + MMLU), a clean one and a private contaminated one; models
    trained on them (and a fork of the contaminated one), with math scores; bob: a clean model."""
    alice, bob = account_client("alice"), account_client("bob")
    a, b = alice.user["id"], bob.user["id"]
    ids: dict[str, int] = {}
    for name, owner, visibility in (("dirty", alice, "public"), ("clean", alice, "public"),
                                    ("secret", alice, "private"), ("bobs", bob, "public")):
        r = upload(owner, f"{name}.jsonl", jsonl([{**row, "output": f"{name} {i}"} for i, row in enumerate(ROWS)]),
                   visibility=visibility)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    store(database, ids["dirty"], gsm8k_report())
    store(database, ids["clean"], clean_report())
    store(database, ids["secret"], gsm8k_report(5))
    store(database, ids["bobs"], clean_report())
    base = add_model(database, "Base", owner_id=None, kind="base", scores={"math": score(0.30)})
    ids["base"] = base
    ids["m_dirty"] = add_model(database, "dirty-ft", owner_id=a, base_id=base, scores={"math": score(0.90)})
    ids["m_fork"] = add_model(database, "dirty-fork", owner_id=a, base_id=base, parent_id=ids["m_dirty"],
                              scores={"math": score(0.85)})
    ids["m_clean"] = add_model(database, "clean-ft", owner_id=a, base_id=base, scores={"math": score(0.50)})
    ids["m_secret"] = add_model(database, "secret-ft", owner_id=a, base_id=base, visibility="private",
                                scores={"math": score(0.95)})
    ids["m_bob"] = add_model(database, "bob-ft", owner_id=b, base_id=base, scores={"math": score(0.40)})
    ids["r_dirty"] = add_run(database, owner_id=a, base_id=base, dataset_id=ids["dirty"], output_id=ids["m_dirty"])
    ids["r_fork"] = add_run(database, owner_id=a, base_id=base, dataset_id=ids["clean"], output_id=ids["m_fork"],
                            parent_id=ids["m_dirty"])
    ids["r_clean"] = add_run(database, owner_id=a, base_id=base, dataset_id=ids["clean"], output_id=ids["m_clean"])
    ids["r_secret"] = add_run(database, owner_id=a, base_id=base, dataset_id=ids["secret"],
                              output_id=ids["m_secret"])
    ids["r_bob"] = add_run(database, owner_id=b, base_id=base, dataset_id=ids["bobs"], output_id=ids["m_bob"])
    return alice, bob, ids


# --- storage and the dataset API ----------------------------------------------------------------------------------

def test_an_upload_without_benchmark_data_is_marked_unavailable_and_queues_nothing(client, database,
                                                                                  account_client, settings):
    alice = account_client("alice")
    # `make test` points MODELMATE_BENCHMARK_DATA_DIR at the mirror; this server has none
    client.app.state.settings = settings.model_copy(update={"benchmark_data_dir": None})
    r = upload(alice, "a.jsonl", jsonl(ROWS))
    assert r.status_code == 201
    got = alice.get(f"{API}/datasets/{r.json()['id']}/contamination").json()
    assert got["status"] == "unavailable" and "MODELMATE_BENCHMARK_DATA_DIR" in got["message"]
    assert got["contaminated"] is None and got["tasks"] == [] and got["can_check"] is True
    with database.session() as s:
        assert s.query(Job).filter(Job.kind == "contamination").count() == 0


def test_an_upload_with_benchmark_data_queues_one_check_in_the_background(client, database, account_client,
                                                                         settings, tmp_path):
    alice = account_client("alice")
    client.app.state.settings = settings.model_copy(update={"benchmark_data_dir": tmp_path / "bench"})
    r = upload(alice, "a.jsonl", jsonl(ROWS))
    assert r.status_code == 201
    again = upload(alice, "same.jsonl", jsonl(ROWS))  # the same content: the same dataset, no second job
    assert again.status_code == 200
    got = alice.get(f"{API}/datasets/{r.json()['id']}/contamination").json()
    assert got["status"] == "pending" and got["job_id"] and got["progress"] == 0.0
    with database.session() as s:
        jobs = s.query(Job).filter(Job.kind == "contamination").all()
        assert [(j.status, j.payload) for j in jobs] == [("queued", {"dataset_id": r.json()["id"]})]
    checked = alice.post(f"{API}/datasets/{r.json()['id']}/contamination")  # coalesced with the queued one
    assert checked.status_code == 202 and checked.json()["status"] == "pending"
    with database.session() as s:
        assert s.query(Job).filter(Job.kind == "contamination").count() == 1


def test_the_stored_report_with_examples_and_its_overlap_rows(world, database):
    alice, bob, ids = world
    got = alice.get(f"{API}/datasets/{ids['dirty']}/contamination").json()
    assert got["status"] == "done" and got["contaminated"] is True and got["index_version"] == "v1-test"
    assert got["summary"] == "overlaps GSM8K test: 37 documents; MMLU (10 subjects) test: 4 documents"
    assert got["domains"] == {"math": 37, "knowledge": 4} and got["rows_checked"] == 12 and got["n"] == 13
    gsm = got["tasks"][0]
    assert (gsm["task"], gsm["documents"], gsm["rows"], gsm["exact"], gsm["total_documents"]) == (
        "gsm8k", 37, 40, 5, 1319)
    assert gsm["examples"][0]["row_text"].endswith("<b>in April</b>")  # raw text: the UI renders it inert
    clean = alice.get(f"{API}/datasets/{ids['clean']}/contamination").json()
    assert clean["contaminated"] is False and clean["summary"] == "no overlap with any benchmark test set"
    with database.session() as s:
        rows = {(o.dataset_id, o.task): (o.domain, o.documents, o.rows, o.exact)
                for o in crepo.overlaps_of(s, {ids["dirty"], ids["clean"]})}
    assert rows == {(ids["dirty"], "gsm8k"): ("math", 37, 40, 5),
                    (ids["dirty"], "mmlu_nutrition"): ("knowledge", 4, 4, 0)}
    store(database, ids["dirty"], clean_report())  # a re-check replaces the report and its rows
    with database.session() as s:
        assert crepo.overlaps_of(s, {ids["dirty"]}) == []


def test_another_users_private_report_is_404_and_only_the_owner_checks_again(world):
    alice, bob, ids = world
    assert bob.get(f"{API}/datasets/{ids['secret']}/contamination").status_code == 404
    assert bob.post(f"{API}/datasets/{ids['secret']}/contamination").status_code == 404
    public = bob.get(f"{API}/datasets/{ids['dirty']}/contamination").json()
    assert public["contaminated"] is True and public["can_check"] is False
    assert bob.post(f"{API}/datasets/{ids['dirty']}/contamination").status_code == 403
    assert alice.get(f"{API}/datasets/999999/contamination").status_code == 404


def test_a_never_checked_dataset_says_so(world, database):
    alice, _bob, ids = world
    with database.session() as s:
        s.delete(crepo.get(s, ids["clean"]))
    got = alice.get(f"{API}/datasets/{ids['clean']}/contamination").json()
    assert got["status"] is None and got["contaminated"] is None


# --- run record and model page --------------------------------------------------------------------------------------

def test_the_run_record_and_the_model_page_say_what_the_training_data_overlaps(world, database):
    alice, bob, ids = world
    run = alice.get(f"{API}/runs/{ids['r_dirty']}").json()["contamination"]
    assert run["contaminated"] is True
    assert run["summary"] == ("trained on data that overlaps GSM8K test: 37 documents; MMLU (10 subjects) test: "
                              "4 documents")
    assert run["domains"] == {"math": 37, "knowledge": 4} and run["tasks"][0]["examples"] == []
    fork = alice.get(f"{API}/runs/{ids['r_fork']}").json()["contamination"]
    assert fork["contaminated"] is True and fork["datasets_checked"] == 2  # its own clean data and the parent's
    clean = alice.get(f"{API}/runs/{ids['r_clean']}").json()["contamination"]
    assert clean == {"contaminated": False, "summary": "training data has no overlap with any benchmark test set",
                     "domains": {}, "tasks": [], "datasets_checked": 1, "datasets_unchecked": 0}
    page = bob.get(f"{API}/hub/models/by-id/{ids['m_fork']}").json()
    assert page["contamination"]["contaminated"] is True and "GSM8K test: 37 documents" in \
        page["contamination"]["summary"]
    assert bob.get(f"{API}/hub/models/by-id/{ids['m_clean']}").json()["contamination"]["contaminated"] is False
    with database.session() as s:
        s.delete(crepo.get(s, ids["clean"]))
    unchecked = bob.get(f"{API}/hub/models/by-id/{ids['m_clean']}").json()["contamination"]
    assert unchecked["contaminated"] is None and unchecked["datasets_unchecked"] == 1
    assert "not checked" in unchecked["summary"]


# --- leaderboards ---------------------------------------------------------------------------------------------------

def board_names(client, **params) -> tuple[list[tuple[str, int | None, bool]], dict]:
    body = client.get(f"{API}/leaderboards", params={"domain": "math", **params}).json()
    return [(r["model"]["name"], r["rank"], r["contaminated"]) for r in body["rows"]], body


def test_contaminated_models_are_left_out_of_the_ranking_by_default(world):
    alice, bob, ids = world
    rows, body = board_names(bob)
    assert rows == [("clean-ft", 1, False), ("bob-ft", 2, False), ("Base", 3, False)]
    assert body["hidden_contaminated"] == 2 and body["include_contaminated"] is False  # dirty-ft and its fork
    rows, body = board_names(bob, include_contaminated="true")
    assert rows == [("dirty-ft", 1, True), ("dirty-fork", 2, True), ("clean-ft", 3, False), ("bob-ft", 4, False),
                    ("Base", 5, False)]
    assert body["hidden_contaminated"] == 0
    flagged = body["rows"][0]
    assert flagged["contamination"].startswith("trained on data that overlaps GSM8K test: 37 documents")
    # knowledge overlap only: the reading board (no overlap there) keeps a model with knowledge overlap
    rows, _ = board_names(bob, domain="overall")
    assert [name for name, *_ in rows] == ["clean-ft", "bob-ft", "Base"]


def test_a_private_contaminated_model_does_not_leak_into_others_boards(world):
    alice, bob, _ids = world
    _, body = board_names(bob)
    assert body["hidden_contaminated"] == 2  # not 3: secret-ft is alice's private model
    rows, body = board_names(bob, include_contaminated="true")
    assert "secret-ft" not in [name for name, *_ in rows]
    _, mine = board_names(alice)
    assert mine["hidden_contaminated"] == 3


def test_a_domain_the_data_does_not_overlap_is_ranked_as_usual(world, database):
    alice, bob, ids = world
    with database.session() as s:
        assert crepo.tainted_among(s, [ids["m_dirty"], ids["m_fork"], ids["m_clean"]], "reading") == set()
        assert crepo.tainted_among(s, [ids["m_dirty"], ids["m_fork"], ids["m_clean"]], "knowledge") == {
            ids["m_dirty"], ids["m_fork"]}


# --- capability feed ------------------------------------------------------------------------------------------------

def add_change(database, model_id: int, reference_id: int, domain: str, delta: float) -> int:
    with database.session() as s:
        c = CapabilityChange(model_id=model_id, reference_model_id=reference_id, reference_kind="base",
                             domain=domain, task=None, delta=delta, flagged=True,
                             direction="up" if delta > 0 else "down", sentence=f"{domain} {delta:+.2f}")
        s.add(c)
        s.flush()
        return c.id


def test_a_gain_on_a_contaminated_domain_is_labelled_and_never_a_headline(world, database):
    alice, bob, ids = world
    dirty_math = add_change(database, ids["m_dirty"], ids["base"], "math", 0.6)
    dirty_reading = add_change(database, ids["m_dirty"], ids["base"], "reading", 0.2)
    dirty_drop = add_change(database, ids["m_fork"], ids["base"], "knowledge", -0.2)
    clean_math = add_change(database, ids["m_clean"], ids["base"], "math", 0.2)
    body = bob.get(f"{API}/capability-changes").json()
    by_id = {c["id"]: c for c in body["items"]}
    assert by_id[dirty_math]["contaminated"] is True and by_id[dirty_math]["headline"] is False
    assert by_id[dirty_math]["contamination"] == "contaminated: trained on GSM8K test items"
    assert by_id[dirty_math]["flagged"] is True  # the statistics stand; it is just not news
    assert by_id[dirty_reading]["contaminated"] is False and by_id[dirty_reading]["headline"] is True
    assert by_id[dirty_drop]["contaminated"] is True and by_id[dirty_drop]["headline"] is True  # a loss is a loss
    assert by_id[dirty_drop]["contamination"] == "contaminated: trained on MMLU (10 subjects) test items"
    assert by_id[clean_math]["headline"] is True and by_id[clean_math]["contamination"] is None
    headlines = bob.get(f"{API}/capability-changes", params={"flagged": "true"}).json()
    assert dirty_math not in {c["id"] for c in headlines["items"]} and headlines["total"] == 3
    rest = bob.get(f"{API}/capability-changes", params={"flagged": "false"}).json()
    assert [c["id"] for c in rest["items"]] == [dirty_math]


# --- research export ------------------------------------------------------------------------------------------------

def test_the_export_has_contamination_columns_per_task(world, database):
    _alice, _bob, ids = world
    names = [c.name for c in export.columns()]
    assert "contaminated" in names and "contaminated_gsm8k" in names and "contaminated_mmlu" in names
    with database.session() as s:
        runs = [s.get(TrainingRun, ids[k]) for k in ("r_dirty", "r_fork", "r_clean")]
        rows = export.batch_rows(s, runs)
    dirty, fork, clean = rows
    assert (dirty["contaminated"], dirty["contaminated_gsm8k"], dirty["contaminated_mmlu"],
            dirty["contaminated_humaneval"]) == (True, 37, 4, 0)
    assert (fork["contaminated"], fork["contaminated_gsm8k"]) == (True, 37)
    assert (clean["contaminated"], clean["contaminated_gsm8k"]) == (False, 0)
    csv_text = export.to_csv(rows).decode()
    header, first = csv_text.splitlines()[:2]
    cells = dict(zip(header.split(","), first.split(","), strict=False))
    assert cells["contaminated"] == "true" and cells["contaminated_gsm8k"] == "37"
    with database.session() as s:
        s.delete(crepo.get(s, ids["clean"]))
        unchecked = export.batch_rows(s, [s.get(TrainingRun, ids["r_clean"])])[0]
    assert unchecked["contaminated"] is None and unchecked["contaminated_gsm8k"] is None
