import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { resetAll, seedLog, type Seeded } from "./seed";
import { SHOTS, failOnDialogs, shoot } from "./shots";

let seeded: Seeded[] = [];
const idOf = (name: string) => seeded.find((s) => s.name === name)!.id;

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  seeded = await seedLog(request);
});

test("dashboard shows totals, lazy charts, activity and the wishlist", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByTestId("stat").first()).toContainText("10");
  await expect(page.locator(".recharts-surface").first()).toBeVisible();
  await expect(page.getByText("Explore next")).toBeVisible();
  await expect(page.getByTestId("model-card").filter({ hasText: "Gemma 2 9B" })).toBeVisible();
  await expect(page.getByTestId("event").first()).toBeVisible();
  await shoot(page, "dashboard");
  expect(errors).toEqual([]);
});

test("create an entry from the New entry dialog", async ({ page }) => {
  await page.goto("/models");
  await page.getByRole("button", { name: "New entry" }).first().click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name").fill("Granite 3 8B");
  await dialog.getByLabel("Developer").fill("IBM");
  await dialog.getByLabel("Status", { exact: true }).selectOption("tried");
  await dialog.getByRole("combobox", { name: "Tags" }).fill("enterprise");
  await dialog.getByRole("combobox", { name: "Tags" }).press("Enter");
  await dialog.getByRole("button", { name: "Create entry" }).click();
  await expect(page).toHaveURL(/\/entries\/\d+$/);
  await expect(page.getByTestId("entry-title")).toHaveText("Granite 3 8B");
  await expect(page.getByText("Entry created").first()).toBeVisible();
  await page.goto("/models?q=granite");
  await expect(page.getByTestId("entry-row")).toHaveCount(1);
  await expect(page.getByTestId("entry-row")).toContainText("enterprise");
});

test("edit every kind of field; markdown with an XSS payload stays inert", async ({ page }) => {
  const dialogs = failOnDialogs(page);
  const id = idOf("Gemma 2 9B");
  await page.goto(`/entries/${id}`);
  await expect(page.getByTestId("entry-title")).toHaveText("Gemma 2 9B");
  await page.getByLabel("Status", { exact: true }).selectOption("tried");
  await page.getByLabel("Rating").selectOption("4");
  await page.getByLabel("Parameters").fill("9.2B");
  await page.getByLabel("Version").fill("2.0");
  const tags = page.locator("#f-tags");
  await tags.fill("reason");
  await tags.press("Enter");
  await page.getByRole("button", { name: "Add link" }).click();
  await page.getByLabel("Link 1", { exact: true }).fill("https://ai.google.dev/gemma");
  const payload = [
    "## Verdict",
    "<script>window.__pwned = 1; alert('script')</script>",
    "<img src=x onerror=\"window.__pwned = 2; alert('img')\">",
    "[click me](javascript:alert('link'))",
    "[home](https://example.org/)",
  ].join("\n\n");
  await page.getByRole("textbox", { name: "Notes", exact: true }).fill(payload);
  const preview = page.getByRole("region", { name: "Notes preview" });
  await expect(preview.getByRole("heading", { name: "Verdict" })).toBeVisible();
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("All changes saved")).toBeVisible();

  await page.reload();
  await expect(page.getByLabel("Status", { exact: true })).toHaveValue("tried");
  await expect(page.getByLabel("Parameters")).toHaveValue("9.2B");
  await expect(page.getByLabel("Link 1", { exact: true })).toHaveValue("https://ai.google.dev/gemma");
  await expect(page.getByText("reason", { exact: true })).toBeVisible();
  await expect(preview.getByRole("heading", { name: "Verdict" })).toBeVisible();
  const md = preview.getByTestId("markdown");
  expect(await md.locator("script").count()).toBe(0);
  expect(await md.locator("img").count()).toBe(0);
  expect(await page.locator("[onerror]").count()).toBe(0);
  await expect(md.getByRole("link", { name: "home" })).toHaveAttribute("href", "https://example.org/");
  expect(await md.locator('a[href^="javascript"]').count()).toBe(0);
  await md.getByText("click me").click();
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(dialogs).toEqual([]);

  // journal: add, edit, delete; history shows the status change
  await page.getByLabel("New journal note").fill("First look: solid on **maths**.");
  await page.getByRole("button", { name: "Add note" }).click();
  const note = page.getByTestId("journal-note").first();
  await expect(note).toContainText("First look");
  await note.getByRole("button", { name: "Edit note" }).click();
  await page.getByLabel("Edit journal note").fill("Second look: still solid.");
  await page.getByRole("button", { name: "Save note" }).click();
  await expect(page.getByTestId("journal-note").first()).toContainText("Second look");
  await expect(page.getByTestId("history")).toContainText("Status changed");
  await shoot(page, "entry");
  await page.getByTestId("journal-note").first().getByRole("button", { name: "Delete note" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("journal-note")).toHaveCount(0);
});

