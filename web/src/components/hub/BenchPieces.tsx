// Benchmark pieces: per-task results table, domain score list, live evaluation progress, leaderboard table.
import { Link } from "react-router";
import { AlertTriangle, ThumbsDown, ThumbsUp } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import type { BenchRow, BoardRow, DomainScore, EvaluationOut } from "@/lib/bench";
import {
  deltaTone,
  domainLabel,
  DOMAINS,
  evaluationProgress,
  formatDelta,
  formatScore,
  formatStderr,
  ROW_STATUS_LABEL,
  metricLabel,
} from "@/lib/bench";
import { EVAL_BACKEND_LABEL, enumLabel } from "@/lib/enums";
import { formatCount, formatDate, formatParams } from "@/lib/format";
import { cn } from "@/lib/utils";

const ROW_STATUS_VARIANT: Record<string, "success" | "warning" | "danger" | "muted" | "info"> = {
  final: "success",
  partial: "warning",
  failed: "danger",
  skipped: "muted",
  running: "info",
};

export function RowStatusBadge({ status }: { status: string }) {
  return (
    <Badge variant={ROW_STATUS_VARIANT[status] ?? "muted"} data-testid="row-status" data-status={status}>
      {status !== "final" && <AlertTriangle className="size-3" aria-hidden />}
      {ROW_STATUS_LABEL[status] ?? status}
    </Badge>
  );
}

/** A signed delta, green when up, red when down. */
export function Delta({ value, className }: { value: number | null | undefined; className?: string }) {
  const tone = deltaTone(value);
  return (
    <span
      data-testid="delta"
      data-tone={tone}
      className={cn(
        "tabular-nums",
        tone === "up" && "text-emerald-700 dark:text-emerald-400",
        tone === "down" && "text-red-700 dark:text-red-400",
        tone === "flat" && "text-muted-foreground",
        className,
      )}
    >
      {formatDelta(value)}
    </span>
  );
}

/**
 * The per-task results: value ± stderr, n, n-shot, sample limit and status. Anything not final (partial, failed,
 * skipped) is marked on the row and its value shown muted: it never reads as a final score.
 */
