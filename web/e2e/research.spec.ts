// The research layer end to end, on runs produced by the real trainer and evaluator (hubSeed.ts): the failure museum
// (category, filters, feedback that persists), the capability-changes feed and aggregates, the research dataset
// (preview, card, the three export formats) and the builder's advisor (similar runs, a warning when configuring
// like the failing run), and a run's curve over the band of earlier runs on its base model.
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { benchmarksAvailable, ensureHubFixtures, ensureTiny, type HubFixtures } from "./hubSeed";
import { shoot } from "./shots";

function noPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

interface RunJson {
  id: number;
  name: string | null;
  status: string;
  preset: string | null;
  failure_category: string | null;
  failure_message: string | null;
  config: Record<string, unknown>;
  dataset: { id: number; name: string } | null;
}

async function getRun(request: APIRequestContext, id: number): Promise<RunJson> {
  const resp = await request.get(`/api/v1/runs/${id}`);
  expect(resp.ok(), await resp.text()).toBe(true);
  return (await resp.json()) as RunJson;
}

test.describe.configure({ mode: "serial" });

let fx: HubFixtures;
let failed: RunJson;

test.beforeAll(async ({ request }) => {
  // First call trains three toy runs and evaluates three models: minutes on a busy 2-core machine.
  test.setTimeout(1_800_000);
  fx = await ensureHubFixtures(request);
  failed = await getRun(request, fx.failedRunId);
  expect(failed.status).toBe("failed");
  expect(failed.failure_category, "the seed's failing run has an automatic category").toBeTruthy();
});

test("museum: the failing run with its category, error and config; filters by category", async ({ page }) => {
  const errors = noPageErrors(page);
  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Failure museum" }).click();
  await expect(page).toHaveURL(/\/hub\/museum$/);
  await expect(page.getByRole("heading", { name: "Failure museum" })).toBeVisible();

  const card = page.locator(`[data-testid="museum-card"][data-run-id="${fx.failedRunId}"]`);
  await expect(card).toBeVisible();
  const category = failed.failure_category!;
  await expect(card.getByTestId("museum-category")).toHaveAttribute("data-category", category);
  await expect(card.getByTestId("museum-run-link")).toHaveAttribute("href", `/hub/runs/${fx.failedRunId}`);
  if (failed.failure_message) await expect(card.getByTestId("museum-error")).toContainText(failed.failure_message.slice(0, 40));
  await expect(card.getByTestId("museum-config")).toContainText(`seq len ${failed.config.max_seq_length}`);
  // The diagnosis replaces the status/outcome badges (it says more); the run's status stays on it as data.
  await expect(card.getByTestId("museum-diagnosis")).toHaveAttribute("data-status", "failed");

  // The category's chip counts it; choosing the chip filters the list (and the URL) to that category only.
  const chip = page.locator(`[data-testid="category-chip"][data-category="${category}"]`);
  await expect(chip).toBeVisible();
  expect(Number(await chip.getByTestId("chip-count").textContent())).toBeGreaterThanOrEqual(1);
  await shoot(page, "hub-museum");
  await chip.click();
  await expect(page).toHaveURL(new RegExp(`category=${category}`));
  await expect(chip).toHaveAttribute("aria-pressed", "true");
  await expect(card).toBeVisible();
  const cards = page.getByTestId("museum-card");
  const n = await cards.count();
  for (let i = 0; i < n; i++) await expect(cards.nth(i)).toHaveAttribute("data-category", category);

  // Another category (one the seed never produces) empties the list; "All" brings the run back.
  await page.goto("/hub/museum?category=out_of_memory");
  await expect(page.getByTestId("empty-state")).toContainText("No runs match");
  await page.locator('[data-testid="category-chip"][data-category=""]').click();
  await expect(card).toBeVisible();
  // The outcome filter: the failing run is a failure, not a partial result.
  await page.getByLabel("Outcome").selectOption("partial");
  await expect(page).toHaveURL(/outcome=partial/);
  await expect(card).toHaveCount(0);
  await page.getByLabel("Outcome").selectOption("failure");
  await expect(card).toBeVisible();
  expect(errors).toEqual([]);
});

