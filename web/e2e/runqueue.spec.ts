// The run page tells the truth, at desktop and phone width: a queued run shows its place in the queue, what runs
// now and the wait, and says "queued since" (never "started") until it starts; a succeeded run shows its model's
// evaluation from the evaluation's real state (none claimed when none was asked for), linking to the scores.
// Real server, real worker, real training of the toy model.
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { benchmarksAvailable, ensureDataset, ensureTiny } from "./hubSeed";
import { shoot } from "./shots";

const VIEWPORTS = [
  { name: "desktop", width: 1360, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;

const QUICK = { batch_size: 4, max_seq_length: 64, learning_rate: 2e-3, eval_split: 0, logging_steps: 1, warmup_ratio: 0 };

type Json = Record<string, unknown>;

async function ok<T = Json>(what: string, resp: { ok(): boolean; status(): number; text(): Promise<string>; json(): Promise<unknown> }): Promise<T> {
  if (!resp.ok()) throw new Error(`${what}: HTTP ${resp.status()} ${await resp.text()}`);
  return (await resp.json()) as T;
}

function chats(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ messages: [{ role: "user", content: `Where is order ${i}?` }, { role: "assistant", content: `Order ${i} ships today.` }] }));
  }
  return lines.join("\n") + "\n";
}

async function launch(request: APIRequestContext, datasetId: number, name: string, steps: number): Promise<number> {
  const run = await ok<{ id: number }>(
    `POST /runs (${name})`,
    await request.post("/api/v1/runs", {
      data: { name, base_model: "tiny", dataset_id: datasetId, mode: "expert", preset: "quick", config: { ...QUICK, max_steps: steps } },
    }),
  );
  return run.id;
}

async function runStatus(request: APIRequestContext, id: number): Promise<string> {
  return (await ok<{ status: string }>(`GET /runs/${id}`, await request.get(`/api/v1/runs/${id}`))).status;
}

/** Nothing on the page is wider than the window (the phone layout wraps instead of scrolling sideways). */
async function expectNoSidewaysScroll(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(1);
}

test.describe.configure({ mode: "serial" });

let datasetId = 0;
let blocker = 0;
let waiting = 0;

test.beforeAll(async ({ request }) => {
  test.setTimeout(300_000);
  await ensureTiny(request);
  datasetId = await ensureDataset(request, "Run page queue chats", chats(24));
  // a long run holds the worker; the second one waits behind it
  blocker = await launch(request, datasetId, "Queue blocker run", 5000);
  waiting = await launch(request, datasetId, "Queue waiting run", 4);
  await expect.poll(() => runStatus(request, blocker), { timeout: 240_000, intervals: [500] }).toBe("running");
});

test.afterAll(async ({ request }) => {
  for (const id of [waiting, blocker]) if (id) await request.post(`/api/v1/runs/${id}/cancel`);
});

for (const vp of VIEWPORTS) {
  test.describe(vp.name, () => {
    test.use({ viewport: { width: vp.width, height: vp.height } });

    test(`a queued run shows its place, what runs now and 'queued since' (${vp.name})`, async ({ page, request }) => {
      expect(await runStatus(request, waiting)).toBe("queued");
      await page.goto(`/hub/runs/${waiting}`);
      await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "queued");
      const panel = page.getByTestId("queue-panel");
      await expect(panel).toBeVisible();
      await expect(page.getByTestId("queue-position")).toHaveText(/Next in the queue|Position \d+ in the queue/);
      await expect(page.getByTestId("queue-running")).toContainText("Queue blocker run");
      await expect(page.getByTestId("queue-running")).toContainText("training");
      await expect(page.getByTestId("queue-wait")).toHaveText(/Expected to start in (about|at least) |The wait is unknown/);
      await expect(page.getByTestId("queued-since")).toContainText("Queued since");
      // the header: queued since the launch, never "started" while queued
      const header = page.locator("h1 + p");
      await expect(header).toContainText("queued since");
      await expect(header).not.toContainText("started");
      await expect(page.getByText("Waiting for the worker to pick it up…")).toHaveCount(0);
      await expectNoSidewaysScroll(page);
      await shoot(page, vp.name === "desktop" ? "run-queued" : "run-queued-phone");

      // the blocker's own page: it started, so the header says so
      await page.goto(`/hub/runs/${blocker}`);
      await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "running");
      await expect(page.locator("h1 + p")).toContainText(" · started ");
      await expect(page.locator("h1 + p")).not.toContainText("queued since");
      await expect(page.getByTestId("queue-panel")).toHaveCount(0);
    });
  });
}

test.describe("evaluation state", () => {
  let runId = 0;
  let modelId = 0;

  test.beforeAll(async ({ request }) => {
    test.setTimeout(400_000);
    for (const id of [waiting, blocker]) if (id) await request.post(`/api/v1/runs/${id}/cancel`);
    runId = await launch(request, datasetId, "Run page evaluation run", 6);
    await expect.poll(() => runStatus(request, runId), { timeout: 300_000, intervals: [1000] }).toBe("succeeded");
    modelId = (await ok<{ output_model_id: number }>("GET run", await request.get(`/api/v1/runs/${runId}`))).output_model_id;
  });

  for (const vp of VIEWPORTS) {
    test(`a succeeded run claims no evaluation until one exists, then follows it to the scores (${vp.name})`, async ({ page, request }) => {
      test.setTimeout(300_000);
      await page.setViewportSize({ width: vp.width, height: vp.height });
      const evaluations = await ok<{ total: number }>("GET /evaluations", await request.get(`/api/v1/evaluations?model_id=${modelId}`));
      await page.goto(`/hub/runs/${runId}`);
      await expect(page.getByTestId("run-outcome")).toHaveAttribute("data-outcome", "success");
      if (evaluations.total === 0) {
        // automatic evaluation is off on this server: nothing is evaluating, and the page does not pretend it is
        await expect(page.getByTestId("evaluation-status")).toHaveCount(0);
        await expect(page.getByText(/Evaluating on/)).toHaveCount(0);
      }
      await expectNoSidewaysScroll(page);
      test.skip(!benchmarksAvailable(), "no local benchmark mirror: evaluations would need the network");
      if (evaluations.total === 0) {
        await ok("POST /evaluations", await request.post("/api/v1/evaluations", { data: { model: String(modelId), mode: "quick", domains: ["reading"] } }));
      }
      await page.reload(); // a finished run's page stops polling; once an evaluation is pending it polls again
      const status = page.getByTestId("evaluation-status");
      await expect(status).toBeVisible();
      const state = await status.getAttribute("data-state");
      expect(["queued", "running", "paused", "done"]).toContain(state);
      if (state !== "done") await expect(status).toContainText(/Evaluation on the reading domain queued|Evaluating on the reading domain…|paused/);
      await expect(status).toHaveAttribute("data-state", "done", { timeout: 240_000 });
      await expect(status).toContainText("Evaluated on the reading domain");
      await expect(page.getByText(/Evaluating on/)).toHaveCount(0);
      const link = page.getByTestId("evaluation-scores-link");
      await expect(link).toHaveAttribute("href", `/hub/models/${modelId}`);
      await expectNoSidewaysScroll(page);
      await shoot(page, vp.name === "desktop" ? "run-evaluated" : "run-evaluated-phone", { target: status });
      await link.click();
      await expect(page.getByTestId("benchmarks")).toBeVisible();
    });
  }
});
