// Recharts is heavy: this module is loaded lazily by the model page's Benchmarks section.
import { Legend, PolarAngleAxis, PolarGrid, PolarRadiusAxis, Radar, RadarChart, Tooltip } from "recharts";
import type { RadarPoint } from "@/lib/bench";
import { formatScore } from "@/lib/bench";
import { Sized, tooltipStyle } from "@/components/chartStyle";

/** The model's domain scores on a radar (0..1 scale), with the base model's as a second series when known. */
export function DomainRadar({
  data,
  modelName,
  baseName,
  width,
}: {
  data: RadarPoint[];
  modelName: string;
  baseName?: string | null;
  /** A fixed width in pixels (tests, print); by default the chart fills its container. */
  width?: number;
}) {
  const hasBase = data.some((p) => p.base !== null);
  const unit = data.every((p) => (p.model ?? 0) <= 1 && (p.base ?? 0) <= 1);
  const fmt = (v: unknown) => (typeof v === "number" ? formatScore(v, unit) : "—");
  const chart = (
    <RadarChart data={data} outerRadius="72%" margin={{ top: 8, right: 24, bottom: 8, left: 24 }} width={width} height={width ? 300 : undefined}>
      <PolarGrid stroke="var(--border)" />
      <PolarAngleAxis dataKey="label" tick={{ fill: "var(--muted-foreground)", fontSize: 12 }} />
      <PolarRadiusAxis domain={unit ? [0, 1] : [0, "auto"]} tick={false} axisLine={false} />
      <Tooltip contentStyle={tooltipStyle} formatter={fmt} />
      {hasBase && (
        <Radar
          name={baseName || "Base model"}
          dataKey="base"
          stroke="var(--chart-2)"
          fill="var(--chart-2)"
          fillOpacity={0.12}
          strokeDasharray="4 3"
          isAnimationActive={false}
        />
      )}
      <Radar name={modelName} dataKey="model" stroke="var(--chart-1)" fill="var(--chart-1)" fillOpacity={0.3} isAnimationActive={false} />
      <Legend iconType="circle" wrapperStyle={{ fontSize: 12 }} />
    </RadarChart>
  );
  return (
    <Sized width={width} height={300}>
      {chart}
    </Sized>
  );
}