test("museum: thumbs and a comment persist (and stay inert text)", async ({ page, request }) => {
  const comment = `<img src=x onerror="window.__pwned = 1"> window too short ${Date.now()}`;
  await page.goto("/hub/museum");
  const card = page.locator(`[data-testid="museum-card"][data-run-id="${fx.failedRunId}"]`);
  await expect(card).toBeVisible();
  await card.getByTestId("thumbs-down").click();
  await expect(card.getByTestId("thumbs-down")).toHaveAttribute("aria-pressed", "true");
  await expect(card.getByText("Saved")).toBeVisible();
  await card.getByTestId("feedback-comment").fill(comment);
  await card.getByTestId("feedback-save").click();
  await expect(card.getByText("Saved")).toBeVisible();

  await page.reload();
  const again = page.locator(`[data-testid="museum-card"][data-run-id="${fx.failedRunId}"]`);
  await expect(again.getByTestId("thumbs-down")).toHaveAttribute("aria-pressed", "true");
  await expect(again.getByTestId("feedback-comment")).toHaveValue(comment);
  expect(await page.locator("[onerror]").count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

  // The API agrees.
  const museum = await (await request.get("/api/v1/museum?limit=200")).json();
  const item = museum.items.find((i: { run_id: number }) => i.run_id === fx.failedRunId);
  expect(item.feedback_value).toBe(-1);
  expect(item.feedback_comment).toBe(comment);

  // Thumbs up replaces it (the comment stays).
  await again.getByTestId("thumbs-up").click();
  await expect(again.getByTestId("thumbs-up")).toHaveAttribute("aria-pressed", "true");
  await expect
    .poll(async () => (await (await request.get("/api/v1/museum?limit=200")).json()).items.find((i: { run_id: number }) => i.run_id === fx.failedRunId)?.feedback_value)
    .toBe(1);
});

test("capability changes: the feed with plain sentences and model links, filters, aggregates chart", async ({ page, request }) => {
  test.skip(!benchmarksAvailable(), "no benchmark data mirror (../shared/benchmarks): the seed evaluated nothing, so there are no changes");
  const errors = noPageErrors(page);
  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Capability changes" }).click();
  await expect(page).toHaveURL(/\/hub\/changes$/);
  await expect(page.getByRole("heading", { name: "Capability changes" })).toBeVisible();

  // Flagged only by default: the list or its empty state (whether toy models change significantly is not the point).
  await expect(page.getByTestId("change-feed").or(page.getByTestId("empty-state"))).toBeVisible();
  const api = await (await request.get("/api/v1/capability-changes?limit=200")).json();
  expect(api.total, "the seed's evaluations produced comparisons").toBeGreaterThan(0);

  // (The URL drives the checkbox: it turns on once the navigation lands, so click and then check its state.)
  await page.getByTestId("show-all").click();
  await expect(page.getByTestId("show-all")).toBeChecked();
  await expect(page).toHaveURL(/all=1/);
  const items = page.getByTestId("change-item");
  await expect(items.first()).toBeVisible();
  const count = await items.count();
  expect(count).toBeGreaterThan(0);
  expect(count).toBeLessThanOrEqual(Math.min(api.total, 25));
  for (let i = 0; i < Math.min(count, 10); i++) {
    const item = items.nth(i);
    await expect(item.getByTestId("change-sentence")).not.toBeEmpty();
    expect(["up", "down", ""]).toContain(await item.getAttribute("data-direction"));
    await expect(item.getByTestId("change-model-link")).toHaveAttribute("href", /^\/(m\/[^/]+\/[^/]+|hub\/models\/\d+)$/);
  }
  // The seed's fine-tunes are compared with their references; their links go to the /m/owner/slug pages.
  const pageLinks = [`/m/${fx.a.owner}/${fx.a.slug}`, `/m/${fx.fork.owner}/${fx.fork.slug}`];
  const hrefs = await page.getByTestId("change-model-link").evaluateAll((els) => els.map((e) => e.getAttribute("href")));
  expect(hrefs.some((h) => pageLinks.includes(h ?? ""))).toBe(true);

  // Domain and direction filters go to the API and the URL.
  await page.getByLabel("Domain").selectOption("reasoning");
  await expect(page).toHaveURL(/domain=reasoning/);
  await expect(page.getByTestId("change-feed").or(page.getByTestId("empty-state"))).toBeVisible();
  const reasoning = page.getByTestId("change-item");
  for (let i = 0; i < Math.min(await reasoning.count(), 10); i++) await expect(reasoning.nth(i)).toContainText("Reasoning");
  await page.getByLabel("Direction").selectOption("down");
  await expect(page).toHaveURL(/direction=down/);
  await expect(page.getByTestId("change-feed").or(page.getByTestId("empty-state"))).toBeVisible();
  const downs = page.getByTestId("change-item");
  for (let i = 0; i < (await downs.count()); i++) await expect(downs.nth(i)).toHaveAttribute("data-direction", "down");
  await page.getByRole("button", { name: "Clear filters" }).click();
  await expect(items.first()).toBeVisible();

  // Aggregates: the mean cross-domain change by fine-tuning domain, as a bar chart and a table.
  const agg = page.getByTestId("aggregates");
  await expect(agg.getByTestId("aggregate-row-training_domain").first()).toBeVisible();
  await expect(agg.getByTestId("aggregates-chart").locator(".recharts-bar-rectangle").first()).toBeVisible();
  await shoot(page, "hub-changes");
  await shoot(page, "hub-changes-aggregates", { target: agg.getByTestId("aggregates-chart") });

  // A model link opens the model's page.
  const link = page.getByTestId("change-model-link").filter({ hasText: fx.a.owner }).first();
  if (await link.count()) {
    const href = await link.getAttribute("href");
    await link.click();
    await expect(page).toHaveURL(new RegExp(`${href}$`));
  }
  expect(errors).toEqual([]);
});

const TYPES: Record<string, RegExp> = {
  parquet: /application\/vnd\.apache\.parquet/,
  csv: /text\/csv/,
  jsonl: /application\/(x-ndjson|jsonl|x-jsonlines)/,
};

test("research data: preview, columns, card, and every export format downloads with its content type", async ({ page, request }) => {
  const errors = noPageErrors(page);
  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Research data" }).click();
  await expect(page).toHaveURL(/\/hub\/research$/);
  const rows = await (await request.get("/api/v1/research/rows?limit=500")).json();
  expect(rows.total).toBeGreaterThanOrEqual(3);
  const preview = page.getByTestId("research-preview");
  await expect(preview.getByTestId("research-row").first()).toBeVisible();
  await expect(preview.getByTestId("research-row")).toHaveCount(Math.min(rows.total, 20));
  await expect(preview.locator("thead th")).toHaveCount(rows.columns.length);
  await shoot(page, "hub-research");

  await page.getByRole("tab", { name: /Columns/ }).click();
  await expect(page.getByTestId("research-column")).toHaveCount(rows.columns.length);
  const first = rows.columns[0] as { name: string; description: string };
  await expect(page.getByTestId("research-column").first()).toContainText(first.name);
  await expect(page.getByTestId("research-column").first()).toContainText(first.description);

  await page.getByRole("tab", { name: /Dataset card/ }).click();
  await expect(page.getByTestId("research-card").getByRole("heading").first()).toBeVisible();

  for (const format of ["parquet", "csv", "jsonl"] as const) {
    const link = page.getByTestId(`export-${format}`);
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`\\.${format}$`));
    const body = readFileSync((await download.path())!);
    if (format === "parquet") expect(body.subarray(0, 4).toString()).toBe("PAR1");
    if (format === "csv") expect(body.toString("utf8").split(/\r?\n/)[0]).toContain(first.name);
    if (format === "jsonl") {
      const lines = body.toString("utf8").trim().split("\n");
      expect(lines).toHaveLength(rows.total);
      expect(Object.keys(JSON.parse(lines[0]))).toContain(first.name);
    }
    // The same URL answers with the format's content type and as an attachment.
    const resp = await request.get((await link.getAttribute("href"))!);
    expect(resp.status()).toBe(200);
    expect(resp.headers()["content-type"]).toMatch(TYPES[format]);
    expect(resp.headers()["content-disposition"]).toMatch(new RegExp(`attachment; filename=".+\\.${format}"`));
  }
  expect(errors).toEqual([]);
});

