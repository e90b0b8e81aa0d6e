// Helpers shared by the end-to-end specs: screenshots in light and dark mode into docs/screenshots/, and a guard
// that records any JS dialog (in these tests a dialog means injected script ran).
import type { Locator, Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const SHOTS = fileURLToPath(new URL("../../docs/screenshots/", import.meta.url));
mkdirSync(SHOTS, { recursive: true });

/** `<name>-light.png` and `<name>-dark.png`; scrolled to the top, or to `target` when given. */
export async function shoot(page: Page, name: string, { fullPage = false, target }: { fullPage?: boolean; target?: Locator } = {}) {
  if (target) await target.evaluate((el) => el.scrollIntoView({ block: "center" }));
  else await page.evaluate(() => window.scrollTo(0, 0));
  for (const theme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: theme });
    await page.evaluate((t) => {
      localStorage.setItem("mm-theme", t);
      document.documentElement.classList.toggle("dark", t === "dark");
    }, theme);
    await page.waitForTimeout(350); // charts animate; let them settle
    await page.screenshot({ path: `${SHOTS}${name}-${theme}.png`, fullPage });
  }
  await page.evaluate(() => {
    localStorage.removeItem("mm-theme");
    document.documentElement.classList.remove("dark");
  });
  await page.emulateMedia({ colorScheme: "light" });
}

/** Any JS dialog (alert/confirm/prompt) is dismissed and recorded; assert the returned list stays empty. */
export function failOnDialogs(page: Page): string[] {
  const seen: string[] = [];
  page.on("dialog", async (d) => {
    seen.push(d.message());
    await d.dismiss();
  });
  return seen;
}
