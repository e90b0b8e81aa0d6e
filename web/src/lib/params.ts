/** "7B" → 7e9, "1.3M" → 1.3e6, "7000000000" → 7e9; "" → null; NaN for nonsense. */
export function parseParams(text: string): number | null {
  const t = text.trim().replace(/[,_\s]/g, "");
  if (!t) return null;
  const m = /^(\d+(?:\.\d+)?)([kKmMbBtT]?)$/.exec(t);
  if (!m) return Number.NaN;
  const mult = { "": 1, k: 1e3, m: 1e6, b: 1e9, t: 1e12 }[m[2].toLowerCase() as "" | "k" | "m" | "b" | "t"];
  return Math.round(Number.parseFloat(m[1]) * mult);
}
