// Benchmark contamination in the UI: the dataset page's badge with the overlapping examples (user text shown as
// text), and the leaderboard that leaves a contaminated model out of the ranking until the toggle shows it, flagged.
import { expect, test, type Page } from "@playwright/test";
import { CONTAMINATION_SEED, ensureContaminationFixtures } from "./contaminationSeed";

function noPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

test.describe.configure({ mode: "serial" });

let datasetId: number;

test.beforeAll(async ({ request }) => {
  test.setTimeout(180_000);
  ({ datasetId } = await ensureContaminationFixtures(request));
});

test("dataset page: the contamination badge and each overlapping row next to its test document", async ({ page }) => {
  const errors = noPageErrors(page);
  await page.goto(`/hub/datasets/${datasetId}`);
  const card = page.getByTestId("contamination-card");
  await expect(card.getByTestId("contamination-badge")).toHaveText("Overlaps GSM8K test: 37 documents");
  const example = card.getByTestId("contamination-example");
  await expect(example).toContainText(CONTAMINATION_SEED.exampleRow); // the "<b>" is text, not markup
  await expect(example.locator("b")).toHaveCount(0);
  await expect(example).toContainText("test document test:0");
  await expect(card.getByRole("button", { name: "Check again" })).toBeVisible();
  expect(errors).toEqual([]);
});

test("leaderboard: a contaminated model is hidden by default and shown, flagged, with the toggle", async ({ page }) => {
  const errors = noPageErrors(page);
  await page.goto("/hub/leaderboards?domain=math");
  await expect(page.getByRole("link", { name: CONTAMINATION_SEED.clean })).toBeVisible();
  await expect(page.getByRole("link", { name: CONTAMINATION_SEED.dirty })).toHaveCount(0);
  await expect(page.getByTestId("hidden-contaminated")).toContainText("1 hidden");
  // click, then wait: the checkbox follows the URL, which React Router updates in a transition (a moment after the
  // click), so Playwright's check() can read the old state and give up
  const toggle = page.getByTestId("contaminated-toggle").getByRole("checkbox");
  await toggle.click();
  await expect(toggle).toBeChecked();
  await expect(page).toHaveURL(/contaminated=1/);
  const dirty = page.getByRole("row").filter({ has: page.getByRole("link", { name: CONTAMINATION_SEED.dirty }) });
  await expect(dirty.getByTestId("contaminated-row")).toBeVisible();
  await expect(dirty.getByTestId("contaminated-row")).toHaveAttribute("title", /trained on data that overlaps GSM8K test: 37 documents/);
  await expect(page.getByTestId("hidden-contaminated")).toHaveCount(0);
  expect(errors).toEqual([]);
});