export function TaskTable({ rows, allMetrics = true }: { rows: BenchRow[]; allMetrics?: boolean }) {
  const shown = allMetrics ? rows : rows.filter((r) => r.primary || r.status !== "final");
  const sorted = [...shown].sort(
    (a, b) =>
      DOMAINS.indexOf(a.domain as never) - DOMAINS.indexOf(b.domain as never) ||
      a.task.localeCompare(b.task) ||
      Number(b.primary) - Number(a.primary) ||
      a.metric.localeCompare(b.metric),
  );
  return (
    <Table data-testid="task-table">
      <TableHeader>
        <TableRow>
          <TableHead>Task</TableHead>
          <TableHead className="hidden sm:table-cell">Domain</TableHead>
          <TableHead className="text-right">Value</TableHead>
          <TableHead className="hidden text-right md:table-cell">n</TableHead>
          <TableHead className="hidden text-right md:table-cell">Shots</TableHead>
          <TableHead className="hidden text-right lg:table-cell">Sample limit</TableHead>
          <TableHead className="hidden lg:table-cell" title={ENGINE}>
            Engine
          </TableHead>
          <TableHead>Status</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {sorted.map((r) => {
          const final = r.status === "final";
          return (
            <TableRow
              key={`${r.task}|${r.metric}`}
              data-testid="task-row"
              data-status={r.status}
              className={cn(!final && "bg-amber-50/60 dark:bg-amber-950/20", r.status === "failed" && "bg-red-50/60 dark:bg-red-950/20")}
            >
              <TableCell className="max-w-56">
                <span className="block truncate font-medium" title={r.task}>
                  {r.task}
                </span>
                <span className="text-xs text-muted-foreground" title={r.metric}>
                  {metricLabel(r.metric)}
                  <span className="sm:hidden"> · {domainLabel(r.domain)}</span>
                </span>
                {r.error && (
                  <span className="block truncate text-xs text-red-700 dark:text-red-400" title={r.error}>
                    {r.error}
                  </span>
                )}
              </TableCell>
              <TableCell className="hidden sm:table-cell">{domainLabel(r.domain)}</TableCell>
              <TableCell className={cn("whitespace-nowrap text-right tabular-nums", !final && "text-muted-foreground italic")} data-testid="task-value">
                {r.value == null ? "—" : formatScore(r.value)}
                {r.value != null && r.stderr != null && <span className="ml-1 text-xs text-muted-foreground">{formatStderr(r.stderr)}</span>}
                {!final && r.value != null && <span className="sr-only"> (not final)</span>}
              </TableCell>
              <TableCell className="hidden text-right tabular-nums md:table-cell">{formatCount(r.n_samples)}</TableCell>
              <TableCell className="hidden text-right tabular-nums md:table-cell">{r.n_shot ?? "—"}</TableCell>
              <TableCell className="hidden text-right tabular-nums lg:table-cell">{r.sample_limit ?? "all"}</TableCell>
              <TableCell className="hidden lg:table-cell" data-testid="task-engine">
                {r.backend ? enumLabel(EVAL_BACKEND_LABEL, r.backend) : "—"}
              </TableCell>
              <TableCell>
                <RowStatusBadge status={r.status} />
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}

/** Domain scores as a list (the radar's numbers, readable without the chart), with the delta vs the base. */
export function DomainScoreList({ domains }: { domains: DomainScore[] }) {
  const order = (d: string) => (d === "overall" ? -1 : DOMAINS.indexOf(d as never) < 0 ? DOMAINS.length : DOMAINS.indexOf(d as never));
  const sorted = [...domains].sort((a, b) => order(a.domain) - order(b.domain));
  return (
    <dl className="grid gap-0 text-sm" data-testid="domain-scores">
      {sorted.map((s) => {
        const d = s.domain;
        return (
          <div key={d} className="flex items-baseline justify-between gap-3 border-b border-dashed py-1.5 last:border-0" data-testid="domain-score" data-domain={d}>
            <dt className={cn("text-muted-foreground", d === "overall" && "font-medium text-foreground")}>{domainLabel(d)}</dt>
            <dd className="flex items-baseline gap-2 tabular-nums">
              <span className="font-medium">{formatScore(s.score)}</span>
              {s.stderr != null && <span className="text-xs text-muted-foreground">{formatStderr(s.stderr)}</span>}
              {s.base_score != null && (
                <span className="text-xs text-muted-foreground" title="Base model's score">
                  base {formatScore(s.base_score)}
                </span>
              )}
              {s.delta_vs_base != null && <Delta value={s.delta_vs_base} className="w-12 text-right text-xs" />}
            </dd>
          </div>
        );
      })}
    </dl>
  );
}

/** A running evaluation: a progress bar (indeterminate until the job reports progress) and its status. */
export function EvaluationProgress({ evaluation }: { evaluation: EvaluationOut }) {
  const p = evaluationProgress(evaluation);
  const pct = p === null ? null : Math.round(p * 100);
  return (
    <div className="grid gap-1.5 rounded-md border bg-muted/30 p-3" data-testid="evaluation-progress" data-status={evaluation.status}>
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
        <span className="font-medium">
          Evaluating ({evaluation.mode === "full" ? "full" : "quick"} mode)…
        </span>
        <span className="tabular-nums text-muted-foreground">{pct === null ? "starting" : `${pct}%`}</span>
      </div>
      <div
        className="h-2 overflow-hidden rounded-full bg-muted"
        role="progressbar"
        aria-label="Evaluation progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct ?? undefined}
      >
        <div className={cn("h-full rounded-full bg-primary transition-all", pct === null && "w-1/4 animate-pulse")} style={pct === null ? undefined : { width: `${pct}%` }} />
      </div>
      {evaluation.progress_message && <p className="text-xs text-muted-foreground">{evaluation.progress_message}</p>}
    </div>
  );
}

/** Why scores of both engines sit on one board (docs/benchmarking.md, "Engines"). */
export const ENGINE =
  "The engine that scored it: HF (transformers) or vLLM. Both score the same documents with the same prompts, so their scores are ranked together; they can differ within numerical noise.";

export const NOT_COMPARABLE =
  "Measured with different settings (task versions, shots, sample limit or harness version) from the rest of this board: shown, but not ranked.";

/** What "≈" in the rank column means. */
export const TIED = "Tied with the row above: their 95% confidence intervals (score ± 1.96 × standard error) overlap, so the data cannot tell them apart.";
export const SMALL_SAMPLE = "Measured on few documents (under 100 per domain, e.g. a quick evaluation): the score is noisy, differences of several points can be chance.";

/**
 * One leaderboard: rank, model, base, size, score ± stderr, delta vs base, date, thumbs. Rows measured with other
 * settings than the board's are not comparable: greyed, unranked, and say why.
 */
export function LeaderboardTable({ rows }: { rows: BoardRow[] }) {
  return (
    <Table data-testid="leaderboard">
      <TableHeader>
        <TableRow>
          <TableHead className="w-12 text-right">#</TableHead>
          <TableHead>Model</TableHead>
          <TableHead className="hidden md:table-cell">Base</TableHead>
          <TableHead className="hidden text-right sm:table-cell">Size</TableHead>
          <TableHead className="text-right">Score</TableHead>
          <TableHead className="text-right">vs base</TableHead>
          <TableHead className="hidden lg:table-cell">Measured</TableHead>
          <TableHead className="hidden text-right lg:table-cell">Votes</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {rows.map((r) => (
          <TableRow
            key={r.model.id}
            data-testid="board-row"
            data-comparable={r.comparable ? "true" : "false"}
            className={cn(!r.comparable && "text-muted-foreground opacity-70")}
          >
            <TableCell className="whitespace-nowrap text-right tabular-nums" data-testid="board-rank" data-tied={r.tied ? "true" : "false"}>
              {r.comparable && r.rank != null ? (
                r.tied ? (
                  <span title={TIED} aria-label={`Rank ${r.rank}, tied with the row above`}>
                    <span className="text-muted-foreground" aria-hidden>
                      ≈
                    </span>
                    {r.rank}
                  </span>
                ) : (
                  r.rank
                )
              ) : (
                "—"
              )}
            </TableCell>
            <TableCell className="max-w-64">
              <Link to={`/hub/models/${r.model.id}`} className="block truncate font-medium hover:underline">
                {r.model.name}
              </Link>
              {r.contaminated && (
                <span className="flex items-center gap-1 text-xs text-red-700 dark:text-red-400" data-testid="contaminated-row" title={r.contamination ?? undefined}>
                  <AlertTriangle className="size-3 shrink-0" aria-hidden />
                  contaminated
                </span>
              )}
              {r.small_sample && (
                <span className="flex items-center gap-1 text-xs text-amber-700 dark:text-amber-400" data-testid="small-sample" title={SMALL_SAMPLE}>
                  <AlertTriangle className="size-3 shrink-0" aria-hidden />
                  Small sample{r.n_documents != null ? `: ${r.n_documents} ${r.n_documents === 1 ? "document" : "documents"}` : r.mode === "quick" ? " (quick mode)" : ""}
                </span>
              )}
              {!r.comparable && (
                <span className="flex items-center gap-1 text-xs" data-testid="not-comparable" title={NOT_COMPARABLE}>
                  <AlertTriangle className="size-3 shrink-0" aria-hidden /> Not comparable: other settings
                </span>
              )}
              <span className="block text-xs text-muted-foreground">
                {r.method}
                {(r.backends ?? []).length > 0 && (
                  <span title={ENGINE} data-testid="board-engine">
                    {" · "}
                    {(r.backends ?? []).map((b) => enumLabel(EVAL_BACKEND_LABEL, b)).join(" + ")}
                  </span>
                )}
                <span className="md:hidden">{r.base ? ` · on ${r.base.name}` : ""}</span>
              </span>
            </TableCell>
            <TableCell className="hidden max-w-48 truncate md:table-cell">
              {r.base ? (
                <Link to={`/hub/models/${r.base.id}`} className="hover:underline">
                  {r.base.name}
                </Link>
              ) : (
                "—"
              )}
            </TableCell>
            <TableCell className="hidden text-right tabular-nums sm:table-cell">{formatParams(r.parameters)}</TableCell>
            <TableCell className="whitespace-nowrap text-right tabular-nums" data-testid="board-score">
              <span className="font-medium">{formatScore(r.score)}</span>
              {r.stderr != null && <span className="ml-1 text-xs text-muted-foreground">{formatStderr(r.stderr)}</span>}
            </TableCell>
            <TableCell className="text-right">
              {r.delta_vs_base == null ? <span className="text-muted-foreground">—</span> : <Delta value={r.delta_vs_base} />}
            </TableCell>
            <TableCell className="hidden whitespace-nowrap lg:table-cell">{formatDate(r.measured_at)}</TableCell>
            <TableCell className="hidden whitespace-nowrap text-right tabular-nums lg:table-cell">
              <span className="inline-flex items-center gap-1" aria-label={`${r.thumbs_up} thumbs up`}>
                <ThumbsUp className="size-3.5" aria-hidden /> {r.thumbs_up}
              </span>
              <span className="ml-2 inline-flex items-center gap-1" aria-label={`${r.thumbs_down} thumbs down`}>
                <ThumbsDown className="size-3.5" aria-hidden /> {r.thumbs_down}
              </span>
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
