// UI defects found in Chromium at 1360×900 and at phone width (390×844), each pinned by a check: page titles, real
// 404s, dashboard counts, compare layout and formatting, import preview, expert form, phone header and leaderboard
// tabs, header search falling back to semantic search. The hub-seeded checks are in polish-hub.spec.ts.
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { seedLog, type Seeded } from "./seed";
import { shoot } from "./shots";

const PHONE = { width: 390, height: 844 };
let seeded: Seeded[] = [];
const idOf = (name: string) => seeded.find((s) => s.name === name)!.id;

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  seeded = await seedLog(request);
});

async function noSidewaysScroll(page: Page) {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.scrollingElement!.scrollWidth, inner: window.innerWidth }));
  expect(scroll, "the page must not scroll sideways").toBeLessThanOrEqual(inner);
}

type Box = { x: number; y: number; width: number; height: number };
const overlaps = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test("every page has its own tab title; unknown paths say so", async ({ page }) => {
  for (const [path, title] of [
    ["/", "Dashboard · ModelMate"],
    ["/compare", "Compare · ModelMate"],
    ["/hub/leaderboards", "Leaderboards · ModelMate"],
    ["/hub/changes", "Capability changes · ModelMate"],
    ["/no/such/page", "Page not found · ModelMate"],
  ]) {
    await page.goto(path);
    await expect(page).toHaveTitle(title);
  }
});

test("unknown URLs answer 404 (with the app's not-found page); app routes and deep links 200", async ({ page, request }) => {
  for (const path of ["/nope", "/hub/nope", "/models/3/extra", "/m/someone"]) {
    expect((await request.get(path)).status(), path).toBe(404);
  }
  for (const path of ["/", "/models", "/compare?ids=1&ids=2", "/m/someone/some-model", "/hub/runs/1", "/hub/train/expert"]) {
    expect((await request.get(path)).status(), path).toBe(200);
  }
  const resp = await page.goto("/nope");
  expect(resp?.status()).toBe(404);
  await expect(page.getByText("Page not found")).toBeVisible();
});

test("dashboard: the donut shows counts and the total; monthly counts are bars", async ({ page }) => {
  await page.goto("/");
  const donut = page.getByTestId("status-chart");
  await expect(donut).toBeVisible();
  await expect(page.getByTestId("status-total")).toContainText("10");
  const legend = donut.getByTestId("status-legend-item");
  await expect(legend.filter({ hasText: "Using" })).toHaveText(/Using\s*4/); // Llama, Whisper, MiniLM, Qwen (moved to using)
  await expect(legend.filter({ hasText: "Wishlist" })).toHaveText(/Wishlist\s*3/);
  const months = page.getByTestId("month-chart");
  await expect(months.locator(".recharts-bar-rectangle").first()).toBeVisible();
  await expect(months.locator(".recharts-line-curve")).toHaveCount(0);
  await shoot(page, "dashboard");
});

test("compare: the picker stays in its column, the table shows dates and status labels", async ({ page }) => {
  await page.goto("/compare");
  const side = page.getByTestId("compare-side");
  const picker = page.getByTestId("compare-picker");
  await expect(picker.getByRole("button").first()).toBeVisible();
  const s = (await side.boundingBox())!;
  const p = (await picker.boundingBox())!;
  expect(p.width).toBeLessThanOrEqual(s.width + 0.5);
  const empty = (await page.getByTestId("empty-state").boundingBox())!;
  expect(overlaps(p, empty), "the picker must not cover the empty state").toBe(false);

  await page.goto(`/compare?ids=${idOf("Llama 3.1 8B")}&ids=${idOf("Gemma 2 9B")}`);
  const table = page.getByTestId("compare-table");
  await expect(table).toBeVisible();
  const status = table.locator('tr[data-field="status"]');
  await expect(status).toContainText("Using");
  await expect(status).toContainText("Wishlist");
  await expect(status.locator("td").first()).not.toHaveText("using");
  await expect(table).not.toContainText(/\d{4}-\d{2}-\d{2}/);
  await expect(table.locator('tr[data-field="date_interacted"] time').first()).toHaveText(/2026/);
});

test("import preview: a wide preview scrolls inside its card", async ({ page }) => {
  await page.goto("/transfer");
  const long = "x".repeat(40);
  await page.getByLabel("File to import").setInputFiles({
    name: "wide.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(`name,developer,model_type,status,rating,tags,date_interacted\nA very long model name ${long},Developer ${long},LLM,tried,4,"alpha ${long},beta",2026-01-02\n`),
  });
  await page.getByRole("button", { name: "Preview" }).click();
  const preview = page.getByTestId("import-preview");
  await expect(preview).toBeVisible();
  const card = (await page.getByTestId("import-card").boundingBox())!;
  const box = (await preview.boundingBox())!;
  expect(box.x + box.width).toBeLessThanOrEqual(card.x + card.width + 0.5);
  await noSidewaysScroll(page);
});

