// One training run: live progress and loss curve (polled every second while it runs), numbers, outcome, config, log.
import { lazy, Suspense, useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, Ban, LineChart as LineChartIcon } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import {
  ConfigTable,
  EnvironmentList,
  KeyNumbers,
  OutcomePanel,
  RunLog,
  RunProgress,
  RunStatusBadge,
  SourceBadge,
  totalSteps,
} from "@/components/hub/RunPieces";
import { CurveHistoryCard } from "@/components/hub/CurveHistory";
import { EvaluationStatus } from "@/components/hub/RunQueue";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { toast } from "@/components/ui/toast";
import { api, ApiError } from "@/lib/api";
import { formatDateTime } from "@/lib/format";
import type { RunOut } from "@/lib/types";
import { isActive } from "@/lib/hub";
import { hubKeys, useRun, useTrainingOptions } from "@/lib/hubQueries";
import { TrainingContaminationNote } from "@/components/hub/Contamination";

const charts = () => import("@/components/hub/HubCharts");
const LossChart = lazy(() => charts().then((m) => ({ default: m.LossChart })));
const LrChart = lazy(() => charts().then((m) => ({ default: m.LrChart })));

export function CancelRunButton({ run }: { run: RunOut }) {
  const [open, setOpen] = useState(false);
  const qc = useQueryClient();
  const cancel = useMutation({
    mutationFn: () => api.post("/runs/{run_id}/cancel", { path: { run_id: run.id } }),
    onSuccess: (r) => {
      qc.setQueryData(hubKeys.run(run.id), r);
      qc.invalidateQueries({ queryKey: ["runs", "list"] });
      setOpen(false);
      toast("Cancelling the run", { description: "It stops after the current step and keeps what it has learned so far." });
    },
  });
  if (!isActive(run.status)) return null;
  const requested = !!run.job?.cancel_requested;
  return (
    <>
      <Button variant="outline" onClick={() => setOpen(true)} disabled={requested || cancel.isPending} data-testid="cancel-run">
        <Ban aria-hidden /> {requested ? "Cancelling…" : "Cancel run"}
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title="Cancel this run?"
        description={
          run.status === "queued"
            ? "It has not started yet: it is removed from the queue."
            : "Training stops after the current step. The adapter trained so far is saved as a partial result."
        }
        confirmLabel="Cancel run"
        onConfirm={() => cancel.mutate()}
        pending={cancel.isPending}
      />
    </>
  );
}

function CurveCard({ run }: { run: RunOut }) {
  const curve = run.loss_curve ?? [];
  const total = totalSteps(run);
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-2">
        <div className="grid gap-1">
          <CardTitle className="flex items-center gap-2 text-base">
            <LineChartIcon className="size-4" aria-hidden /> Loss curve
          </CardTitle>
          <CardDescription>Train loss at every logged step, eval loss on the held-out rows. Lower is better.</CardDescription>
        </div>
        <Badge variant="muted" data-testid="curve-points" data-count={curve.length}>
          {curve.length} {curve.length === 1 ? "point" : "points"}
        </Badge>
      </CardHeader>
      <CardContent className="grid gap-4">
        {curve.length === 0 ? (
          <div className="flex h-[260px] items-center justify-center rounded-md border border-dashed text-sm text-muted-foreground">
            {isActive(run.status) ? "The curve appears after the first step." : "No steps were recorded."}
          </div>
        ) : (
          <Suspense fallback={<Skeleton className="h-[260px] w-full" />}>
            <div data-testid="loss-chart">
              <LossChart curve={curve} totalSteps={total} />
            </div>
            {curve.some((p) => p.lr != null) && (
              <div>
                <p className="mb-1 text-sm font-medium">Learning rate</p>
                <LrChart curve={curve} totalSteps={total} />
              </div>
            )}
          </Suspense>
        )}
      </CardContent>
    </Card>
  );
}

