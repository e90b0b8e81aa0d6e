// Hub fixtures for the model page, lineage, museum, changes and research specs, created through the public API with
// the real trainer and evaluator: a dataset, run A on the toy model (success), run B = a fork of A (success), one
// failing run, quick evaluations of the toy base, A and B on a few cheap domains (when the benchmark data mirror is
// there), and A published. Idempotent by name: a second call (another spec, a re-run against the same server) finds
// what exists and only waits for what is still running. Slow on the first call (minutes on a busy 2-core machine):
// call it from a `beforeAll` with a long `test.setTimeout`.
import type { APIRequestContext } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface SeedModel {
  id: number;
  owner: string;
  slug: string;
}

export interface HubFixtures {
  a: SeedModel;
  fork: SeedModel;
  runAId: number;
  failedRunId: number;
}

/** Names the seed uses (and finds its objects by). */
export const SEED = {
  dataset: "Seed support chats",
  brokenDataset: "Seed broken chats",
  runA: "Seed model A",
  runFork: "Seed model A fork",
  runFailed: "Seed broken run",
} as const;

/** The domains measured in the seed: multiple-choice suites, the cheapest with the toy model. */
export const SEED_DOMAINS = ["reasoning", "reading", "truthfulness"] as const;

/** The benchmark data mirror the e2e server is given (playwright.config.ts passes it when it exists). */
export const BENCHMARK_DIR = fileURLToPath(new URL("../../../shared/benchmarks", import.meta.url));

/** Whether evaluations can run here: without the local mirror the tasks would need the network. */
export function benchmarksAvailable(): boolean {
  return existsSync(BENCHMARK_DIR);
}

/** A short, cheap run: a few steps of the toy model, an eval point half-way and at the end. */
const RUN_CONFIG = {
  max_steps: 12,
  batch_size: 4,
  max_seq_length: 64,
  learning_rate: 2e-3,
  eval_split: 0.2,
  eval_steps: 6,
  save_steps: 6,
  logging_steps: 1,
  warmup_ratio: 0,
};

type Json = Record<string, unknown>;

async function ok<T = Json>(what: string, resp: { ok(): boolean; status(): number; text(): Promise<string>; json(): Promise<unknown> }): Promise<T> {
  if (!resp.ok()) throw new Error(`${what}: HTTP ${resp.status()} ${await resp.text()}`);
  return (await resp.json()) as T;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function chats(n: number): string {
  const topics = ["password", "invoice", "refund", "login", "address", "account", "export", "billing"];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const topic = topics[i % topics.length];
    lines.push(JSON.stringify({ messages: [{ role: "user", content: `How do I change my ${topic}? #${i}` }, { role: "assistant", content: `Open Settings, then ${topic}.` }] }));
  }
  return lines.join("\n") + "\n";
}

/** Conversations whose assistant reply starts far beyond a 16-token window: nothing to learn from → invalid_data. */
function brokenChats(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const long = `Please read all of this first. ${"This sentence only pads the question so that it is long. ".repeat(8)}#${i}`;
    lines.push(JSON.stringify({ messages: [{ role: "user", content: long }, { role: "assistant", content: "Fine." }] }));
  }
  return lines.join("\n") + "\n";
}

async function tinyAvailable(request: APIRequestContext): Promise<boolean> {
  const models = await ok<{ key: string; available: boolean }[]>("GET /base-models", await request.get("/api/v1/base-models"));
  return !!models.find((m) => m.key === "tiny")?.available;
}

/** The toy base model, built with the CLI into the e2e server's data dir (as a user would do once). */
export async function ensureTiny(request: APIRequestContext): Promise<void> {
  if (await tinyAvailable(request)) return;
  execFileSync("../.venv/bin/modelmate", ["models", "build-tiny"], {
    env: { ...process.env, MODELMATE_DATA_DIR: process.env.MM_E2E_DATA, MODELMATE_SEED_DEMO: "false", MODELMATE_ENVIRONMENT: "development" },
    stdio: ["ignore", "ignore", "pipe"],
    timeout: 220_000,
  });
  for (let i = 0; i < 40 && !(await tinyAvailable(request)); i++) await sleep(500);
  if (!(await tinyAvailable(request))) throw new Error("the toy base model is still not available after build-tiny");
}