test("filter and sort are kept in the URL; card view; bulk status change", async ({ page }) => {
  await page.goto("/models");
  await expect(page.getByTestId("entry-row").first()).toBeVisible();
  await page.getByLabel("Status").selectOption("using");
  await expect(page).toHaveURL(/status=using/);
  await expect(page.getByTestId("result-count")).toHaveText(/^4 entries/);
  // Facet counts come with each filter change, not with a new sort or page (they are the costly part at 100k).
  await expect(page.getByLabel("Status").locator('option[value="using"]')).toHaveText("Using (4)");
  const facetRequests: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/v1/entries?") && r.url().includes("facets=true")) facetRequests.push(r.url());
  });
  await page.getByLabel("Sort by").selectOption("name");
  await page.getByRole("button", { name: /Descending order/ }).click();
  await expect(page).toHaveURL(/sort=name&order=asc/);
  const rowNames = () => page.getByTestId("entry-row").locator("td:nth-child(2) a").allTextContents();
  await expect(page.getByTestId("entry-row")).toHaveCount(4);
  // Wait for the sorted rows themselves: the previous (descending) list also has four rows while the query runs.
  const asc = ["all-MiniLM-L6-v2", "Llama 3.1 8B", "Qwen2.5 Coder 32B", "Whisper large-v3"];
  await expect.poll(rowNames).toEqual(asc);
  await page.getByRole("button", { name: /Ascending order/ }).click();
  await expect(page).not.toHaveURL(/order=asc/);
  await expect.poll(rowNames).toEqual([...asc].reverse());
  expect(facetRequests).toEqual([]);

  // a bookmarked view restores the same filters
  await page.goto("/models?model_type=Vision&sort=name&order=asc");
  await expect(page.getByLabel("Model type")).toHaveValue("Vision");
  await expect(page.getByTestId("entry-row")).toHaveCount(2);
  await page.getByRole("tab", { name: "Cards" }).click();
  await expect(page).toHaveURL(/view=cards/);
  await expect(page.getByTestId("model-card")).toHaveCount(2);

  await page.goto("/models?tag=open-weights&sort=name&order=asc");
  await expect(page.getByTestId("entry-row")).toHaveCount(4);
  await page.getByRole("checkbox", { name: "Select all on this page" }).click();
  await page.getByLabel("Set status of selected").selectOption("archived");
  await expect(page.getByText("4 entries updated").first()).toBeVisible();
  await expect(page.getByTestId("entry-row").locator('[data-status="archived"]')).toHaveCount(4);
  await page.goto("/models?q=zzzz-nothing");
  await expect(page.getByTestId("empty-state")).toContainText("Nothing matches");
  await page.goto("/models");
  await shoot(page, "models");
});

test("global search: '/' focuses, snippets are highlighted, Enter opens the results page", async ({ page }) => {
  await page.goto("/models");
  await page.locator("body").press("/");
  const box = page.getByRole("combobox", { name: "Search" });
  await expect(box).toBeFocused();
  await box.fill("transcription");
  const results = page.getByRole("listbox", { name: "Search results" });
  await expect(results.getByRole("option").first()).toContainText("Whisper large-v3");
  await expect(results.locator("mark").first()).toHaveText(/transcription/i);
  await box.press("Enter");
  // The dropdown also listed entries related by meaning, so Enter opens the combined (hybrid) results: the keyword
  // hit is there exactly once, beside the semantic ones.
  await expect(page).toHaveURL(/\/search\?q=transcription(&mode=hybrid)?$/);
  const hits = page.getByTestId("search-results").locator(":scope > li");
  await expect(hits.filter({ hasText: "Whisper large-v3" })).toHaveCount(1);
  await page.getByTestId("search-results").getByRole("link", { name: "Whisper large-v3" }).click();
  await expect(page.getByTestId("entry-title")).toHaveText("Whisper large-v3");
});

