// What every Recharts module shares: the tooltip box, the number format, and "fixed size or fill the width".
// Imported only by the lazily loaded chart modules, so Recharts stays out of the first load.
import type { ReactElement } from "react";
import { ResponsiveContainer } from "recharts";
import { formatFloat } from "@/lib/format";

export const tooltipStyle = {
  background: "var(--popover)",
  border: "1px solid var(--border)",
  borderRadius: 8,
  color: "var(--foreground)",
  fontSize: 12,
};

export const formatTick = (v: unknown) => (typeof v === "number" ? formatFloat(v) : String(v));

/** The chart as is when it was given a fixed `width` (tests, small cards), else filling its container's width. */
export function Sized({ width, height, children }: { width?: number; height: number; children: ReactElement }) {
  if (width) return children;
  return (
    <ResponsiveContainer width="100%" height={height}>
      {children}
    </ResponsiveContainer>
  );
}
