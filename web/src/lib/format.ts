/** 7000000000 → "7B", 1300000 → "1.3M". */
export function formatParams(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [size, suffix] of units) {
    if (n >= size) {
      const v = n / size;
      return `${v >= 100 ? Math.round(v) : Number(v.toFixed(1))}${suffix}`;
    }
  }
  return String(n);
}

const dateFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
const monthFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long" });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

export function formatDate(s: string | null | undefined): string {
  if (!s) return "—";
  const d = s.length === 10 ? new Date(`${s}T00:00:00`) : new Date(s);
  return Number.isNaN(d.getTime()) ? s : dateFmt.format(d);
}

export function formatDateTime(s: string | null | undefined): string {
  if (!s) return "—";
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : dateTimeFmt.format(d);
}

/** "2026-03" → "March 2026". */
export function formatMonth(month: string): string {
  const d = new Date(`${month.slice(0, 7)}-01T00:00:00`);
  return Number.isNaN(d.getTime()) ? month : monthFmt.format(d);
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (Array.isArray(v)) return v.length ? v.map(String).join(", ") : "—";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
