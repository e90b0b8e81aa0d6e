#!/usr/bin/env node
// The e2e tests drive the built UI served by the real server: build it first when the build is missing or older
// than any source file (a clean checkout runs `npm run e2e` without a separate build).
import { execSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const index = resolve(web, "../src/modelmate/web_dist/index.html");

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => newest(join(path, f))));
}
const sources = ["src", "public", "index.html", "vite.config.ts", "package.json"].map((p) => join(web, p)).filter(existsSync);
const stale = !existsSync(index) || Math.max(...sources.map(newest)) > statSync(index).mtimeMs;
if (stale) {
  console.log("web build missing or stale: building it for the e2e tests");
  execSync("npx vite build", { cwd: web, stdio: "inherit" });
} else {
  console.log("web build is up to date");
}
