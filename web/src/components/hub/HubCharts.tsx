// Recharts is heavy: this module is loaded lazily by the run and dataset pages.
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { HistogramBin } from "@/lib/hub";
import type { CurvePoint } from "@/lib/types";
import { formatTick, tooltipStyle } from "@/components/chartStyle";

const axis = { stroke: "var(--muted-foreground)", fontSize: 12, tickLine: false, axisLine: false } as const;

/** Train loss (every logged step) and eval loss (at each evaluation) against the step. */
export function LossChart({ curve, totalSteps }: { curve: CurvePoint[]; totalSteps?: number | null }) {
  const hasEval = curve.some((p) => p.eval_loss !== null && p.eval_loss !== undefined);
  return (
    <ResponsiveContainer width="100%" height={260}>
      <LineChart data={curve} margin={{ left: -8, right: 12, top: 4 }}>
        <CartesianGrid vertical={false} stroke="var(--border)" />
        <XAxis
          dataKey="step"
          type="number"
          domain={[0, totalSteps && totalSteps > 0 ? totalSteps : "dataMax"]}
          allowDecimals={false}
          {...axis}
        />
        <YAxis domain={["auto", "auto"]} tickFormatter={formatTick} width={56} {...axis} />
        <Tooltip contentStyle={tooltipStyle} formatter={formatTick} labelFormatter={(s) => `step ${s}`} />
        <Legend iconType="circle" wrapperStyle={{ fontSize: 12 }} />
        <Line
          type="monotone"
          dataKey="loss"
          name="Train loss"
          stroke="var(--chart-1)"
          strokeWidth={2}
          dot={curve.length < 40}
          connectNulls
          isAnimationActive={false}
        />
        {hasEval && (
          <Line
            type="monotone"
            dataKey="eval_loss"
            name="Eval loss"
            stroke="var(--chart-2)"
            strokeWidth={2}
            dot
            connectNulls
            isAnimationActive={false}
          />
        )}
      </LineChart>
    </ResponsiveContainer>
  );
}

/** Learning rate (left axis) and gradient norm (right axis) against the step. */
export function LrChart({ curve, totalSteps }: { curve: CurvePoint[]; totalSteps?: number | null }) {
  const hasGrad = curve.some((p) => p.grad_norm !== null && p.grad_norm !== undefined);
  return (
    <ResponsiveContainer width="100%" height={180}>
      <LineChart data={curve} margin={{ left: -8, right: 12, top: 4 }}>
        <CartesianGrid vertical={false} stroke="var(--border)" />
        <XAxis dataKey="step" type="number" domain={[0, totalSteps && totalSteps > 0 ? totalSteps : "dataMax"]} allowDecimals={false} {...axis} />
        <YAxis yAxisId="lr" tickFormatter={formatTick} width={64} {...axis} />
        {hasGrad && <YAxis yAxisId="grad" orientation="right" tickFormatter={formatTick} width={48} {...axis} />}
        <Tooltip contentStyle={tooltipStyle} formatter={formatTick} labelFormatter={(s) => `step ${s}`} />
        <Legend iconType="circle" wrapperStyle={{ fontSize: 12 }} />
        <Line yAxisId="lr" type="monotone" dataKey="lr" name="Learning rate" stroke="var(--chart-3)" strokeWidth={2} dot={false} connectNulls isAnimationActive={false} />
        {hasGrad && (
          <Line yAxisId="grad" type="monotone" dataKey="grad_norm" name="Gradient norm" stroke="var(--chart-5)" strokeWidth={1.5} dot={false} connectNulls isAnimationActive={false} />
        )}
      </LineChart>
    </ResponsiveContainer>
  );
}

/** How long the rows are: one bar per length bin. */
export function LengthHistogram({ bins, unit }: { bins: HistogramBin[]; unit: string }) {
  const rows = bins.map((b) => {
    const lo = Math.round(b.lo);
    const hi = Math.round(b.hi);
    return { label: lo === hi ? String(lo) : `${lo}–${hi}`, count: b.count };
  });
  return (
    <ResponsiveContainer width="100%" height={220}>
      <BarChart data={rows} margin={{ left: -20, right: 8 }}>
        <CartesianGrid vertical={false} stroke="var(--border)" />
        <XAxis dataKey="label" {...axis} interval="preserveStartEnd" />
        <YAxis allowDecimals={false} {...axis} />
        <Tooltip contentStyle={tooltipStyle} cursor={{ fill: "var(--muted)" }} labelFormatter={(l) => `${l} ${unit}`} />
        <Bar dataKey="count" name="Rows" fill="var(--chart-1)" radius={[4, 4, 0, 0]} isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}
