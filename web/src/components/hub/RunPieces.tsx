// The pieces of a run page (also used by the runs list): badges, live progress, key numbers, outcome, config, log.
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { AlertTriangle, CheckCircle2, ChevronRight, CircleSlash, ScrollText, XCircle } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { api } from "@/lib/api";
import { formatBytes, formatCount, formatDuration, formatFloat, formatValue } from "@/lib/format";
import type { ConfigField } from "@/lib/hub";
import type { CurvePoint, RunOut } from "@/lib/types";
import { failureLabel, humanize, isActive, lastWith } from "@/lib/hub";
import { enumLabel, OUTCOME_LABEL, RUN_SOURCE_LABEL, RUN_STATUS_LABEL } from "@/lib/enums";
import { hubKeys } from "@/lib/hubQueries";
import { cn } from "@/lib/utils";
import { QueuePanel } from "./RunQueue";

type BadgeVariant = "info" | "default" | "success" | "danger" | "archived" | "warning";
const STATUS_VARIANT: Record<string, BadgeVariant> = {
  queued: "info",
  running: "default",
  succeeded: "success",
  failed: "danger",
  cancelled: "archived",
};

export function RunStatusBadge({ status, cancelling }: { status: string; cancelling?: boolean }) {
  const label = cancelling && isActive(status) ? "Cancelling…" : enumLabel(RUN_STATUS_LABEL, status);
  return (
    <Badge variant={STATUS_VARIANT[status] ?? "archived"} data-testid="run-status" data-status={status}>
      {status === "running" && <span className="size-1.5 animate-pulse rounded-full bg-current" aria-hidden />}
      {label}
    </Badge>
  );
}

/** "External" / "MLflow" for a run trained outside ModelMate (logged with the SDK or the Trainer callback, or
 * imported); nothing for a run launched here. */
export function SourceBadge({ source }: { source: string | null | undefined }) {
  if (!source || source === "modelmate") return null;
  return (
    <Badge variant="info" data-testid="run-source" data-source={source} title="Trained outside ModelMate and logged here">
      {enumLabel(RUN_SOURCE_LABEL, source)}
    </Badge>
  );
}

const OUTCOME_VARIANT: Record<string, BadgeVariant> = { success: "success", partial: "warning", failure: "danger" };

export function OutcomeBadge({ outcome }: { outcome: string | null | undefined }) {
  if (!outcome) return <span className="text-muted-foreground">—</span>;
  return (
    <Badge variant={OUTCOME_VARIANT[outcome] ?? "archived"} data-outcome={outcome}>
      {enumLabel(OUTCOME_LABEL, outcome)}
    </Badge>
  );
}

/** The latest step reached: the last curve point, else 0. */
export function currentStep(curve: CurvePoint[]): number {
  return curve.length ? Math.max(...curve.map((p) => p.step)) : 0;
}

export function totalSteps(run: RunOut): number | null {
  const est = run.estimate as { steps?: number } | null | undefined;
  return run.total_steps ?? est?.steps ?? null;
}

/** "Step 12 of 40", a progress bar and the time left, while the run is queued or running. */
export function RunProgress({ run }: { run: RunOut }) {
  const curve = run.loss_curve ?? [];
  const step = currentStep(curve);
  const total = totalSteps(run);
  const last = lastWith(curve, "seconds");
  const active = isActive(run.status);
  const fraction = total ? Math.min(1, step / total) : (run.job?.progress ?? 0);
  const perStep = last?.seconds && last.step ? last.seconds / last.step : null;
  const left = perStep && total ? perStep * Math.max(0, total - step) : null;
  const queued = run.status === "queued";
  const message = queued
    ? (run.job?.progress_message ?? "Waiting for the worker to pick it up…")
    : (run.job?.progress_message ?? (step ? null : "Loading the model and the data…"));
  return (
    <div className="grid gap-2" data-testid="run-progress">
      <div className="flex flex-wrap items-baseline justify-between gap-2 text-sm">
        <span className="font-medium tabular-nums" data-testid="run-step" data-step={step}>
          Step {step}
          {total ? ` of ${total}` : ""}
        </span>
        {active && left !== null && step > 0 && <span className="text-muted-foreground">about {formatDuration(left)} left</span>}
      </div>
      <div
        role="progressbar"
        aria-label="Training progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
        className="h-2 overflow-hidden rounded-full bg-muted"
      >
        <div
          className={cn("h-full rounded-full bg-primary transition-[width] duration-500", run.status === "failed" && "bg-destructive")}
          style={{ width: `${Math.round(fraction * 100)}%` }}
        />
      </div>
      {queued && run.queue ? (
        <QueuePanel queue={run.queue} message={run.job?.progress_message} />
      ) : (
        active && message && <p className="text-xs text-muted-foreground">{message}</p>
      )}
    </div>
  );
}