test("timeline groups by month, filters by kind and status", async ({ page }) => {
  await page.goto("/timeline");
  await expect(page.getByTestId("timeline-month").first()).toBeVisible();
  await expect(page.getByTestId("event").first()).toBeVisible();
  await shoot(page, "timeline");
  await page.getByLabel("Event kind").selectOption("status_changed");
  await expect(page).toHaveURL(/kind=status_changed/);
  await expect(page.getByTestId("event").first()).toBeVisible();
  for (const kind of await page.getByTestId("event").evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")))) {
    expect(kind).toBe("status_changed");
  }
  await page.getByLabel("Event kind").selectOption("note_added");
  await expect(page.getByTestId("event").filter({ hasText: "Llama 3.1 8B" })).toBeVisible();
});

test("compare two to four models with differing rows highlighted", async ({ page }) => {
  const a = idOf("Llama 3.1 8B");
  const b = idOf("Mistral 7B Instruct");
  await page.goto(`/compare?ids=${a}&ids=${b}`);
  const table = page.getByTestId("compare-table");
  await expect(table.getByRole("columnheader", { name: "Llama 3.1 8B" })).toBeVisible();
  await expect(table.locator('tr[data-differs="true"]').first()).toBeVisible();
  const devRow = table.locator("tr", { has: page.getByRole("rowheader", { name: /^Developer/ }) });
  await expect(devRow).toHaveAttribute("data-differs", "true");
  await page.getByLabel("Find a model to compare").fill("Whisper");
  await page.getByRole("button", { name: /Whisper large-v3/ }).click();
  await expect(page).toHaveURL(new RegExp(`ids=${a}&ids=${b}&ids=\\d+`));
  await expect(table.getByRole("columnheader")).toHaveCount(4);
  await shoot(page, "compare");
  await page.getByRole("checkbox", { name: "Only show differences" }).click();
  expect(await table.locator('tr[data-differs="false"]').count()).toBe(0);
});

test("export JSON, wipe, import with preview, get the same log back", async ({ page, request }) => {
  await page.goto("/transfer");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "JSON" }).click()]);
  const file = await download.path();
  const exported = JSON.parse(readFileSync(file, "utf8"));
  expect(exported.entries.length).toBe(11);
  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "CSV" }).click()]);
  expect(readFileSync(await csv.path(), "utf8")).toContain("Whisper large-v3");

  await resetAll(request);
  await page.reload();
  await page.getByLabel("File to import").setInputFiles(file);
  await page.getByRole("button", { name: "Preview" }).click();
  const report = page.getByTestId("import-report");
  await expect(report).toContainText("Whisper large-v3");
  await page.getByRole("button", { name: /Import 11 rows/ }).click();
  await expect(page.getByText("Import complete").first()).toBeVisible();
  const after = await (await request.get("/api/v1/entries?limit=200")).json();
  expect(after.total).toBe(11);

  // a broken file: per-row errors, nothing to commit
  await page.getByLabel("File to import").setInputFiles({
    name: "bad.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("name,status,rating\nGood model,tried,4\nBad model,sleeping,9\n"),
  });
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page.getByTestId("import-errors")).toContainText("Row");
  await expect(page.getByRole("button", { name: /^Import/ })).toBeDisabled();
});

test("dark mode: toggle, persisted across reloads, follows the system by default", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto("/");
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.emulateMedia({ colorScheme: "light" });
  await page.reload();
  await expect(page.locator("html")).not.toHaveClass(/dark/);
  await page.getByTestId("theme-toggle").click();
  await page.getByRole("menuitem", { name: "Dark" }).click();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.reload();
  await expect(page.locator("html")).toHaveClass(/dark/);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).not.toBe("rgb(255, 255, 255)");
  await page.getByTestId("theme-toggle").click();
  await page.getByRole("menuitem", { name: "System" }).click();
  await expect(page.locator("html")).not.toHaveClass(/dark/);
});

test("phone-sized viewport: the nav collapses into a menu", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/");
  await expect(page.getByRole("complementary", { name: "Sidebar" })).toBeHidden();
  await page.getByRole("button", { name: "Open menu" }).click();
  await page.locator("#mobile-nav").getByRole("link", { name: "My models" }).click();
  await expect(page).toHaveURL(/\/models$/);
  await expect(page.locator("#mobile-nav")).toBeHidden();
  await expect(page.getByTestId("entry-row").first()).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(1);
  await page.screenshot({ path: `${SHOTS}models-phone-light.png` });
});

