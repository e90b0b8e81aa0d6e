// The run page's "against earlier runs" card: the run's curve over the band of earlier runs on its base model.
import { lazy, Suspense } from "react";
import { History } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { bandLegend, sameDatasetLegend, X_AXIS_NOTE } from "@/lib/curveHistory";
import { formatFloat } from "@/lib/format";
import type { CurveHistoryOut } from "@/lib/types";
import { isActive } from "@/lib/hub";
import { useCurveHistory } from "@/lib/researchQueries";

const CurveHistoryChart = lazy(() =>
  import("@/components/hub/CurveHistoryChart").then((m) => ({ default: m.CurveHistoryChart })),
);

const VERDICT_LABEL = { faster: "Faster", slower: "Slower", typical: "Typical", too_few: "Too few runs", no_loss: "No loss yet" } as const;
const VERDICT_VARIANT = { faster: "success", slower: "warning", typical: "muted", too_few: "muted", no_loss: "muted" } as const;

/** Every band bucket as a row (the chart's text alternative), with this run's loss where it has one. */
export function CurveHistoryTable({ history }: { history: CurveHistoryOut }) {
  const own = new Map(history.run.map((p) => [p.bucket, p.loss]));
  return (
    <table className="w-full text-right text-xs tabular-nums" data-testid="curve-history-table">
      <caption className="sr-only">Loss of earlier runs per step range, and this run's</caption>
      <thead className="text-muted-foreground">
        <tr>
          <th scope="col" className="text-left font-medium">Steps</th>
          <th scope="col" className="font-medium">Runs</th>
          <th scope="col" className="font-medium">p10</th>
          <th scope="col" className="font-medium">p25</th>
          <th scope="col" className="font-medium">Median</th>
          <th scope="col" className="font-medium">p75</th>
          <th scope="col" className="font-medium">p90</th>
          <th scope="col" className="font-medium">This run</th>
        </tr>
      </thead>
      <tbody>
        {history.band.map((b) => (
          <tr key={b.bucket} className="border-t">
            <th scope="row" className="text-left font-normal">
              {b.step_from === b.step_to ? b.step_from : `${b.step_from}–${b.step_to}`}
            </th>
            <td>{b.runs}</td>
            <td>{formatFloat(b.p10)}</td>
            <td>{formatFloat(b.p25)}</td>
            <td>{formatFloat(b.median)}</td>
            <td>{formatFloat(b.p75)}</td>
            <td>{formatFloat(b.p90)}</td>
            <td>{own.has(b.bucket) ? formatFloat(own.get(b.bucket)!) : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The card's content for a loaded history (exported for tests; `chartWidth` fixes the chart's size there). */
export function CurveHistoryBody({ history, chartWidth }: { history: CurveHistoryOut; chartWidth?: number }) {
  const same = sameDatasetLegend(history);
  if (history.band.length === 0 && history.same_dataset.length === 0) {
    return (
      <div data-testid="curve-history-empty"
           className="flex h-[120px] items-center justify-center rounded-md border border-dashed px-4 text-center text-sm text-muted-foreground">
        No history yet: this is the first run on this base model with a loss curve that you can see. Later runs will be
        compared with it.
      </div>
    );
  }
  return (
    <div className="grid gap-3">
      <p className="text-sm" data-testid="curve-verdict" data-kind={history.verdict.kind}>
        <Badge variant={VERDICT_VARIANT[history.verdict.kind]} className="mr-2">
          {VERDICT_LABEL[history.verdict.kind]}
        </Badge>
        {history.verdict.sentence}
      </p>
      <Suspense fallback={<Skeleton className="h-[300px] w-full" />}>
        <figure aria-label="This run's loss curve over the band of earlier runs" data-testid="curve-history-chart">
          <CurveHistoryChart history={history} width={chartWidth} />
        </figure>
      </Suspense>
      <p className="text-xs text-muted-foreground" data-testid="curve-history-legend">
        {bandLegend(history)} Shaded: p25–p75 (darker) and p10–p90; dashed: the median.{same ? ` ${same}` : ""}{" "}
        {X_AXIS_NOTE}
      </p>
      <details>
        <summary className="cursor-pointer text-sm text-muted-foreground">The band as a table</summary>
        <CurveHistoryTable history={history} />
      </details>
    </div>
  );
}

export function CurveHistoryCard({ runId, status }: { runId: number; status: string }) {
  const history = useCurveHistory(runId, isActive(status));
  return (
    <Card data-testid="curve-history">
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-2">
        <div className="grid gap-1">
          <CardTitle className="flex items-center gap-2 text-base">
            <History className="size-4" aria-hidden /> Against earlier runs on this base model
          </CardTitle>
          <CardDescription>
            Did this run learn faster or slower than usual? Its training loss over the spread of every earlier run on
            the same base model.
          </CardDescription>
        </div>
        {history.data && history.data.earlier_runs > 0 && (
          <Badge variant="muted" data-testid="curve-history-runs" data-count={history.data.band_runs}>
            {history.data.band_runs.toLocaleString("en-US")} earlier {history.data.band_runs === 1 ? "run" : "runs"}
          </Badge>
        )}
      </CardHeader>
      <CardContent>
        {history.data ? (
          <CurveHistoryBody history={history.data} />
        ) : history.isError ? (
          <p className="text-sm text-muted-foreground">The history could not be loaded.</p>
        ) : (
          <Skeleton className="h-[300px] w-full" />
        )}
      </CardContent>
    </Card>
  );
}
