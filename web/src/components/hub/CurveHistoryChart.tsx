// Recharts is heavy: this module is loaded lazily by the run page's curve-history card.
import { Area, CartesianGrid, ComposedChart, Legend, Line, Tooltip, XAxis, YAxis } from "recharts";
import { Sized, formatTick, tooltipStyle } from "@/components/chartStyle";
import { bandRows } from "@/lib/curveHistory";
import type { CurveHistoryOut } from "@/lib/types";

const axis = { stroke: "var(--muted-foreground)", fontSize: 12, tickLine: false, axisLine: false } as const;
const formatStep = (v: unknown) => (typeof v === "number" ? (v >= 1000 ? `${Math.round(v / 100) / 10}k` : `${Math.round(v)}`) : String(v));

/** The run's curve (bold) over the band of earlier runs: median line, p25–p75 shaded, p10–p90 lighter; same-dataset
 * runs as thin lines. Log-scaled step axis. */
export function CurveHistoryChart({ history, width }: { history: CurveHistoryOut; width?: number }) {
  const band = bandRows(history);
  const own = history.run.map((p) => ({ step: p.step, loss: p.loss }));
  return (
    <Sized width={width} height={300}>
      <ComposedChart width={width} height={300} data={band} margin={{ left: -8, right: 12, top: 4 }}>
        <CartesianGrid vertical={false} stroke="var(--border)" />
        <XAxis dataKey="step" type="number" scale="log" domain={["dataMin", "dataMax"]} allowDataOverflow
               tickFormatter={formatStep} {...axis} />
        <YAxis domain={["auto", "auto"]} tickFormatter={formatTick} width={56} {...axis} />
        <Tooltip contentStyle={tooltipStyle} formatter={formatTick} labelFormatter={(s) => `≈ step ${formatStep(s)}`} />
        <Legend iconType="circle" wrapperStyle={{ fontSize: 12 }} />
        <Area dataKey="p10p90" name="p10–p90" stroke="none" fill="var(--chart-5)" fillOpacity={0.15}
              isAnimationActive={false} />
        <Area dataKey="p25p75" name="p25–p75" stroke="none" fill="var(--chart-5)" fillOpacity={0.3}
              isAnimationActive={false} />
        <Line dataKey="median" name="Median" stroke="var(--chart-5)" strokeDasharray="4 3" dot={false}
              isAnimationActive={false} />
        {history.same_dataset.map((c) => (
          <Line key={c.run_id} data={c.points.map((p) => ({ step: p.step, loss: p.loss }))} dataKey="loss"
                name={c.name ?? `run ${c.run_id}`} stroke="var(--chart-3)" strokeWidth={1} strokeOpacity={0.7}
                dot={false} legendType="none" isAnimationActive={false} />
        ))}
        <Line data={own} dataKey="loss" name="This run" stroke="var(--chart-1)" strokeWidth={2.5}
              dot={own.length < 40} isAnimationActive={false} />
      </ComposedChart>
    </Sized>
  );
}