test("advisor: similar runs in the builder, and a warning when configuring like the failing run", async ({ page }) => {
  const errors = noPageErrors(page);
  expect(failed.dataset, "the failing run has its dataset").toBeTruthy();
  const preset = failed.preset ?? "quick";

  // The wizard's review step: similar runs on the toy with their outcomes.
  await page.goto(`/hub/train?base=tiny&dataset=${failed.dataset!.id}&preset=${preset}&step=4`);
  const advisor = page.getByTestId("advisor");
  await expect(advisor).toBeVisible();
  await expect(advisor.getByTestId("advisor-run").first()).toBeVisible({ timeout: 20_000 });

  // Expert mode with the failing run's settings: its run comes first, with a warning that this failed before.
  await page.goto(`/hub/train/expert?base=tiny&dataset=${failed.dataset!.id}&preset=${preset}`);
  await expect(page.getByTestId("config-form")).toBeVisible();
  for (const key of ["learning_rate", "max_steps", "batch_size", "max_seq_length", "eval_steps", "save_steps", "logging_steps", "warmup_ratio"]) {
    const v = failed.config[key];
    const input = page.locator(`#cfg-${key}`);
    if (typeof v === "number" && (await input.count())) await input.fill(String(v));
  }
  const warning = page.getByTestId("advisor-warning").filter({ hasText: "failed before" });
  await expect(warning).toBeVisible({ timeout: 20_000 });
  await expect(warning).toContainText(`run ${fx.failedRunId}`);
  const firstRun = page.getByTestId("advisor-run").first();
  await expect(firstRun).toHaveAttribute("data-category", failed.failure_category!);
  await expect(firstRun.getByRole("link").first()).toHaveAttribute("href", `/hub/runs/${fx.failedRunId}`);
  await shoot(page, "hub-advisor", { target: page.getByTestId("advisor") });

  // Moving far away from it (a much lower learning rate, longer sequences) drops the "failed before" warning.
  await page.locator("#cfg-learning_rate").fill("0.00001");
  await page.locator("#cfg-max_seq_length").fill("256");
  await expect(page.getByTestId("advisor-warning").filter({ hasText: "failed before" })).toHaveCount(0, { timeout: 20_000 });
  expect(errors).toEqual([]);
});

