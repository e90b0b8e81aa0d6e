// What a run waits for and what follows it: its place in the queue while queued (what runs now, the estimated wait,
// another user's job never named), and the trained model's automatic evaluation as it really stands.
import { Link } from "react-router";
import { CheckCircle2, Clock, Gauge, Hourglass, PauseCircle, XCircle } from "lucide-react";
import { formatDateTime, formatDuration } from "@/lib/format";
import type { QueueInfo, QueueNeighbour, RunEvaluation } from "@/lib/types";

const KIND_LABEL: Record<string, string> = {
  train: "training",
  evaluate: "evaluation",
  enrich: "autofill",
  embed: "search indexing",
  import_model: "model import",
};

function kindLabel(kind: string): string {
  return KIND_LABEL[kind] ?? kind;
}

function Neighbour({ job }: { job: QueueNeighbour }) {
  const pct = job.progress != null ? Math.round(job.progress * 100) : null;
  return (
    <li className="min-w-0 break-words" data-testid="queue-job" data-mine={job.mine ? "true" : "false"}>
      <span className={job.mine ? "font-medium text-foreground" : "italic"}>{job.label}</span>
      <span className="text-muted-foreground">
        {" "}
        ({kindLabel(job.kind)}
        {job.background ? ", background" : ""}
        {pct != null ? `, ${pct}%` : ""})
        {job.remaining_s != null ? ` · about ${formatDuration(job.remaining_s)} ${job.progress != null ? "left" : "to run"}` : ""}
      </span>
      {job.progress_message && <span className="block text-xs text-muted-foreground">{job.progress_message}</span>}
    </li>
  );
}

/** Position, what runs now, what is ahead and the estimated wait of a queued run. */
export function QueuePanel({ queue, message }: { queue: QueueInfo; message?: string | null }) {
  const running = queue.running ?? [];
  const nextUp = queue.next_up ?? [];
  const wait =
    queue.wait_s == null
      ? "The wait is unknown: the work ahead has no estimate yet."
      : queue.wait_s < 1 && queue.ahead === 0 && running.length === 0
        ? "It starts as soon as a worker is free."
        : `Expected to start in ${queue.wait_is_minimum ? "at least" : "about"} ${formatDuration(queue.wait_s)}.`;
  return (
    <div className="grid gap-2 rounded-md border bg-muted/30 p-3 text-sm" data-testid="queue-panel" data-position={queue.position}>
      <p className="flex flex-wrap items-center gap-x-2 gap-y-1">
        <Hourglass className="size-4 shrink-0 text-muted-foreground" aria-hidden />
        <span className="font-medium" data-testid="queue-position">
          {queue.position === 1 ? "Next in the queue" : `Position ${queue.position} in the queue`}
        </span>
        <span className="text-muted-foreground">
          · {queue.ahead === 0 ? "nothing queued ahead" : `${queue.ahead} ${queue.ahead === 1 ? "job" : "jobs"} ahead`}
          {queue.priority < 0 ? " · background work: your own jobs go first" : ""}
        </span>
      </p>
      {queue.paused && message && (
        <p className="flex items-start gap-2 text-muted-foreground" data-testid="queue-paused">
          <PauseCircle className="mt-0.5 size-4 shrink-0" aria-hidden /> {message}
        </p>
      )}
      <div className="grid gap-1">
        <p className="text-xs font-medium uppercase tracking-wide text-muted-foreground">Running now</p>
        {running.length ? (
          <ul className="grid gap-1" data-testid="queue-running">
            {running.map((j, i) => (
              <Neighbour key={i} job={j} />
            ))}
          </ul>
        ) : (
          <p className="text-muted-foreground" data-testid="queue-running">
            Nothing: a worker picks this up within seconds. If it stays here, check that the server's worker is on.
          </p>
        )}
      </div>
      {nextUp.length > 0 && (
        <div className="grid gap-1">
          <p className="text-xs font-medium uppercase tracking-wide text-muted-foreground">Ahead of it</p>
          <ul className="grid gap-1" data-testid="queue-ahead">
            {nextUp.map((j, i) => (
              <Neighbour key={i} job={j} />
            ))}
            {queue.ahead > nextUp.length && <li className="text-muted-foreground">and {queue.ahead - nextUp.length} more</li>}
          </ul>
        </div>
      )}
      <p className="flex flex-wrap items-center gap-x-2 text-muted-foreground">
        <Clock className="size-4 shrink-0" aria-hidden />
        <span data-testid="queue-wait">{wait}</span>
        <span data-testid="queued-since">Queued since {formatDateTime(queue.queued_since)}.</span>
      </p>
    </div>
  );
}