export default function RunPage() {
  const id = Number(useParams().id);
  const run = useRun(id);
  const options = useTrainingOptions();

  if (run.isError && run.error instanceof ApiError && run.error.status === 404) {
    return (
      <EmptyState title="No such run">
        <Link to="/hub/runs" className="text-primary hover:underline">
          Back to the runs
        </Link>
      </EmptyState>
    );
  }
  if (!run.data) {
    return (
      <div className="space-y-4" aria-busy="true">
        <Skeleton className="h-8 w-64" />
        <Skeleton className="h-24 w-full" />
        <Skeleton className="h-72 w-full" />
      </div>
    );
  }
  const r = run.data;
  const active = isActive(r.status);
  return (
    <div className="grid gap-6">
      <div>
        <Link to="/hub/runs" className="mb-2 inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
          <ArrowLeft className="size-4" aria-hidden /> Runs
        </Link>
        <PageHeader
          title={r.name || `Run ${r.id}`}
          description={[
            r.base_model ? `${r.base_model.name}` : null,
            r.dataset ? `on ${r.dataset.name}` : null,
            r.mode === "expert" ? "expert settings" : r.preset ? `preset ${r.preset}` : null,
            r.status === "queued"
              ? `queued since ${formatDateTime(r.queue?.queued_since ?? r.created_at)}`
              : r.started_at
                ? `started ${formatDateTime(r.started_at)}`
                : active
                  ? "starting now"
                  : `launched ${formatDateTime(r.created_at)}, never started`,
          ]
            .filter(Boolean)
            .join(" · ")}
          actions={
            <>
              <TrainingContaminationNote value={r.contamination} />
              <SourceBadge source={r.source} />
              <RunStatusBadge status={r.status} cancelling={!!r.job?.cancel_requested} />
              <CancelRunButton run={r} />
            </>
          }
        />
        <RunProgress run={r} />
      </div>
      <OutcomePanel run={r} />
      {r.status === "succeeded" && r.output_model_id != null && (
        <EvaluationStatus evaluation={r.evaluation} modelId={r.output_model_id} />
      )}
      <KeyNumbers run={r} />
      <CurveCard run={r} />
      <CurveHistoryCard runId={r.id} status={r.status} />
      <div className="grid gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Training settings</CardTitle>
            <CardDescription>The full configuration this run used.</CardDescription>
          </CardHeader>
          <CardContent>
            <ConfigTable config={r.config ?? {}} fields={options.data?.fields} />
          </CardContent>
        </Card>
        <div className="grid min-w-0 grid-cols-[minmax(0,1fr)] content-start gap-6">
          <Card>
            <CardHeader>
              <CardTitle className="text-base">Inputs</CardTitle>
            </CardHeader>
            <CardContent className="grid gap-2 text-sm">
              <p>
                <span className="text-muted-foreground">Base model: </span>
                {r.base_model?.name ?? "—"}
              </p>
              <p>
                <span className="text-muted-foreground">Dataset: </span>
                {r.dataset ? (
                  <Link to={`/hub/datasets/${r.dataset.id}`} className="text-primary hover:underline">
                    {r.dataset.name}
                  </Link>
                ) : (
                  "—"
                )}
                {r.dataset?.rows != null && <span className="text-muted-foreground"> ({r.dataset.rows} rows)</span>}
              </p>
              {r.dataset?.content_hash && (
                <p className="truncate text-xs text-muted-foreground" title={r.dataset.content_hash}>
                  sha256 {r.dataset.content_hash.slice(0, 16)}…
                </p>
              )}
              {r.job && (
                <p className="text-xs text-muted-foreground">
                  Job {r.job.id} · attempt {r.job.attempts ?? 0}
                  {r.job.max_attempts ? ` of ${r.job.max_attempts}` : ""}
                </p>
              )}
              {r.finished_at && <p className="text-xs text-muted-foreground">Finished {formatDateTime(r.finished_at)}</p>}
            </CardContent>
          </Card>
          {!!r.artifacts?.length && (
            <Card>
              <CardHeader>
                <CardTitle className="text-base">Files written</CardTitle>
              </CardHeader>
              <CardContent>
                <ul className="grid gap-1 font-mono text-xs" data-testid="artifacts">
                  {r.artifacts.map((a) => (
                    <li key={a}>{a}</li>
                  ))}
                </ul>
              </CardContent>
            </Card>
          )}
          {r.environment && Object.keys(r.environment).length > 0 && (
            <Card>
              <CardHeader>
                <CardTitle className="text-base">Environment</CardTitle>
              </CardHeader>
              <CardContent>
                <EnvironmentList env={r.environment} />
              </CardContent>
            </Card>
          )}
        </div>
      </div>
      <RunLog runId={r.id} active={active} />
    </div>
  );
}
