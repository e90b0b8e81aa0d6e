// UI defects on the hub pages, on the real seeded runs and evaluations (hubSeed.ts): museum diagnosis badges,
// capability changes in one unit with human metric names and one colour per domain, leaderboard ties and small-sample
// warnings, lineage edges that tell base links from dataset links.
import { expect, test } from "@playwright/test";
import { benchmarksAvailable, ensureHubFixtures, SEED, type HubFixtures } from "./hubSeed";
import { shoot } from "./shots";

let fx: HubFixtures;

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  test.setTimeout(1_800_000);
  fx = await ensureHubFixtures(request);
});

test("museum: categorised runs show their diagnosis instead of status/outcome badges", async ({ page, request }) => {
  const museum = await (await request.get("/api/v1/museum?limit=200")).json();
  const categorised = museum.items.filter((i: { failure_category: string | null }) => i.failure_category);
  expect(categorised.length).toBeGreaterThan(0);
  await page.goto("/hub/museum");
  for (const item of categorised.slice(0, 10)) {
    const card = page.locator(`[data-testid="museum-card"][data-run-id="${item.run_id}"]`);
    await expect(card).toBeVisible();
    await expect(card.getByTestId("museum-diagnosis")).not.toBeEmpty();
    await expect(card.getByTestId("run-status")).toHaveCount(0);
    await expect(card.locator("[data-outcome]")).toHaveCount(0);
  }
  const failed = page.locator(`[data-testid="museum-card"][data-run-id="${fx.failedRunId}"]`);
  await expect(failed.getByTestId("museum-diagnosis")).toHaveText(await failed.getByTestId("museum-category").innerText());
});

test("capability changes: one unit (pp), human metric names, one colour per domain", async ({ page }) => {
  test.skip(!benchmarksAvailable(), "no benchmark data mirror: the seed evaluated nothing");
  await page.goto("/hub/changes?all=1");
  await expect(page.getByTestId("delta-unit-note")).toContainText("percentage points (pp)");
  const feed = page.getByTestId("change-feed");
  await expect(feed.or(page.getByTestId("empty-state"))).toBeVisible();
  if (await feed.isVisible()) {
    await expect(feed).not.toContainText("%");
    await expect(feed).not.toContainText(",none");
    await expect(feed).not.toContainText(/\bacc(_norm)?\b/);
    await expect(feed).not.toContainText(/\bpoints\b|\bpts\b/);
    const first = feed.getByTestId("change-item").first();
    // A headline with a number states it in pp (unflagged ones say "no detectable change" without one).
    for (const sentence of await feed.getByTestId("change-sentence").allInnerTexts()) {
      if (/\d+\.\d/.test(sentence.replace(/\(\d+\.\d → \d+\.\d\)/, ""))) expect(sentence).toContain(" pp vs its ");
    }
    await expect(first.locator("abbr[title='percentage points']")).toHaveText("pp");
  }
  const chart = page.getByTestId("aggregates-chart");
  if (await chart.isVisible()) {
    const fills = await chart.locator(".recharts-bar").evaluateAll((bars) =>
      bars.map((b) => b.querySelector(".recharts-bar-rectangle path, .recharts-rectangle")?.getAttribute("fill") ?? ""),
    );
    expect(new Set(fills.filter(Boolean)).size).toBe(fills.filter(Boolean).length);
  }
});

test("leaderboards: overlapping intervals share a rank (≈), small samples are flagged", async ({ page, request }) => {
  test.skip(!benchmarksAvailable(), "no benchmark data mirror: the seed evaluated nothing");
  const board = await (await request.get("/api/v1/leaderboards?domain=reasoning")).json();
  expect(board.rows.length).toBeGreaterThan(1);
  await page.goto("/hub/leaderboards?domain=reasoning");
  const rows = page.getByTestId("board-row");
  await expect(rows).toHaveCount(board.rows.length);
  for (let i = 0; i < board.rows.length; i++) {
    const r = board.rows[i];
    const rank = rows.nth(i).getByTestId("board-rank");
    if (r.rank == null) await expect(rank).toHaveText("—");
    else await expect(rank).toHaveText(r.tied ? `≈${r.rank}` : String(r.rank));
    await expect(rows.nth(i).getByTestId("small-sample")).toHaveCount(r.small_sample ? 1 : 0);
  }
  // The seed's quick evaluations score 2 documents per task: far below 100 per domain.
  expect(board.rows.every((r: { small_sample: boolean }) => r.small_sample)).toBe(true);
  await expect(page.getByTestId("small-sample-warning")).toContainText("fewer than 100 documents per domain");
  if (board.rows.some((r: { tied: boolean }) => r.tied)) await expect(page.getByTestId("tie-note")).toBeVisible();
  await shoot(page, "hub-leaderboards");
});

test("lineage: dataset links look unlike model links, enter from the top, and are labelled", async ({ page }) => {
  await page.goto(`/hub/lineage?model=${fx.a.id}`);
  const graph = page.getByTestId("lineage-graph");
  await expect(graph.getByTestId("lineage-node").first()).toBeVisible();
  const dataEdge = graph.locator(".lineage-edge-data path.react-flow__edge-path").first();
  const modelEdge = graph.locator(".lineage-edge-finetune path.react-flow__edge-path, .lineage-edge-fork path.react-flow__edge-path").first();
  await expect(dataEdge).toBeAttached();
  await expect(modelEdge).toBeAttached();
  const style = (el: SVGElement | HTMLElement) => {
    const s = getComputedStyle(el);
    return `${s.stroke}|${s.strokeDasharray}`;
  };
  expect(await dataEdge.evaluate(style)).not.toBe(await modelEdge.evaluate(style));
  await expect(graph.getByTestId("edge-data-label").first()).toHaveText("trained on");
  // Which dataset trained which model: written on the model node.
  const a = graph.getByTestId("lineage-node").filter({ hasText: SEED.runA }).first();
  await expect(a.getByTestId("lineage-node-data")).toContainText(SEED.dataset);
  // Dataset links end at the model's top handle, model links at its left one: never the same point.
  const ends = await graph.locator(".react-flow__edge").evaluateAll((edges) =>
    edges.map((e) => {
      const d = e.querySelector("path.react-flow__edge-path")?.getAttribute("d") ?? "";
      const nums = d.match(/-?\d+(\.\d+)?/g) ?? [];
      return { data: e.classList.contains("lineage-edge-data"), end: nums.slice(-2).join(",") };
    }),
  );
  const dataEnds = new Set(ends.filter((e) => e.data).map((e) => e.end));
  for (const e of ends.filter((x) => !x.data)) expect(dataEnds.has(e.end)).toBe(false);
});
