// The fine-tuning hub end to end: real server, real worker, real LoRA training of the toy model in a child process.
import { expect, test, type APIRequestContext } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { failOnDialogs, shoot } from "./shots";

/** 40 short support chats in OpenAI messages format (one with markup that must stay inert). Short rows keep each
 * training step cheap: the quick preset's steps each go over the whole (packed) dataset. */
function conversations(n = 40): string {
  const topics = ["password", "invoice", "refund", "login", "address", "account", "export", "billing"];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const topic = topics[i % topics.length];
    const user = i === 0 ? '<img src=x onerror="window.__pwned = 1"> password?' : `Change my ${topic}? #${i}`;
    lines.push(JSON.stringify({ messages: [{ role: "user", content: user }, { role: "assistant", content: `Settings, then ${topic}.` }] }));
  }
  return lines.join("\n") + "\n";
}

async function tinyAvailable(request: APIRequestContext): Promise<boolean> {
  const resp = await request.get("/api/v1/base-models");
  if (!resp.ok()) throw new Error(`GET /base-models: ${resp.status()} ${await resp.text()}`);
  const models = (await resp.json()) as { key: string; available: boolean }[];
  return !!models.find((m) => m.key === "tiny")?.available;
}

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  test.setTimeout(240_000);
  // The toy base model, built with the CLI into the e2e server's data dir (as a user would do once).
  if (!(await tinyAvailable(request))) {
    execFileSync("../.venv/bin/modelmate", ["models", "build-tiny"], {
      env: { ...process.env, MODELMATE_DATA_DIR: process.env.MM_E2E_DATA, MODELMATE_SEED_DEMO: "false", MODELMATE_ENVIRONMENT: "development" },
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 220_000,
    });
  }
  await expect.poll(() => tinyAvailable(request), { timeout: 20_000 }).toBe(true);
});

let runUrl = "";