test("single-user mode: user menu, settings with the bookmarklet, no login needed", async ({ page }) => {
  await page.goto("/");
  await page.getByTestId("user-menu").click();
  await expect(page.getByRole("menuitem", { name: "Create account" })).toBeVisible();
  await page.getByRole("menuitem", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
  await expect(page.getByText("Single-user mode: no login")).toBeVisible();
  const href = (await page.getByTestId("bookmarklet").getAttribute("href")) ?? "";
  const origin = new URL(page.url()).origin;
  expect(href).toContain(`${JSON.stringify(`${origin}/capture?url=`)}+encodeURIComponent(location.href)`);
  expect(href).not.toContain("cookie");
});

test("autofill: a look-alike host is refused with the server's message; refresh needs a repository", async ({ page }) => {
  await page.goto("/models");
  await page.getByRole("button", { name: "New entry" }).first().click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Autofill from a link").fill("https://huggingface.co.evil.com/org/model");
  await dialog.getByRole("button", { name: "Autofill" }).click();
  await expect(dialog.getByTestId("autofill-error")).toContainText("only huggingface.co, hf.co and github.com links are supported");
  await expect(dialog.getByLabel("Name")).toHaveValue("");
  await page.keyboard.press("Escape");

  await page.goto(`/entries/${idOf("Gemma 2 9B")}`);
  await page.getByRole("button", { name: "Refresh metadata" }).click();
  await expect(page.getByText("no Hugging Face or GitHub repository").first()).toBeVisible();
  await expect(page.getByRole("dialog")).toHaveCount(0);
});

test("capture page pre-fills from a GitHub link and rejects look-alikes client-side", async ({ page, request }) => {
  await page.goto(`/capture?url=${encodeURIComponent("https://github.com.evil.com/owner/repo")}&title=Evil`);
  await expect(page.getByTestId("capture-unrecognised")).toBeVisible();
  await expect(page.getByLabel("GitHub repository")).toHaveValue("");
  await page.goto(`/capture?url=${encodeURIComponent("https://github.com/acme/speedy-model")}&title=${encodeURIComponent("GitHub - acme/speedy-model")}`);
  await expect(page.getByLabel("Name")).toHaveValue("speedy-model");
  await expect(page.getByLabel("GitHub repository")).toHaveValue("acme/speedy-model");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("entry-title")).toHaveText("speedy-model");
  const found = await (await request.get("/api/v1/entries?q=speedy")).json();
  expect(found.items.map((e: { github_repo: string }) => e.github_repo)).toEqual(["acme/speedy-model"]);
});

test("search modes: switch kept in the URL; semantic shows results or an error, never a crash", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto("/search?q=transcription");
  await expect(page.getByRole("tab", { name: "Keyword" })).toHaveAttribute("aria-selected", "true");
  await expect(page.getByTestId("search-results").locator(":scope > li")).toHaveCount(1);
  await page.getByRole("tab", { name: "Semantic" }).click();
  await expect(page).toHaveURL(/mode=semantic/);
  await expect(page.getByText(/^(\d+|No) results for/)).toBeVisible({ timeout: 30_000 }); // results, none yet, or the error
  await page.getByRole("tab", { name: "Hybrid" }).click();
  await expect(page).toHaveURL(/mode=hybrid/);
  await expect(page.getByText(/^(\d+|No) results for/)).toBeVisible({ timeout: 30_000 }); // results, none yet, or the error
  await page.goto(`/entries/${idOf("Whisper large-v3")}`);
  await expect(page.getByTestId("entry-title")).toHaveText("Whisper large-v3");
  await page.waitForTimeout(500);
  expect(errors).toEqual([]);
});

test("deep links load directly and unknown API paths stay JSON", async ({ page, request }) => {
  await page.goto(`/entries/${idOf("Whisper large-v3")}`);
  await expect(page.getByTestId("entry-title")).toHaveText("Whisper large-v3");
  await page.goto("/no/such/page");
  await expect(page.getByText("Page not found")).toBeVisible();
  const resp = await request.get("/api/v1/no-such-thing");
  expect(resp.status()).toBe(404);
  expect((await resp.json()).error.code).toBe("not_found");
});