test("curve history: the run page draws the run over the band of earlier runs on its base model", async ({ page, request }) => {
  const errors = noPageErrors(page);
  await ensureTiny(request);
  // Runs logged through the external-run API (no training needed): six ordinary ones, then one that learns fast.
  const logRun = async (name: string, start: number, rate: number): Promise<number> => {
    const created = await request.post("/api/v1/runs/external", { data: { base_model: "tiny", name } });
    expect(created.ok(), await created.text()).toBe(true);
    const id = ((await created.json()) as { id: number }).id;
    const points = Array.from({ length: 60 }, (_, i) => ({ step: i + 1, loss: start * Math.exp((-rate * (i + 1)) / 60) }));
    const sent = await request.post(`/api/v1/runs/external/${id}/points`, { data: { points } });
    expect(sent.ok(), await sent.text()).toBe(true);
    const done = await request.post(`/api/v1/runs/external/${id}/finish`, { data: { outcome: "success" } });
    expect(done.ok(), await done.text()).toBe(true);
    return id;
  };
  for (let i = 0; i < 6; i++) await logRun(`curve history ${i}`, 3 + i * 0.2, 1);
  const target = await logRun("curve history: fast learner", 1.5, 4);

  await page.goto(`/hub/runs/${target}`);
  const card = page.getByTestId("curve-history");
  await expect(card.getByTestId("curve-verdict")).toHaveAttribute("data-kind", "faster");
  await expect(card.getByTestId("curve-verdict")).toContainText("Learned faster than usual");
  const runs = Number(await card.getByTestId("curve-history-runs").getAttribute("data-count"));
  expect(runs).toBeGreaterThanOrEqual(6); // the seeded runs on the toy base count too
  await expect(card.getByTestId("curve-history-legend")).toContainText(`The band is made of ${runs} earlier runs`);
  const chart = card.getByTestId("curve-history-chart");
  await expect(chart.locator(".recharts-area")).toHaveCount(2); // p25–p75 and p10–p90
  await expect(chart.locator(".recharts-line-curve").first()).toBeAttached();
  await card.getByText("The band as a table").click();
  await expect(card.getByTestId("curve-history-table").getByRole("row").nth(1)).toBeVisible();
  await shoot(page, "run-curve-history", { target: card });
  expect(errors).toEqual([]);
});