test("header search falls back to meaning when no entry has every word", async ({ page, request }) => {
  const q = "small model for phones";
  const keyword = await (await request.get(`/api/v1/search?q=${encodeURIComponent(q)}`)).json();
  expect(keyword.total).toBe(0);
  // Embeddings are computed in the background after the entries were created: wait for them.
  let semantic = 0;
  await expect
    .poll(
      async () => {
        const r = await request.get(`/api/v1/search?q=${encodeURIComponent(q)}&mode=semantic`);
        semantic = r.ok() ? (await r.json()).total : -1;
        return semantic;
      },
      { timeout: 90_000, intervals: [1000] },
    )
    .not.toBe(0);
  test.skip(semantic < 0, "semantic search is turned off on this server");
  await page.goto("/");
  await page.getByRole("combobox", { name: "Search" }).fill(q);
  const hits = page.getByTestId("search-hit");
  await expect(hits.first()).toBeVisible();
  await expect(hits.first()).toHaveAttribute("data-kind", "semantic");
  await expect(page.getByTestId("semantic-heading")).toContainText("related by meaning");
  await expect(page.getByText("No matches for")).toHaveCount(0);
  await page.getByRole("button", { name: /See all results/ }).click();
  await expect(page).toHaveURL(/mode=hybrid/);
});

const LONG_DATASET = "Customer support conversations collected across every product line in 2026, cleaned and deduplicated";

async function ensureLongDataset(request: APIRequestContext): Promise<number> {
  const page = await (await request.get("/api/v1/datasets?limit=200")).json();
  const found = page.items.find((d: { name: string }) => d.name === LONG_DATASET);
  if (found) return found.id;
  const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ messages: [{ role: "user", content: `Question ${i}?` }, { role: "assistant", content: `Answer ${i}.` }] }));
  const resp = await request.post("/api/v1/datasets", {
    multipart: { file: { name: "chats.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(lines.join("\n") + "\n") }, name: LONG_DATASET, domain: "support" },
  });
  expect(resp.ok(), await resp.text()).toBe(true);
  return (await resp.json()).id;
}

async function expertFieldsApart(page: Page, request: APIRequestContext) {
  const id = await ensureLongDataset(request);
  await page.goto("/hub/train/expert");
  const dataset = page.locator("#expert-dataset");
  await expect(dataset.locator(`option[value="${id}"]`)).toHaveCount(1);
  await dataset.selectOption(String(id));
  const boxes = await Promise.all(["#expert-base", "#expert-dataset", "#expert-preset", "#expert-name"].map(async (sel) => (await page.locator(sel).boundingBox())!));
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) expect(overlaps(boxes[i], boxes[j]), `fields ${i} and ${j} overlap`).toBe(false);
  }
  const card = (await page.getByTestId("expert-what").boundingBox())!;
  for (const b of boxes) expect(b.x + b.width).toBeLessThanOrEqual(card.x + card.width + 0.5);
  await noSidewaysScroll(page);
}

test("expert form: a long dataset name keeps the Dataset select out of \"Start from\"", async ({ page, request }) => {
  await expertFieldsApart(page, request);
});

test.describe("phone width", () => {
  test("expert form: the fields stay apart", async ({ page, request }) => {
    await expertFieldsApart(page, request);
  });

  test.use({ viewport: PHONE });

  test("header: the search box leaves the logo alone; no sideways scroll", async ({ page }) => {
    await page.goto("/");
    const brand = (await page.getByTestId("header-brand").boundingBox())!;
    const search = (await page.getByRole("combobox", { name: "Search" }).boundingBox())!;
    expect(brand.x + brand.width).toBeLessThanOrEqual(search.x);
    const menu = (await page.getByRole("button", { name: "Open menu" }).boundingBox())!;
    expect(overlaps(menu, search)).toBe(false);
    await noSidewaysScroll(page);
  });

  test("compare: no sideways scroll, the table scrolls in its frame", async ({ page }) => {
    await page.goto(`/compare?ids=${idOf("Llama 3.1 8B")}&ids=${idOf("Gemma 2 9B")}&ids=${idOf("Whisper large-v3")}`);
    await expect(page.getByTestId("compare-table")).toBeVisible();
    await noSidewaysScroll(page);
    await page.goto("/compare");
    await expect(page.getByTestId("compare-picker")).toBeVisible();
    await noSidewaysScroll(page);
  });

  test("leaderboards: every domain tab is on screen", async ({ page }) => {
    await page.goto("/hub/leaderboards");
    const tabs = page.getByTestId("board-tabs").getByRole("tab");
    await expect(tabs).toHaveCount(8);
    for (const tab of await tabs.all()) {
      const b = (await tab.boundingBox())!;
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(PHONE.width);
    }
    await noSidewaysScroll(page);
  });

  test("import preview: no sideways scroll", async ({ page }) => {
    await page.goto("/transfer");
    await page.getByLabel("File to import").setInputFiles({
      name: "wide.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(`name,developer,status\nA model with a rather long name indeed,Some developer with a long name,tried\n`),
    });
    await page.getByRole("button", { name: "Preview" }).click();
    await expect(page.getByTestId("import-preview")).toBeVisible();
    await noSidewaysScroll(page);
  });
});
