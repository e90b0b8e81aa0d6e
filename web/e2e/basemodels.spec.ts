// Base models: the list with each model's readiness, and the administrator's GGUF import (the e2e server runs in
// single-user mode, whose local user is an administrator). No real conversion here: the Python tests convert the
// real SmolLM2 GGUF; this checks what the browser shows for a refused file and for a job that fails.
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { failOnDialogs } from "./shots";

interface Base {
  key: string;
  available: boolean;
  unavailable_reason?: string | null;
}

test.describe.configure({ mode: "serial" });

test("the base-models page lists every base model with its readiness", async ({ page, request }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const models = (await (await request.get("/api/v1/base-models")).json()) as Base[];
  expect(models.length).toBeGreaterThan(0);

  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Base models" }).click();
  await expect(page).toHaveURL(/\/hub\/base-models$/);
  await expect(page.getByRole("heading", { name: "Base models" })).toBeVisible();
  await expect(page.getByTestId("base-model-row")).toHaveCount(models.length);
  for (const m of models) {
    const row = page.locator(`[data-testid="base-model-row"][data-key="${m.key}"]`);
    await expect(row).toContainText(m.key);
    await expect(row).toContainText(m.available ? "ready" : "unavailable");
    if (!m.available && m.unavailable_reason) await expect(row).toContainText(m.unavailable_reason);
  }
  expect(errors).toEqual([]);
});

test("an administrator uploading a file that is not GGUF sees the server's clear message; nothing is added", async ({ page, request }) => {
  const dialogs = failOnDialogs(page);
  const before = ((await (await request.get("/api/v1/base-models")).json()) as Base[]).length;
  await page.goto("/hub/base-models");
  await expect(page.getByTestId("gguf-import")).toBeVisible();
  await page.getByTestId("gguf-file").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a model\n".repeat(200)) });
  await expect(page.getByTestId("chosen-gguf")).toHaveText("notes.txt");
  await page.getByLabel("Name").fill("Notes");
  await expect(page.getByTestId("gguf-key")).toHaveText("Its key will be local-notes.");
  await page.getByRole("button", { name: "Import model" }).click();
  await expect(page.getByTestId("gguf-upload-error")).toHaveText("notes.txt is not a GGUF file (it does not start with the GGUF signature)");
  const jobs = await (await request.get("/api/v1/jobs?kind=import_model")).json();
  expect(jobs.total).toBe(0);
  expect(((await (await request.get("/api/v1/base-models")).json()) as Base[]).length).toBe(before);
  expect(dialogs).toEqual([]);
});

test("a GGUF whose weights cannot be loaded is queued, and the failed job's message is shown", async ({ page }) => {
  test.setTimeout(120_000);
  // A valid llama header with one tiny tensor: it passes the upload's checks; transformers cannot build a model from it.
  const file = test.info().outputPath("toy.gguf");
  const code =
    "import sys, numpy as np, gguf\n" +
    "w = gguf.GGUFWriter(sys.argv[1], 'llama'); w.add_name('toy'); w.add_context_length(64)\n" +
    "w.add_tensor('token_embd.weight', np.zeros((8, 4), dtype=np.float32))\n" +
    "w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()\n";
  execFileSync("../.venv/bin/python", ["-c", code, file], { stdio: ["ignore", "ignore", "pipe"] });

  await page.goto("/hub/base-models");
  await page.getByTestId("gguf-file").setInputFiles(file);
  await expect(page.getByLabel("Name")).toHaveValue("toy");
  await page.getByLabel("Name").fill("Header only");
  await page.getByRole("button", { name: "Import model" }).click();
  const job = page.getByTestId("gguf-job");
  await expect(job).toContainText("local-header-only");
  await expect(job).toContainText("llama");
  await expect(page.getByTestId("import-error")).toContainText("transformers could not load toy.gguf", { timeout: 90_000 });
  await expect(page.locator('[data-testid="base-model-row"][data-key="local-header-only"]')).toHaveCount(0);
});
