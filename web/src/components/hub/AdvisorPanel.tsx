// The builder's advisor: before launching, similar past runs on the same base model (nearby hyperparameters, similar
// data size) with their outcomes, and warnings when a configuration like this one failed before. Refreshed, debounced,
// whenever the base model, preset, dataset or settings change.
import { Link } from "react-router";
import { AlertTriangle, Lightbulb } from "lucide-react";
import { OutcomeBadge } from "@/components/hub/RunPieces";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/api";
import { domainLabel, formatScore } from "@/lib/bench";
import { formatFloat } from "@/lib/format";
import { failureLabel } from "@/lib/hub";
import type { SimilarRun } from "@/lib/research";
import { advisorRequest, configSummary, modelHref } from "@/lib/research";
import { useAdvisor } from "@/lib/researchQueries";
import { cn } from "@/lib/utils";

function SimilarRunRow({ run }: { run: SimilarRun }) {
  const fail = failureLabel(run.failure_category);
  const scores = Object.entries(run.scores ?? {}).slice(0, 4);
  const model = modelHref(run.model);
  return (
    <li className="grid gap-1 border-b border-dashed py-2 last:border-0" data-testid="advisor-run" data-outcome={run.outcome ?? ""} data-category={run.failure_category ?? ""}>
      <div className="flex flex-wrap items-center gap-2">
        <Link to={`/hub/runs/${run.run_id}`} className="min-w-0 truncate font-medium hover:underline">
          {run.name || `Run ${run.run_id}`}
        </Link>
        <OutcomeBadge outcome={run.outcome} />
        {fail && <Badge variant="warning">{fail.title}</Badge>}
        {!run.same_base && <Badge variant="muted">other base</Badge>}
        <span className="ml-auto text-xs tabular-nums text-muted-foreground" title="Distance over log learning rate, rank, epochs, batch and sequence length (0 = same settings)">
          distance {formatFloat(run.distance, 2)}
        </span>
      </div>
      <p className="flex flex-wrap gap-x-3 gap-y-0.5 text-xs text-muted-foreground tabular-nums">
        {configSummary(run.config).map((s) => (
          <span key={s.key}>
            {s.label} <span className="font-medium text-foreground">{s.value}</span>
          </span>
        ))}
        {run.final_loss !== null && run.final_loss !== undefined && (
          <span>
            loss <span className="font-medium text-foreground">{formatFloat(run.final_loss)}</span>
          </span>
        )}
        {scores.map(([d, v]) => (
          <span key={d}>
            {domainLabel(d)} <span className="font-medium text-foreground">{formatScore(v)}</span>
          </span>
        ))}
        {model && run.model && (
          <Link to={model} className="text-primary hover:underline">
            model
          </Link>
        )}
      </p>
    </li>
  );
}

export interface AdvisorPanelProps {
  /** The base model as RunCreate takes it (key or id); nothing is asked while it is empty. */
  base: string | null | undefined;
  preset?: string | null;
  /** Config overrides on top of the preset (expert mode); invalid fields already left out. */
  config?: Record<string, unknown> | null;
  datasetId?: number | null;
  className?: string;
}

export function AdvisorPanel({ base, preset, config, datasetId, className }: AdvisorPanelProps) {
  const body = advisorRequest({ base, preset, config, datasetId });
  const advice = useAdvisor(body);
  if (!body) return null;
  const data = advice.data;
  const warnings = data?.warnings ?? [];
  const similar = data?.similar ?? [];
  return (
    <Card className={cn("mt-6", className)} data-testid="advisor" aria-busy={advice.isFetching || undefined}>
      <CardHeader>
        <CardTitle className="flex items-center gap-2 text-base">
          <Lightbulb className="size-4" aria-hidden /> Advisor
        </CardTitle>
        <CardDescription>Past runs on this base model with similar settings, and what happened to them.</CardDescription>
      </CardHeader>
      <CardContent className={cn("grid gap-3", advice.isPlaceholderData && "opacity-70")}>
        {advice.isLoading && <Skeleton className="h-20 w-full" />}
        {advice.isError && (
          <p className="text-sm text-muted-foreground" data-testid="advisor-error">
            No advice for these settings: {errorMessage(advice.error)}
          </p>
        )}
        {warnings.length > 0 && (
          <ul className="grid gap-1.5" aria-label="Warnings" aria-live="polite" data-testid="advisor-warnings">
            {warnings.map((w, i) => (
              <li key={i} className="flex items-start gap-2 rounded-md border border-amber-500/40 bg-amber-500/10 p-2.5 text-sm" data-testid="advisor-warning">
                <AlertTriangle className="mt-0.5 size-4 shrink-0 text-amber-600 dark:text-amber-400" aria-hidden />
                <span>{w}</span>
              </li>
            ))}
          </ul>
        )}
        {data && similar.length === 0 && (
          <p className="text-sm text-muted-foreground" data-testid="advisor-empty">
            No similar runs yet on this base model: yours will be the first.
          </p>
        )}
        {similar.length > 0 && (
          <ul className="text-sm" aria-label="Similar runs" data-testid="advisor-similar">
            {similar.map((r) => (
              <SimilarRunRow key={r.run_id} run={r} />
            ))}
          </ul>
        )}
      </CardContent>
    </Card>
  );
}