function Num({ label, value, hint, testId }: { label: string; value: React.ReactNode; hint?: string; testId?: string }) {
  return (
    <div className="rounded-md border bg-background/50 p-3" data-testid={testId}>
      <dt className="text-xs text-muted-foreground">{label}</dt>
      <dd className="mt-1 text-lg font-semibold tabular-nums tracking-tight">{value}</dd>
      {hint && <dd className="text-xs text-muted-foreground">{hint}</dd>}
    </div>
  );
}

/** Throughput, tokens, memory, time and losses: final numbers once finished, live ones from the curve before. */
export function KeyNumbers({ run }: { run: RunOut }) {
  const curve = run.loss_curve ?? [];
  const lastTokens = lastWith(curve, "tokens");
  const lastSeconds = lastWith(curve, "seconds");
  const lastLoss = lastWith(curve, "loss");
  const lastEval = lastWith(curve, "eval_loss");
  const liveTps = lastTokens?.tokens && lastSeconds?.seconds ? lastTokens.tokens / lastSeconds.seconds : null;
  const tps = run.tokens_per_second ?? liveTps;
  const tokens = run.train_tokens ?? lastTokens?.tokens ?? null;
  const seconds = run.train_seconds ?? lastSeconds?.seconds ?? null;
  const finished = !isActive(run.status);
  const est = (run.estimate ?? {}) as { seconds?: number; peak_memory_bytes?: number };
  return (
    <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 xl:grid-cols-6" data-testid="key-numbers">
      <Num label="Tokens / second" value={tps ? formatCount(tps) : "—"} testId="num-tps" />
      <Num label="Tokens trained" value={formatCount(tokens)} />
      <Num
        label="Peak memory"
        value={formatBytes(run.peak_memory_bytes)}
        hint={est.peak_memory_bytes ? `estimated ${formatBytes(est.peak_memory_bytes)}` : undefined}
      />
      <Num label="Training time" value={formatDuration(seconds)} hint={est.seconds ? `estimated ${formatDuration(est.seconds)}` : undefined} />
      <Num label={finished ? "Final train loss" : "Train loss"} value={formatFloat(run.final_loss ?? lastLoss?.loss)} testId="num-loss" />
      <Num label={finished ? "Final eval loss" : "Eval loss"} value={formatFloat(run.final_eval_loss ?? lastEval?.eval_loss)} />
    </dl>
  );
}

function errorText(run: RunOut): { type?: string; message?: string } | null {
  const e = run.error as { type?: string | null; message?: string | null } | null | undefined;
  if (!e || (!e.type && !e.message)) return null;
  return { type: e.type ?? undefined, message: e.message ?? undefined };
}

/** What came out of a finished run, in plain words, with the model it produced. */
export function OutcomePanel({ run }: { run: RunOut }) {
  if (isActive(run.status)) return null;
  const outcome = run.training_outcome ?? (run.status === "succeeded" ? "success" : run.status === "failed" ? "failure" : null);
  const fail = failureLabel(run.failure_category);
  const err = errorText(run);
  // early_stopping: the trainer's early_stop events ({step, reason}); the last one is why it stopped.
  const stops = (Array.isArray(run.early_stopping) ? run.early_stopping : run.early_stopping ? [run.early_stopping] : []) as {
    step?: number;
    reason?: string;
  }[];
  const early = stops.length ? stops[stops.length - 1] : null;
  const stoppedEarly = !!early;
  const tone =
    outcome === "success"
      ? "border-emerald-500/40 bg-emerald-500/5"
      : outcome === "partial" || run.status === "cancelled"
        ? "border-amber-500/40 bg-amber-500/5"
        : "border-destructive/40 bg-destructive/5";
  const Icon = outcome === "success" ? CheckCircle2 : outcome === "partial" ? AlertTriangle : run.status === "cancelled" ? CircleSlash : XCircle;
  const title =
    outcome === "success"
      ? "Training succeeded"
      : outcome === "partial"
        ? "Partial result"
        : run.status === "cancelled"
          ? "Cancelled before training produced anything"
          : "Training failed";
  return (
    <div role="status" className={cn("grid gap-2 rounded-lg border p-4", tone)} data-testid="run-outcome" data-outcome={outcome ?? run.status}>
      <p className="flex items-center gap-2 font-semibold">
        <Icon className="size-5 shrink-0" aria-hidden /> {title}
      </p>
      {fail && outcome !== "success" && (
        <p className="text-sm">
          <span className="font-medium" data-testid="failure-category" data-category={run.failure_category}>
            {fail.title}
          </span>
          {fail.hint && <span className="text-muted-foreground"> — {fail.hint}</span>}
        </p>
      )}
      {run.failure_message && <p className="whitespace-pre-wrap text-sm" data-testid="failure-message">{run.failure_message}</p>}
      {outcome === "success" && stoppedEarly && (
        <p className="text-sm text-muted-foreground">
          Stopped early{early?.step ? ` at step ${early.step}` : ""}: {early?.reason ?? "the eval loss stopped improving"}.
        </p>
      )}
      {err && outcome !== "success" && (
        <details className="text-sm">
          <summary className="cursor-pointer text-muted-foreground">Technical detail</summary>
          <pre className="mt-2 overflow-x-auto whitespace-pre-wrap rounded-md bg-muted p-2 font-mono text-xs">
            {[err.type, err.message].filter(Boolean).join(": ")}
          </pre>
        </details>
      )}
      {run.output_model_id != null && (
        <Link
          to={`/hub/models/${run.output_model_id}`}
          className="inline-flex items-center gap-1 text-sm font-medium text-primary hover:underline"
          data-testid="output-model-link"
        >
          Open the fine-tuned model <ChevronRight className="size-4" aria-hidden />
        </Link>
      )}
    </div>
  );
}

