// The model page's Benchmarks section: domain radar (vs the base model), per-task table, "Evaluate" with live progress.
import { lazy, Suspense, useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { AlertTriangle, Gauge, Play, Trophy } from "lucide-react";
import { DomainScoreList, EvaluationProgress, TaskTable } from "@/components/hub/BenchPieces";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { toast } from "@/components/ui/toast";
import { ApiError } from "@/lib/api";
import type { EvaluationOut } from "@/lib/bench";
import { evaluationError, isEvaluating, radarData } from "@/lib/bench";
import { benchKeys, useEvaluation, useModelEvaluations, useModelScores, useStartEvaluation } from "@/lib/benchQueries";
import { EVAL_BACKEND_LABEL, enumLabel } from "@/lib/enums";
import { formatDateTime } from "@/lib/format";

const DomainRadar = lazy(() => import("@/components/hub/BenchCharts").then((m) => ({ default: m.DomainRadar })));

/** ", on vLLM": the engine recorded with an evaluation's settings (none before engines were recorded). */
function engineOf(evaluation: EvaluationOut): string {
  const backend = evaluation.settings?.backend;
  return typeof backend === "string" && backend ? `, on ${enumLabel(EVAL_BACKEND_LABEL, backend)}` : "";
}

/** The evaluation to follow: the one just started, else the newest still running. */
function useFollowedEvaluation(modelId: number) {
  const list = useModelEvaluations(modelId);
  const [started, setStarted] = useState<number | null>(null);
  const running = (list.data ?? []).find((e) => isEvaluating(e.status));
  const id = started ?? running?.id ?? null;
  return { id, setStarted, evaluation: useEvaluation(id) };
}

function EvaluationOutcome({ evaluation }: { evaluation: EvaluationOut }) {
  if (evaluation.status !== "partial" && evaluation.status !== "failed") return null;
  const failed = evaluation.status === "failed";
  return (
    <div
      className={
        failed
          ? "grid gap-2 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900 dark:border-red-900 dark:bg-red-950/40 dark:text-red-200"
          : "grid gap-2 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950/40 dark:text-amber-200"
      }
      data-testid="evaluation-outcome"
      data-status={evaluation.status}
    >
      <p className="flex items-center gap-1.5 font-medium">
        <AlertTriangle className="size-4" aria-hidden />
        {failed ? "The last evaluation failed" : "The last evaluation is partial: some tasks did not finish"}
      </p>
      {evaluationError(evaluation) && <p className="whitespace-pre-wrap">{evaluationError(evaluation)}</p>}
      <p>Its scores are not used as final results{failed ? "" : "; the finished tasks are listed below, marked"}.</p>
    </div>
  );
}

export function ModelBenchmarks({ modelId, modelName, baseName }: { modelId: number; modelName: string; baseName?: string | null }) {
  const qc = useQueryClient();
  const scores = useModelScores(modelId);
  const { id: followedId, setStarted, evaluation } = useFollowedEvaluation(modelId);
  const start = useStartEvaluation(modelId);
  const [allMetrics, setAllMetrics] = useState(false);
  const ev = evaluation.data;
  const running = !!ev && isEvaluating(ev.status);

  // When the followed evaluation finishes, the scores (and the list) are fetched again.
  const wasRunning = useRef(false);
  useEffect(() => {
    if (running) wasRunning.current = true;
    else if (wasRunning.current && ev) {
      wasRunning.current = false;
      qc.invalidateQueries({ queryKey: benchKeys.scores(modelId) });
      qc.invalidateQueries({ queryKey: benchKeys.evaluations(modelId) });
      if (ev.status === "final") toast.success("Evaluation finished", "The scores below are up to date.");
    }
  }, [running, ev, qc, modelId]);

  const onEvaluate = () =>
    start.mutate(
      { mode: "quick" },
      {
        onSuccess: (e) => {
          setStarted(e.id);
          if (e.cached) toast("Already measured", { description: "These settings were evaluated before: showing those results." });
        },
      },
    );

  const noScores = scores.isError && scores.error instanceof ApiError && scores.error.status === 404;
  const s = scores.data;
  const domains = s?.domains ?? [];
  const hasDomains = domains.some((d) => d.score != null);
  const radar = radarData(domains);
  const tasks = s?.evaluation?.rows ?? [];
  const partialRows = ev && !running && ev.status === "partial" && ev.id !== s?.evaluation?.id ? (ev.rows ?? []) : [];
  const measured = s?.evaluation;
  const secondary = tasks.some((r) => r.primary) ? tasks.filter((r) => !r.primary && r.status === "final").length : 0;

  return (
    <Card data-testid="benchmarks">
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-2">
        <div className="grid gap-1">
          <CardTitle className="flex items-center gap-2 text-base">
            <Gauge className="size-4" aria-hidden /> Benchmarks
          </CardTitle>
          <CardDescription>
            lm-evaluation-harness scores by domain
            {baseName && domains.some((d) => d.base_score != null) ? `, against the base model ${baseName}` : ""}
            {measured ? ` · measured ${formatDateTime(measured.finished_at ?? measured.created_at)} (${measured.mode}${engineOf(measured)})` : ""}.
          </CardDescription>
        </div>
        <div className="flex flex-wrap items-center gap-2">
          <Button variant="ghost" size="sm" asChild>
            <Link to="/hub/leaderboards">
              <Trophy aria-hidden /> Leaderboards
            </Link>
          </Button>
          <Button onClick={onEvaluate} disabled={running || start.isPending} data-testid="evaluate">
            <Play aria-hidden /> {running ? "Evaluating…" : "Evaluate"}
          </Button>
        </div>
      </CardHeader>
      <CardContent className="grid gap-4">
        {ev && running && <EvaluationProgress evaluation={ev} />}
        {ev && !running && followedId !== null && <EvaluationOutcome evaluation={ev} />}
        {scores.isLoading && <Skeleton className="h-48 w-full" />}
        {(noScores || (s && !hasDomains && tasks.length === 0)) && !running && (
          <p className="rounded-md border border-dashed px-4 py-8 text-center text-sm text-muted-foreground" data-testid="no-scores">
            Not evaluated yet. <span className="whitespace-nowrap">Press Evaluate for a quick run</span> over the seven domains.
          </p>
        )}
        {s && hasDomains && (
          <div className="grid gap-4 md:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
            <Suspense fallback={<Skeleton className="h-[300px] w-full" />}>
              <div data-testid="domain-radar" className="min-w-0">
                <DomainRadar data={radar} modelName={modelName} baseName={baseName} />
              </div>
            </Suspense>
            <DomainScoreList domains={domains} />
          </div>
        )}
        {tasks.length > 0 && (
          <div>
            <div className="mb-1 flex items-center justify-between gap-2">
              <p className="text-sm font-medium">Tasks</p>
              {secondary > 0 && (
                <Button variant="ghost" size="sm" onClick={() => setAllMetrics((v) => !v)} aria-pressed={allMetrics} data-testid="all-metrics">
                  {allMetrics ? "Main metrics only" : `All metrics (+${secondary})`}
                </Button>
              )}
            </div>
            <TaskTable rows={tasks} allMetrics={allMetrics || !tasks.some((r) => r.primary)} />
          </div>
        )}
        {partialRows.length > 0 && (
          <div>
            <p className="mb-1 text-sm font-medium">Latest evaluation (partial, not used for the scores above)</p>
            <TaskTable rows={partialRows} />
          </div>
        )}
      </CardContent>
    </Card>
  );
}