/** The trained model's automatic evaluation, from its real state; links to the scores. */
export function EvaluationStatus({ evaluation: e, modelId }: { evaluation: RunEvaluation | null | undefined; modelId: number }) {
  if (!e) return null;
  const href = `/hub/models/${modelId}`;
  const pct = e.progress != null ? Math.round(e.progress * 100) : 0;
  const n = e.domains?.length ?? 0;
  const where = e.all_domains || n === 0 ? "all domains" : n === 1 ? `the ${e.domains![0]} domain` : `${n} domains`;
  const common = "flex flex-wrap items-start gap-x-2 gap-y-1 rounded-md border p-3 text-sm";
  const scores = (
    <Link to={href} className="text-primary hover:underline" data-testid="evaluation-scores-link">
      See the scores
    </Link>
  );
  if (e.state === "done" || e.state === "partial") {
    return (
      <div className={common} data-testid="evaluation-status" data-state={e.state}>
        <CheckCircle2 className="mt-0.5 size-4 shrink-0 text-emerald-600" aria-hidden />
        <span className="min-w-0 flex-1">
          {e.state === "done"
            ? `Evaluated on ${where} (${e.tasks} benchmark ${e.tasks === 1 ? "task" : "tasks"}).`
            : "Evaluated, but some benchmark tasks failed: the scores that were measured are kept."}{" "}
          {scores}
        </span>
      </div>
    );
  }
  if (e.state === "failed") {
    return (
      <div className={`${common} border-destructive/40`} data-testid="evaluation-status" data-state={e.state}>
        <XCircle className="mt-0.5 size-4 shrink-0 text-destructive" aria-hidden />
        <span className="min-w-0 flex-1 break-words">
          The evaluation failed{e.error ? `: ${e.error}` : "."} You can run it again from the model's page.{" "}
          <Link to={href} className="text-primary hover:underline">
            Open the model
          </Link>
        </span>
      </div>
    );
  }
  const title =
    e.state === "queued"
      ? `Evaluation on ${where} queued: it starts when a worker is free.`
      : e.state === "paused"
        ? "Evaluation paused for higher-priority work; it resumes where it stopped."
        : `Evaluating on ${where}… ${pct}%`;
  return (
    <div className={`${common} grid`} data-testid="evaluation-status" data-state={e.state}>
      <p className="flex flex-wrap items-start gap-2">
        {e.state === "paused" ? (
          <PauseCircle className="mt-0.5 size-4 shrink-0 text-muted-foreground" aria-hidden />
        ) : (
          <Gauge className="mt-0.5 size-4 shrink-0 text-muted-foreground" aria-hidden />
        )}
        <span className="min-w-0 flex-1">{title}</span>
      </p>
      {e.state !== "queued" && (
        <div
          role="progressbar"
          aria-label="Evaluation progress"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
          className="h-1.5 overflow-hidden rounded-full bg-muted"
        >
          <div className="h-full rounded-full bg-primary transition-[width] duration-500" style={{ width: `${pct}%` }} />
        </div>
      )}
      {e.progress_message && <p className="break-words text-xs text-muted-foreground">{e.progress_message}</p>}
    </div>
  );
}