test("the guided wizard launches a run on the toy model; the run page shows the curve growing until success", async ({ page }) => {
  // On a quiet 2-core machine the toy's quick run takes well under a minute; a busy machine can be 10x slower.
  test.setTimeout(600_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const dialogs = failOnDialogs(page);
  const file = test.info().outputPath("support-chats.jsonl");
  writeFileSync(file, conversations(40));

  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Train" }).click();
  await expect(page).toHaveURL(/\/hub\/train/);
  await expect(page.getByRole("heading", { name: "Train a model" })).toBeVisible();

  // Step 1: base model. The toy is labelled; gated ones are marked.
  const toy = page.getByTestId("base-model-card").filter({ has: page.getByTestId("toy-badge") });
  await expect(toy).toHaveCount(1);
  await expect(toy).toContainText("toy");
  await expect(toy).not.toHaveAttribute("aria-disabled", "true");
  await expect(page.getByTestId("base-model-card").filter({ hasText: "gated" }).first()).toBeVisible();
  await shoot(page, "hub-train");
  await toy.click();
  await expect(toy).toHaveAttribute("aria-checked", "true");
  await page.getByTestId("wizard-next").click();

  // Step 2: upload the dataset, with progress and the server's check.
  await page.getByRole("tab", { name: "Upload a file" }).click();
  await page.getByTestId("dataset-file").setInputFiles(file);
  await expect(page.getByTestId("chosen-file")).toHaveText("support-chats.jsonl");
  await page.getByLabel("Name", { exact: true }).fill("Support chats");
  await page.getByRole("button", { name: "Upload dataset" }).click();
  await expect(page.getByTestId("chosen-dataset")).toContainText("Support chats", { timeout: 30_000 });
  await expect(page.getByTestId("chosen-dataset")).toContainText("40 rows");
  await page.getByTestId("wizard-next").click();

  // Step 3: the goal presets, with their explanations.
  const quick = page.getByTestId("preset-quick");
  await expect(quick).toContainText("Quick try");
  await expect(page.getByTestId("preset-balanced")).toContainText("Balanced");
  await expect(page.getByTestId("preset-thorough")).toContainText("Thorough");
  await quick.click();
  await expect(quick).toHaveAttribute("aria-checked", "true");
  await page.getByTestId("wizard-next").click();

  // Step 4: the estimate, a name, launch.
  const estimate = page.getByTestId("estimate");
  await expect(estimate).toContainText("Training steps", { timeout: 20_000 });
  await expect(estimate).toContainText("Peak memory");
  await expect(estimate).toContainText("Trainable parameters");
  await page.getByLabel("Name of your model").fill("Support bot (toy)");
  await page.getByTestId("launch").click();
  await expect(page).toHaveURL(/\/hub\/runs\/\d+$/);
  runUrl = new URL(page.url()).pathname;
  await expect(page.getByRole("heading", { name: "Support bot (toy)" })).toBeVisible();

  // The curve grows while it trains: the point count and the step go up between polls.
  const points = page.getByTestId("curve-points");
  const count = async () => Number(await points.getAttribute("data-count"));
  const step = async () => Number(await page.getByTestId("run-step").getAttribute("data-step"));
  await expect.poll(count, { timeout: 240_000, intervals: [250] }).toBeGreaterThan(0);
  const firstCount = await count();
  const firstStep = await step();
  await expect(page.getByTestId("loss-chart").getByRole("application")).toBeVisible();
  await expect(page.getByTestId("loss-chart").locator(".recharts-line-curve").first()).toBeAttached();
  const status = page.getByTestId("run-status");
  if ((await status.getAttribute("data-status")) === "running") {
    await expect.poll(count, { timeout: 120_000, intervals: [250] }).toBeGreaterThan(firstCount);
    await shoot(page, "hub-run-live");
  }
  await expect(status).toHaveAttribute("data-status", "succeeded", { timeout: 480_000 });
  expect(await count()).toBeGreaterThan(firstCount);
  expect(await step()).toBeGreaterThan(firstStep);
  const outcome = page.getByTestId("run-outcome");
  await expect(outcome).toHaveAttribute("data-outcome", "success");
  await expect(page.getByTestId("num-loss")).not.toContainText("—");
  await expect(page.getByTestId("config-table")).toContainText("learning_rate");
  await expect(page.getByTestId("artifacts")).toContainText("adapter_model.safetensors");

  // Logs (collapsible) and the fine-tuned model.
  await page.getByTestId("run-log").locator("summary").click();
  await expect(page.getByTestId("run-log").locator("pre")).not.toBeEmpty();
  await shoot(page, "hub-run");
  // The fine-tuned model's one page: /hub/models/ID redirects to /m/owner/slug (chat, download, fork, scores).
  await outcome.getByTestId("output-model-link").click();
  await expect(page).toHaveURL(/\/m\/[^/]+\/support-bot-toy(-\d+)?$/);
  await expect(page.getByRole("heading", { name: "Support bot (toy)" })).toBeVisible();
  await expect(page.getByTestId("model-page")).toBeVisible();
  await expect(page.getByTestId("download")).toBeVisible();
  expect(errors).toEqual([]);
  expect(dialogs).toEqual([]);
});

test("runs list filters by status and outcome", async ({ page }) => {
  await page.goto("/hub/runs");
  await expect(page.getByTestId("run-row").first()).toContainText("Support bot (toy)");
  await page.getByLabel("Status").selectOption("failed");
  await expect(page).toHaveURL(/status=failed/);
  await expect(page.getByTestId("empty-state")).toContainText("No runs match");
  await page.getByLabel("Status").selectOption("succeeded");
  await page.getByLabel("Outcome").selectOption("success");
  await expect(page).toHaveURL(/status=succeeded/);
  // other specs (contamination.spec.ts) add succeeded runs of their own to this shared server: look for ours
  const ours = page.getByTestId("run-row").filter({ hasText: "Support bot (toy)" });
  await expect(ours).toHaveCount(1);
  await ours.getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`${runUrl}$`));
});

