// Recharts is heavy: this module is loaded lazily by the dashboard.
import { Bar, BarChart, CartesianGrid, Cell, Legend, Pie, PieChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { Dashboard } from "@/lib/types";
import { STATUS_LABEL } from "@/lib/constants";
import { tooltipStyle } from "@/components/chartStyle";

const STATUS_COLOR: Record<string, string> = {
  wishlist: "#38bdf8",
  tried: "#f59e0b",
  studied: "#8b5cf6",
  using: "#10b981",
  archived: "#a1a1aa",
};
const PALETTE = ["var(--chart-1)", "var(--chart-2)", "var(--chart-3)", "var(--chart-4)", "var(--chart-5)", "#a1a1aa"];
const axis = { stroke: "var(--muted-foreground)", fontSize: 12, tickLine: false, axisLine: false } as const;

/** Donut of entries per status, with the count in every legend item and the total in the middle. */
export function StatusChart({ data }: { data: Dashboard["by_status"] }) {
  const rows = data.map((d) => ({ name: STATUS_LABEL[d.value] ?? d.value, value: d.count, key: d.value }));
  const total = rows.reduce((sum, r) => sum + r.value, 0);
  return (
    <div data-testid="status-chart">
      <ResponsiveContainer width="100%" height={220}>
        <PieChart>
          <Pie data={rows} dataKey="value" nameKey="name" cx="50%" cy={CY} innerRadius={55} outerRadius={85} paddingAngle={2} stroke="var(--card)" isAnimationActive={false}>
            {rows.map((r) => (
              <Cell key={r.key} fill={STATUS_COLOR[r.key] ?? "#a1a1aa"} />
            ))}
          </Pie>
          <DonutTotal total={total} />
          <Tooltip contentStyle={tooltipStyle} />
          <Legend
            iconType="circle"
            verticalAlign="bottom"
            height={30}
            wrapperStyle={{ fontSize: 12 }}
            formatter={(name: string, entry) => (
              <span className="text-foreground" data-testid="status-legend-item">
                {name} <span className="font-semibold tabular-nums">{(entry.payload as { value?: number } | undefined)?.value ?? ""}</span>
              </span>
            )}
          />
        </PieChart>
      </ResponsiveContainer>
    </div>
  );
}

/** The donut's centre, from the top of the chart: the pie (radius 85) sits above a 30 px legend. */
const CY = 95;

function DonutTotal({ total }: { total: number }) {
  return (
    <text x="50%" y={CY} textAnchor="middle" dominantBaseline="middle" data-testid="status-total">
      <tspan x="50%" dy="-0.4em" style={{ fontSize: 20, fontWeight: 600, fill: "var(--foreground)" }}>
        {total}
      </tspan>
      <tspan x="50%" dy="1.3em" style={{ fontSize: 11, fill: "var(--muted-foreground)" }}>
        {total === 1 ? "model" : "models"}
      </tspan>
    </text>
  );
}

export function TypeChart({ data }: { data: Dashboard["by_type"] }) {
  return (
    <ResponsiveContainer width="100%" height={220}>
      <BarChart data={data.map((d) => ({ name: d.value, count: d.count }))} margin={{ left: -20, right: 8 }}>
        <CartesianGrid vertical={false} stroke="var(--border)" />
        <XAxis dataKey="name" {...axis} />
        <YAxis allowDecimals={false} {...axis} />
        <Tooltip contentStyle={tooltipStyle} cursor={{ fill: "var(--muted)" }} />
        <Bar dataKey="count" name="Models" radius={[4, 4, 0, 0]}>
          {data.map((_, i) => (
            <Cell key={i} fill={PALETTE[i % PALETTE.length]} />
          ))}
        </Bar>
      </BarChart>
    </ResponsiveContainer>
  );
}

/** Counts per month are whole numbers per bucket: bars, not a smoothed curve that invents values between months. */
export function MonthChart({ data }: { data: Dashboard["by_month"] }) {
  return (
    <div data-testid="month-chart">
      <ResponsiveContainer width="100%" height={240}>
        <BarChart data={data} margin={{ left: -20, right: 12 }} barGap={2}>
          <CartesianGrid vertical={false} stroke="var(--border)" />
          <XAxis dataKey="month" {...axis} />
          <YAxis allowDecimals={false} {...axis} />
          <Tooltip contentStyle={tooltipStyle} cursor={{ fill: "var(--muted)" }} />
          <Legend iconType="circle" wrapperStyle={{ fontSize: 12 }} />
          <Bar dataKey="added" name="Added" fill="var(--chart-1)" radius={[3, 3, 0, 0]} maxBarSize={18} />
          <Bar dataKey="interacted" name="Interacted" fill="var(--chart-2)" radius={[3, 3, 0, 0]} maxBarSize={18} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
