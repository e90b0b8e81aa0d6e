// Fixtures for contamination.spec.ts: a dataset uploaded through the API, its contamination report stored the way the
// check job stores it (datasets.contamination.store_report, with a real ContaminationReport: GSM8K test, 37
// documents, one example), and two fine-tuned models on the math leaderboard: one trained on that dataset, one not.
// The report is constructed rather than computed so that the UI's checks do not depend on the benchmark mirror.
// Idempotent by name.
import type { APIRequestContext } from "@playwright/test";
import { execFileSync } from "node:child_process";

export const CONTAMINATION_SEED = {
  dataset: "E2E contaminated math",
  clean: "E2E clean math model",
  dirty: "E2E contaminated math model",
  exampleRow: "Natalia sold clips to <b>48</b> of her friends in April",
} as const;

const SEED_PY = String.raw`
import sys
from modelmate.benchmarking import service as _entries  # noqa: F401  (registers the leaderboard-entries hook)
from modelmate.config import Settings
from modelmate.contamination.report import ContaminationReport, OverlapExample, TaskOverlap
from modelmate.datasets import contamination
from modelmate.db.base import utcnow
from modelmate.db.engine import Database
from modelmate.models import Dataset, Model, TrainingRun

dataset_id, clean_name, dirty_name, row_text = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
db = Database.from_settings(Settings())
example = OverlapExample(row=0, row_text=row_text, document_id="test:0", kind="exact", shared_ngrams=0,
                         document_text="Natalia sold clips to 48 of her friends in April, and then she sold half as many")
report = ContaminationReport(index_version="e2e", n=13, rows_checked=3, tokens_checked=60, seconds=0.1, tasks=(
    TaskOverlap(task="gsm8k", suite_task="gsm8k", domain="math", title="GSM8K", rows=3, documents=37,
                total_documents=1319, exact=1, examples=(example,)),))
with db.session() as s:
    dataset = s.get(Dataset, dataset_id)
    contamination.store_report(s, dataset_id, report)
    names = {m.name: m for m in s.query(Model).filter(Model.name.in_([clean_name, dirty_name, "E2E contamination base"]))}
    if dirty_name not in names:
        score = lambda v: {"math": {"score": v, "stderr": 0.01, "tasks": ["gsm8k"], "evaluation_id": None,
                                    "mode": "full", "settings_hash": "e2e-contamination",
                                    "measured_at": utcnow().isoformat()}}
        base = Model(name="E2E contamination base", name_key="e2e contamination base", developer_key="",
                     kind="base", visibility="public", owner_id=None, hub_info={})
        s.add(base)
        s.flush()
        for name, value in ((clean_name, 0.41), (dirty_name, 0.93)):
            m = Model(name=name, name_key=name.lower(), developer_key="", kind="finetuned", visibility="public",
                      owner_id=dataset.owner_id, base_model_id=base.id, benchmark_scores=score(value),
                      hub_info={"adapter": True})
            s.add(m)
            s.flush()
            s.add(TrainingRun(owner_id=dataset.owner_id, base_model_id=base.id, output_model_id=m.id,
                              dataset_id=dataset_id if name == dirty_name else None, status="succeeded",
                              training_outcome="success", config={}))
db.dispose()
`;

async function json<T>(what: string, resp: { ok(): boolean; status(): number; text(): Promise<string>; json(): Promise<unknown> }): Promise<T> {
  if (!resp.ok()) throw new Error(`${what}: HTTP ${resp.status()} ${await resp.text()}`);
  return (await resp.json()) as T;
}

/** Upload the dataset (once), let its background check settle, then store the report and the models. */
export async function ensureContaminationFixtures(request: APIRequestContext): Promise<{ datasetId: number }> {
  const page = await json<{ items: { id: number; name: string }[] }>("GET /datasets", await request.get("/api/v1/datasets?limit=200"));
  let datasetId = page.items.find((d) => d.name === CONTAMINATION_SEED.dataset)?.id;
  if (!datasetId) {
    const rows = [CONTAMINATION_SEED.exampleRow, "What is 7 times 6?", "Name a prime above 10."]
      .map((q, i) => JSON.stringify({ instruction: q, output: `answer ${i}` }))
      .join("\n");
    const created = await json<{ id: number }>(
      "POST /datasets",
      await request.post("/api/v1/datasets", {
        multipart: { file: { name: "math.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(rows + "\n") }, name: CONTAMINATION_SEED.dataset, domain: "math" },
      }),
    );
    datasetId = created.id;
  }
  // The upload queued a real check (or marked it unavailable without benchmark data): wait until it settles so it
  // cannot overwrite the report stored below.
  for (let i = 0; i < 120; i++) {
    const c = await json<{ status: string | null }>("GET contamination", await request.get(`/api/v1/datasets/${datasetId}/contamination`));
    if (c.status !== "pending" && c.status !== "running") break;
    await new Promise((r) => setTimeout(r, 500));
  }
  execFileSync("../.venv/bin/python", ["-c", SEED_PY, String(datasetId), CONTAMINATION_SEED.clean, CONTAMINATION_SEED.dirty, CONTAMINATION_SEED.exampleRow], {
    env: { ...process.env, MODELMATE_DATA_DIR: process.env.MM_E2E_DATA, MODELMATE_SEED_DEMO: "false", MODELMATE_ENVIRONMENT: "development" },
    stdio: ["ignore", "ignore", "pipe"],
    timeout: 60_000,
  });
  return { datasetId };
}
