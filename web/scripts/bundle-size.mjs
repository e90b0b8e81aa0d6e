#!/usr/bin/env node
// Prints the gzipped size of the JS/CSS that index.html loads up front (entry + modulepreloads), and fails when the
// initial JS is over the budget. Lazy route/chart/markdown chunks are listed separately.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const BUDGET_KB = 300;
const dist = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/modelmate/web_dist");
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
const gz = (rel) => gzipSync(readFileSync(join(dist, rel)), { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1);

let js = 0;
let css = 0;
for (const rel of new Set(refs)) {
  const size = gz(rel);
  if (rel.endsWith(".js")) js += size;
  else css += size;
  console.log(`  initial  ${kb(size).padStart(7)} kB gz  ${rel}`);
}
const initial = new Set(refs.map((r) => r.slice("assets/".length)));
const lazy = readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".js") && !initial.has(f));
const lazyTotal = lazy.reduce((s, f) => s + gz(`assets/${f}`), 0);
console.log(`initial JS: ${kb(js)} kB gzipped (budget ${BUDGET_KB} kB); initial CSS: ${kb(css)} kB gzipped`);
console.log(`lazy chunks: ${lazy.length} files, ${kb(lazyTotal)} kB gzipped in all`);
if (js > BUDGET_KB * 1024) {
  console.error(`initial JS is over the ${BUDGET_KB} kB budget`);
  process.exit(1);
}
