import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// The config is evaluated by the runner and again by each worker: pick the port and data dir once and pass them
// down through the environment.
if (!process.env.MM_E2E_PORT) {
  process.env.MM_E2E_PORT = execFileSync(
    process.execPath,
    ["-e", "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"],
    { encoding: "utf8" },
  ).trim();
}
if (!process.env.MM_E2E_DATA) process.env.MM_E2E_DATA = mkdtempSync(join(tmpdir(), "modelmate-e2e-"));
const port = Number(process.env.MM_E2E_PORT);
const baseURL = `http://127.0.0.1:${port}`;
// A second server with its own data dir for accounts.spec.ts: the first sign-up switches a server into accounts
// mode (anonymous requests then get 401), which must not happen to the server the other specs share.
if (!process.env.MM_E2E_ACCOUNTS_PORT) {
  process.env.MM_E2E_ACCOUNTS_PORT = execFileSync(
    process.execPath,
    ["-e", "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"],
    { encoding: "utf8" },
  ).trim();
}
if (!process.env.MM_E2E_ACCOUNTS_DATA) process.env.MM_E2E_ACCOUNTS_DATA = mkdtempSync(join(tmpdir(), "modelmate-e2e-accounts-"));
const accountsPort = Number(process.env.MM_E2E_ACCOUNTS_PORT);
// The accounts server's one-time setup token (the first sign-up needs it): fixed through MODELMATE_SETUP_TOKEN for
// this run, random per run; accounts.spec.ts reads it from MM_E2E_SETUP_TOKEN.
if (!process.env.MM_E2E_SETUP_TOKEN) process.env.MM_E2E_SETUP_TOKEN = `e2e-${randomBytes(24).toString("hex")}`;
const accountsURL = `http://127.0.0.1:${accountsPort}`;
// The benchmark data mirror (../../shared/benchmarks from web/), when this checkout has one (CI does).
const BENCHMARKS = fileURLToPath(new URL("../../shared/benchmarks", import.meta.url));
const serverEnv = {
  MODELMATE_SEED_DEMO: "false",
  MODELMATE_ENVIRONMENT: "development",
  MODELMATE_LOG_LEVEL: "warning",
  // Trained models are not benchmarked on every domain here: that is covered by the Python tests, and it would
  // keep the 2 CPU cores busy while the later specs run.
  MODELMATE_AUTO_EVALUATE: "false",
  // The built-in SmolLM2 (converted from its GGUF at first start, ~30 s of CPU) is not needed by the specs.
  MODELMATE_INSTALL_BUILTIN_MODELS: "false",
  // Explicit evaluations (hubSeed.ts) read the local benchmark mirror, two documents per task: fast on the toy model.
  MODELMATE_EVAL_QUICK_SIZE: "2",
  ...(existsSync(BENCHMARKS) ? { MODELMATE_BENCHMARK_DATA_DIR: BENCHMARKS } : {}),
};

export default defineConfig({
  testDir: "./e2e",
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    },
  },
  projects: [
    {
      name: "chromium",
      testIgnore: /accounts\.spec\.ts/,
      use: { browserName: "chromium", viewport: { width: 1360, height: 900 } },
    },
    {
      name: "accounts",
      testMatch: /accounts\.spec\.ts/,
      use: { browserName: "chromium", viewport: { width: 1360, height: 900 }, baseURL: accountsURL },
    },
  ],
  webServer: [
    {
      command: `../.venv/bin/modelmate serve --port ${port}`,
      url: `${baseURL}/api/v1/health`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "ignore",
      stderr: "pipe",
      env: { ...serverEnv, MODELMATE_DATA_DIR: process.env.MM_E2E_DATA },
    },
    {
      command: `../.venv/bin/modelmate serve --port ${accountsPort}`,
      url: `${accountsURL}/api/v1/health`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "ignore",
      stderr: "pipe",
      env: { ...serverEnv, MODELMATE_DATA_DIR: process.env.MM_E2E_ACCOUNTS_DATA, MODELMATE_SETUP_TOKEN: process.env.MM_E2E_SETUP_TOKEN },
    },
  ],
});