test("dataset page: stats, histogram, preview rendered as text, delete", async ({ page }) => {
  const dialogs = failOnDialogs(page);
  await page.goto("/hub/datasets");
  await page.getByTestId("dataset-row").filter({ hasText: "Support chats" }).getByRole("link").click();
  await expect(page.getByRole("heading", { name: "Support chats" })).toBeVisible();
  const stats = page.getByTestId("dataset-stats");
  await expect(stats).toContainText("40");
  await expect(page.getByTestId("length-histogram").locator(".recharts-bar-rectangle").first()).toBeVisible();
  const rows = page.getByTestId("preview-row");
  await expect(rows).toHaveCount(10);
  await expect(rows.first()).toContainText('<img src=x onerror="window.__pwned = 1"> password?');
  expect(await page.locator("[onerror]").count()).toBe(0);
  await page.getByRole("button", { name: "Next rows" }).click();
  await expect(page.getByTestId("preview-range")).toHaveText("11–20 of 40");
  await shoot(page, "hub-dataset");
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Delete" }).click();
  await expect(page).toHaveURL(/\/hub\/datasets$/);
  await expect(page.getByTestId("dataset-row").filter({ hasText: "Support chats" })).toHaveCount(0);
  expect(dialogs).toEqual([]);
});

test("a broken dataset file is refused with its row numbers", async ({ page }) => {
  const file = test.info().outputPath("broken.jsonl");
  writeFileSync(file, [JSON.stringify({ text: "fine row" }), "{not json", JSON.stringify({ text: "another fine row" })].join("\n") + "\n");
  await page.goto("/hub/datasets");
  await page.getByTestId("dataset-file").setInputFiles(file);
  await page.getByRole("button", { name: "Upload dataset" }).click();
  const problem = page.getByTestId("upload-error");
  await expect(problem).toBeVisible();
  await expect(page.getByTestId("row-errors")).toContainText("Row 2");
});

test("expert mode: every field with its help; bounds checked here, the server's 422 shown next to its field", async ({ page, request }) => {
  const options = await (await request.get("/api/v1/training/options")).json();
  const file = test.info().outputPath("tiny-text.jsonl");
  writeFileSync(file, Array.from({ length: 12 }, (_, i) => JSON.stringify({ text: `Sample sentence number ${i} for the toy.` })).join("\n") + "\n");
  const form = await request.post("/api/v1/datasets", { multipart: { file: { name: "tiny-text.jsonl", mimeType: "application/jsonl", buffer: readFileSync(file) }, name: "Tiny text" } });
  expect(form.status()).toBe(201);
  const ds = await form.json();

  await page.goto(`/hub/train/expert?base=tiny&dataset=${ds.id}`);
  await expect(page.getByTestId("config-form")).toBeVisible();
  for (const f of options.fields as { name: string; help: string }[]) {
    await expect(page.getByTestId(`field-${f.name}`)).toContainText(f.help);
  }
  // Client-side bounds.
  const r = page.getByLabel(/^LoRA rank/);
  await r.fill("999");
  await expect(page.getByTestId("error-r")).toHaveText("Must be at most 256.");
  await page.getByTestId("estimate-button").click();
  await expect(page.getByText("fix the highlighted fields")).toBeVisible();
  await r.fill("4");
  await expect(page.getByTestId("error-r")).toHaveCount(0);
  // A value only the server can judge: target module names must be identifiers.
  await page.getByLabel(/^Target modules/).fill("q_proj, not a module!");
  await page.getByTestId("estimate-button").click();
  await expect(page.getByTestId("error-target_modules")).toBeVisible();
  await page.getByLabel(/^Target modules/).fill("");
  await expect(page.getByTestId("error-target_modules")).toHaveCount(0);
  await page.getByTestId("estimate-button").click();
  await expect(page.getByTestId("estimate")).toContainText("Training steps");
  await shoot(page, "hub-expert");
});