/** The resolved training config: each setting with its value and help text; changed-from-default ones marked. */
export function ConfigTable({ config, fields }: { config: Record<string, unknown>; fields?: ConfigField[] }) {
  const byName = new Map((fields ?? []).map((f) => [f.name, f]));
  const order = fields?.length ? fields.map((f) => f.name).filter((n) => n in config) : [];
  const rest = Object.keys(config).filter((k) => !byName.has(k)).sort();
  const keys = [...order, ...rest];
  return (
    <Table data-testid="config-table">
      <TableHeader>
        <TableRow>
          <TableHead>Setting</TableHead>
          <TableHead>Value</TableHead>
          <TableHead className="hidden md:table-cell">What it does</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {keys.map((k) => {
          const f = byName.get(k);
          const changed = f && JSON.stringify(f.default ?? null) !== JSON.stringify(config[k] ?? null);
          return (
            <TableRow key={k}>
              <TableCell className="whitespace-nowrap">
                <code className="text-xs">{k}</code>
                {changed && (
                  <Badge variant="muted" className="ml-2">
                    changed
                  </Badge>
                )}
              </TableCell>
              <TableCell className="font-medium tabular-nums">{config[k] === null ? "automatic" : formatValue(config[k])}</TableCell>
              <TableCell className="hidden text-xs text-muted-foreground md:table-cell">{f?.help ?? humanize(k)}</TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}

/** The child process's log: collapsible; fetched when opened, refreshed every 2 s while the run is live. */
export function RunLog({ runId, active }: { runId: number; active: boolean }) {
  const [open, setOpen] = useState(false);
  const pre = useRef<HTMLPreElement>(null);
  const log = useQuery({
    queryKey: hubKeys.log(runId),
    queryFn: () => api.get("/runs/{run_id}/log", { path: { run_id: runId } }),
    enabled: open,
    staleTime: 0,
    refetchInterval: open && active ? 2000 : false,
    meta: { silent: true },
  });
  const text = log.data?.text ?? "";
  useEffect(() => {
    const el = pre.current;
    if (el && active) el.scrollTop = el.scrollHeight;
  }, [text, active]);
  return (
    <details className="group rounded-lg border bg-card" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)} data-testid="run-log">
      <summary className="flex cursor-pointer list-none items-center gap-2 p-4 font-semibold">
        <ChevronRight className="size-4 transition-transform group-open:rotate-90" aria-hidden />
        <ScrollText className="size-4" aria-hidden /> Log
        {active && <span className="text-xs font-normal text-muted-foreground">(live)</span>}
      </summary>
      <div className="px-4 pb-4">
        {log.isLoading && <p className="text-sm text-muted-foreground">Loading…</p>}
        {log.isError && <p className="text-sm text-destructive">The log could not be loaded.</p>}
        {log.data && (
          <pre ref={pre} className="max-h-96 overflow-auto whitespace-pre-wrap break-words rounded-md bg-muted p-3 font-mono text-xs leading-relaxed">
            {text || "The log is empty so far."}
          </pre>
        )}
      </div>
    </details>
  );
}

/** Python, torch, device... as recorded by the trainer. */
export function EnvironmentList({ env }: { env: Record<string, unknown> }) {
  // Nested groups (e.g. library versions) are shown one entry per line: "torch 2.13.0".
  const rows: [string, unknown][] = [];
  for (const k of Object.keys(env).sort()) {
    const v = env[k];
    if (v && typeof v === "object" && !Array.isArray(v)) for (const [sub, sv] of Object.entries(v)) rows.push([sub, sv]);
    else rows.push([humanize(k), v]);
  }
  if (!rows.length) return null;
  return (
    <dl className="grid gap-x-6 gap-y-1 text-sm" data-testid="environment">
      {rows.map(([k, v]) => {
        const text = /bytes$/i.test(k) && typeof v === "number" ? formatBytes(v) : formatValue(v);
        return (
          <div key={k} className="flex min-w-0 justify-between gap-3 border-b border-dashed py-1">
            <dt className="shrink-0 text-muted-foreground">{k}</dt>
            <dd className="min-w-0 truncate text-right font-medium" title={text}>
              {text}
            </dd>
          </div>
        );
      })}
    </dl>
  );
}