/** The dataset called `name` (a chats JSONL upload of `body`, domain support), uploaded once per server. */
export async function ensureDataset(request: APIRequestContext, name: string, body: string): Promise<number> {
  const page = await ok<{ items: { id: number; name: string }[] }>("GET /datasets", await request.get("/api/v1/datasets?limit=200"));
  const found = page.items.find((d) => d.name === name);
  if (found) return found.id;
  const created = await ok<{ id: number }>(
    "POST /datasets",
    await request.post("/api/v1/datasets", {
      multipart: { file: { name: "chats.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(body) }, name, domain: "support" },
    }),
  );
  return created.id;
}

interface RunBrief {
  id: number;
  name: string | null;
  status: string;
  output_model_id: number | null;
  failure_category?: string | null;
}

async function findRun(request: APIRequestContext, name: string, accept: (r: RunBrief) => boolean): Promise<RunBrief | undefined> {
  for (let offset = 0; ; offset += 200) {
    const page = await ok<{ items: RunBrief[]; total: number }>("GET /runs", await request.get(`/api/v1/runs?limit=200&offset=${offset}`));
    const hit = page.items.find((r) => r.name === name && accept(r));
    if (hit || offset + 200 >= page.total) return hit;
  }
}

async function waitRun(request: APIRequestContext, id: number, timeoutMs = 900_000): Promise<RunBrief> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await ok<RunBrief>(`GET /runs/${id}`, await request.get(`/api/v1/runs/${id}`));
    if (run.status !== "queued" && run.status !== "running") return run;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status} after ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

/** The run named `name` in one of the `want` statuses (waiting for a live one); launched when there is none. */
async function ensureRun(request: APIRequestContext, name: string, body: Json, want: string[]): Promise<RunBrief> {
  const existing = await findRun(request, name, (r) => want.includes(r.status) || r.status === "queued" || r.status === "running");
  let run = existing;
  if (!run) {
    run = await ok<RunBrief>(
      `POST /runs (${name})`,
      await request.post("/api/v1/runs", { data: { name, base_model: "tiny", mode: "expert", preset: "quick", config: RUN_CONFIG, ...body } }),
    );
  }
  const done = await waitRun(request, run.id);
  if (!want.includes(done.status)) {
    const full = await (await request.get(`/api/v1/runs/${run.id}`)).text();
    throw new Error(`seed run "${name}" (${run.id}) ended ${done.status}, expected ${want.join("/")}: ${full.slice(0, 2000)}`);
  }
  return done;
}

interface EvalBrief {
  id: number;
  status: string;
}

async function evaluate(request: APIRequestContext, model: string): Promise<EvalBrief> {
  return ok<EvalBrief>(
    `POST /evaluations (${model})`,
    await request.post("/api/v1/evaluations", { data: { model, mode: "quick", domains: [...SEED_DOMAINS] } }),
  );
}

async function waitEvaluation(request: APIRequestContext, id: number, timeoutMs = 900_000): Promise<EvalBrief> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ev = await ok<EvalBrief>(`GET /evaluations/${id}`, await request.get(`/api/v1/evaluations/${id}`));
    if (ev.status !== "queued" && ev.status !== "running") return ev;
    if (Date.now() > deadline) throw new Error(`evaluation ${id} still ${ev.status} after ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

async function pageRef(request: APIRequestContext, modelId: number): Promise<SeedModel> {
  const page = await ok<{ model: { id: number; owner: string; slug: string } }>(
    `GET /hub/models/by-id/${modelId}`,
    await request.get(`/api/v1/hub/models/by-id/${modelId}`),
  );
  return { id: page.model.id, owner: page.model.owner, slug: page.model.slug };
}

let cached: Promise<HubFixtures> | null = null;

/**
 * Create (or find) the hub fixtures. The signature is shared with research.spec.ts: keep it stable.
 * Evaluations are skipped when the benchmark mirror is missing (`benchmarksAvailable()` tells the specs).
 */
export function ensureHubFixtures(request: APIRequestContext): Promise<HubFixtures> {
  // One seeding per worker process; a failure is not cached (the next spec tries again).
  if (!cached) cached = seed(request).catch((err) => {
    cached = null;
    throw err;
  });
  return cached;
}

async function seed(request: APIRequestContext): Promise<HubFixtures> {
  await ensureTiny(request);
  const datasetId = await ensureDataset(request, SEED.dataset, chats(40));
  const brokenId = await ensureDataset(request, SEED.brokenDataset, brokenChats(12));

  const a = await ensureRun(request, SEED.runA, { dataset_id: datasetId }, ["succeeded"]);
  if (!a.output_model_id) throw new Error(`seed run A (${a.id}) has no output model`);
  const failed = await ensureRun(request, SEED.runFailed, { dataset_id: brokenId, config: { ...RUN_CONFIG, max_seq_length: 16 } }, ["failed"]);
  const fork = await ensureRun(request, SEED.runFork, { dataset_id: datasetId, parent_model_id: a.output_model_id }, ["succeeded"]);
  if (!fork.output_model_id) throw new Error(`seed fork run (${fork.id}) has no output model`);

  if (benchmarksAvailable()) {
    // POST is idempotent for the same model and settings (a cached evaluation comes back at once).
    const started = [];
    for (const model of ["tiny", String(a.output_model_id), String(fork.output_model_id)]) started.push(await evaluate(request, model));
    for (const ev of started) {
      const done = await waitEvaluation(request, ev.id);
      if (done.status !== "final" && done.status !== "partial") {
        throw new Error(`seed evaluation ${ev.id} ended ${done.status}: ${(await (await request.get(`/api/v1/evaluations/${ev.id}`)).text()).slice(0, 2000)}`);
      }
    }
  }

  await ok(
    "PATCH /hub/models (publish A)",
    await request.patch(`/api/v1/hub/models/${a.output_model_id}`, { data: { visibility: "public" } }),
  );
  return { a: await pageRef(request, a.output_model_id), fork: await pageRef(request, fork.output_model_id), runAId: a.id, failedRunId: failed.id };
}
