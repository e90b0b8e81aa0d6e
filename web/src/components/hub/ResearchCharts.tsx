// Recharts is heavy: this module is loaded lazily by the museum and the capability-changes pages.
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ReferenceLine, Tooltip, XAxis, YAxis } from "recharts";
import { DELTA_UNIT, domainColor, domainLabel } from "@/lib/bench";
import type { MuseumCurvePoint } from "@/lib/research";
import { Sized, formatTick, tooltipStyle } from "@/components/chartStyle";

const axis = { stroke: "var(--muted-foreground)", fontSize: 11, tickLine: false, axisLine: false } as const;

/** A small train/eval loss curve for a museum card (finite points only; the caller filters NaN/Inf). */
export function MiniLossChart({ curve, width }: { curve: MuseumCurvePoint[]; width?: number }) {
  const hasEval = curve.some((p) => typeof p.eval_loss === "number");
  const hasTrain = curve.some((p) => typeof p.loss === "number");
  const chart = (
    <LineChart data={curve} margin={{ left: 6, right: 6, top: 4, bottom: 0 }} width={width} height={width ? 120 : undefined}>
      <CartesianGrid vertical={false} stroke="var(--border)" />
      <XAxis dataKey="step" type="number" domain={["dataMin", "dataMax"]} allowDecimals={false} {...axis} />
      <YAxis domain={["auto", "auto"]} tickFormatter={formatTick} width={52} {...axis} />
      <Tooltip contentStyle={tooltipStyle} formatter={formatTick} labelFormatter={(s) => `step ${s}`} />
      {hasTrain && (
        <Line type="monotone" dataKey="loss" name="Train loss" stroke="var(--chart-1)" strokeWidth={1.5} dot={curve.length < 12} connectNulls isAnimationActive={false} />
      )}
      {hasEval && (
        <Line type="monotone" dataKey="eval_loss" name="Eval loss" stroke="var(--chart-2)" strokeWidth={1.5} dot connectNulls isAnimationActive={false} />
      )}
    </LineChart>
  );
  return (
    <Sized width={width} height={120}>
      {chart}
    </Sized>
  );
}

/**
 * Mean change (in points) of each target domain, grouped by the fine-tuning data's domain: one group of bars per
 * training domain, one bar per target domain. Below zero: the fine-tunes lost ability there on average.
 */
export function AggregatesChart({ data, targets, width }: { data: Record<string, string | number>[]; targets: string[]; width?: number }) {
  const chart = (
    <BarChart data={data} margin={{ left: -8, right: 12, top: 8 }} width={width} height={width ? 280 : undefined}>
      <CartesianGrid vertical={false} stroke="var(--border)" />
      <XAxis dataKey="training" tickFormatter={(d) => domainLabel(String(d))} {...axis} />
      <YAxis tickFormatter={(v) => (v === 0 ? "0" : `${v > 0 ? "+" : ""}${v} ${DELTA_UNIT}`)} width={64} {...axis} />
      <ReferenceLine y={0} stroke="var(--muted-foreground)" />
      <Tooltip
        contentStyle={tooltipStyle}
        cursor={{ fill: "var(--muted)" }}
        labelFormatter={(d) => `Trained on ${domainLabel(String(d))} data`}
        formatter={(v, name) => [`${typeof v === "number" && v > 0 ? "+" : ""}${v} ${DELTA_UNIT}`, domainLabel(String(name))]}
      />
      <Legend iconType="circle" wrapperStyle={{ fontSize: 12 }} formatter={(name) => domainLabel(String(name))} />
      {targets.map((t) => (
        <Bar key={t} dataKey={t} name={t} fill={domainColor(t)} radius={[3, 3, 0, 0]} isAnimationActive={false} />
      ))}
    </BarChart>
  );
  return (
    <Sized width={width} height={280}>
      {chart}
    </Sized>
  );
}
