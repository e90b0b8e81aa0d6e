// Capability changes: after every evaluation each model is compared with its parent (or base), per task and domain;
// the statistically significant changes (after multiple-comparison correction, above a minimum effect) form this
// feed. Below it: patterns across models (mean cross-domain change by the fine-tuning data's domain).
import { lazy, Suspense } from "react";
import { Link, useSearchParams } from "react-router";
import { ArrowDownRight, ArrowUpRight, Minus, Sparkles } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Pager } from "@/components/ui/pager";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { NativeSelect } from "@/components/ui/select";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { errorMessage } from "@/lib/api";
import { DomainSelect } from "@/components/EnumSelect";
import { DELTA_UNIT, DELTA_UNIT_LONG, domainColor, domainLabel, formatDelta, formatScore, metricLabel } from "@/lib/bench";
import { formatDateTime } from "@/lib/format";
import type { BaseAggregate, CapabilityChange, DomainAggregate, ResearchModelRef } from "@/lib/research";
import { aggregateChart, changeFilters, changeP, modelHref, noChangeText, testLabel } from "@/lib/research";
import { useCapabilityAggregates, useCapabilityChanges } from "@/lib/researchQueries";
import { cn } from "@/lib/utils";

const AggregatesChart = lazy(() => import("@/components/hub/ResearchCharts").then((m) => ({ default: m.AggregatesChart })));

const PAGE = 25;

function ModelLink({ model, testId }: { model: ResearchModelRef; testId?: string }) {
  const href = modelHref(model);
  const label = model.owner && model.kind === "finetuned" ? `${model.owner}/${model.name}` : model.name;
  if (!href) return <span>{label}</span>;
  return (
    <Link to={href} className="font-medium text-primary hover:underline" data-testid={testId}>
      {label}
    </Link>
  );
}

/**
 * The headline of a change in one unit (percentage points) with human labels: "Translation · ntrex chrF: +2.5 pp vs
 * its parent (41.0 → 43.5)". The server's own sentence mixes relative % and points, so it is not shown as is.
 */
export function changeHeadline(c: CapabilityChange): string {
  const subject = c.task ? `${domainLabel(c.domain)} · ${c.task}${c.metric ? ` ${metricLabel(c.metric)}` : ""}` : `${domainLabel(c.domain)} (domain mean)`;
  const none = noChangeText(c); // an unflagged change is not a change: no number, no colour
  if (none) return `${subject}: ${none}`;
  const from = typeof c.reference_value === "number" && typeof c.value === "number" ? ` (${formatScore(c.reference_value)} → ${formatScore(c.value)})` : "";
  const how = testLabel(c);
  return `${subject}: ${formatDelta(c.delta)} ${DELTA_UNIT} vs its ${c.reference_kind}${from}${how ? ` — ${how}` : ""}`;
}

export function ChangeItem({ change: c }: { change: CapabilityChange }) {
  // Colour only what is flagged: an unflagged "up" is noise, not a gain.
  // A gain on a domain the model's training data overlaps is not news: labelled, never coloured as a gain.
  const up = c.flagged && c.direction === "up" && !c.contaminated;
  const down = c.flagged && c.direction === "down";
  const Icon = c.direction === "up" ? ArrowUpRight : c.direction === "down" ? ArrowDownRight : Minus;
  return (
    <li
      className={cn(
        "grid gap-1.5 rounded-lg border p-3 sm:grid-cols-[auto_minmax(0,1fr)_auto] sm:items-start sm:gap-3",
        up && "border-emerald-500/40 bg-emerald-500/5",
        down && "border-red-500/40 bg-red-500/5",
      )}
      data-testid="change-item"
      data-direction={c.direction ?? ""}
      data-flagged={c.flagged ? "true" : "false"}
    >
      <Icon
        className={cn("size-5", up ? "text-emerald-600 dark:text-emerald-400" : down ? "text-red-600 dark:text-red-400" : "text-muted-foreground")}
        aria-label={c.direction === "up" ? "Up" : c.direction === "down" ? "Down" : "No change"}
      />
      <div className="min-w-0">
        <p className="font-medium" data-testid="change-sentence">
          {changeHeadline(c)}
        </p>
        <p className="text-sm text-muted-foreground">
          <ModelLink model={c.model} testId="change-model-link" /> vs {c.reference_kind === "parent" ? "its parent" : "its base"}{" "}
          <ModelLink model={c.reference} testId="change-reference-link" />
        </p>
        <p className="mt-1 flex flex-wrap gap-1.5 text-xs text-muted-foreground">
          <Badge variant="outline" data-testid="change-domain" data-domain={c.domain}>
            <span className="size-2 rounded-full" style={{ background: domainColor(c.domain) }} aria-hidden />
            {domainLabel(c.domain)}
          </Badge>
          {c.task ? (
            <Badge variant="muted" data-testid="change-metric" title={c.metric ?? undefined}>
              {c.task}
              {c.metric ? ` · ${metricLabel(c.metric)}` : ""}
            </Badge>
          ) : (
            <Badge variant="muted">domain average</Badge>
          )}
          {!c.flagged && <Badge variant="archived">not significant</Badge>}
          {c.contaminated && (
            <Badge variant="danger" data-testid="change-contaminated">
              {c.contamination}
            </Badge>
          )}
        </p>
      </div>
      <div className="text-sm tabular-nums sm:text-right">
        <p className={cn("font-semibold", up && "text-emerald-700 dark:text-emerald-400", down && "text-red-700 dark:text-red-400")}><span data-testid="change-delta">{formatDelta(c.delta)}</span> <abbr title={DELTA_UNIT_LONG}>{DELTA_UNIT}</abbr>
        </p>
        <p className="text-xs text-muted-foreground">{[changeP(c), c.flagged ? "" : testLabel(c), typeof c.z_score === "number" && Number.isFinite(c.z_score) ? `z = ${c.z_score.toFixed(1)}` : ""].filter(Boolean).join(" · ")}</p>
        <p className="text-xs text-muted-foreground">{formatDateTime(c.created_at)}</p>
      </div>
    </li>
  );
}

function AggregateTable({ rows, keyLabel, testId }: { rows: { key: string; row: DomainAggregate | BaseAggregate }[]; keyLabel: string; testId: string }) {
  return (
    <Table>
      <TableHeader>
        <TableRow>
          <TableHead>{keyLabel}</TableHead>
          <TableHead>Target domain</TableHead>
          <TableHead className="text-right">Mean change ({DELTA_UNIT})</TableHead>
          <TableHead className="text-right">Models</TableHead>
          <TableHead className="text-right">Up</TableHead>
          <TableHead className="text-right">Down</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {rows.map(({ key, row: r }, i) => (
          <TableRow key={`${key}-${r.target_domain}-${i}`} data-testid={testId}>
            <TableCell>{key}</TableCell>
            <TableCell>{domainLabel(r.target_domain)}</TableCell>
            <TableCell className="text-right tabular-nums">{formatDelta(r.mean_delta)}</TableCell>
            <TableCell className="text-right tabular-nums">{r.n_models}</TableCell>
            <TableCell className="text-right tabular-nums text-emerald-700 dark:text-emerald-400">{r.n_up}</TableCell>
            <TableCell className="text-right tabular-nums text-red-700 dark:text-red-400">{r.n_down}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

function Aggregates() {
  const agg = useCapabilityAggregates();
  const byTraining = agg.data?.by_training_domain ?? [];
  const byBase = agg.data?.by_base ?? [];
  const chart = aggregateChart(byTraining);
  return (
    <Card data-testid="aggregates">
      <CardHeader>
        <CardTitle className="text-base">Patterns across models</CardTitle>
        <CardDescription>
          Mean change of each benchmark domain in {DELTA_UNIT_LONG} ({DELTA_UNIT}), by the domain of the data the models were fine-tuned on
          (cross-domain effects only in the chart; the tables have everything).
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        {agg.isLoading && <Skeleton className="h-64 w-full" />}
        {agg.isError && (
          <p role="alert" className="text-sm text-destructive">
            {errorMessage(agg.error)}
          </p>
        )}
        {agg.isSuccess && byTraining.length === 0 && byBase.length === 0 && (
          <p className="text-sm text-muted-foreground" data-testid="aggregates-empty">
            No comparisons yet: evaluate a fine-tuned model and its base to see patterns here.
          </p>
        )}
        {chart.data.length > 0 && (
          <div data-testid="aggregates-chart" data-groups={chart.data.length}>
            <Suspense fallback={<Skeleton className="h-[280px] w-full" />}>
              <AggregatesChart data={chart.data} targets={chart.targets} />
            </Suspense>
          </div>
        )}
        {agg.isSuccess && byTraining.length > 0 && chart.data.length === 0 && (
          <p className="text-sm text-muted-foreground">No cross-domain comparisons yet (only each fine-tune's own domain was measured).</p>
        )}
        {byTraining.length > 0 && (
          <details open className="rounded-md border" data-testid="aggregates-by-training">
            <summary className="cursor-pointer px-3 py-2 text-sm font-medium">By training domain ({byTraining.length} rows)</summary>
            <AggregateTable rows={byTraining.map((row) => ({ key: domainLabel(row.training_domain), row }))} keyLabel="Training domain" testId="aggregate-row-training_domain" />
          </details>
        )}
        {byBase.length > 0 && (
          <details className="rounded-md border" data-testid="aggregates-by-base">
            <summary className="cursor-pointer px-3 py-2 text-sm font-medium">By base model ({byBase.length} rows)</summary>
            <AggregateTable rows={byBase.map((row) => ({ key: row.base.name, row }))} keyLabel="Base model" testId="aggregate-row-base" />
          </details>
        )}
      </CardContent>
    </Card>
  );
}

export default function Changes() {
  const [params, setParams] = useSearchParams();
  const filters = changeFilters(params);
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const changes = useCapabilityChanges(filters, { limit: PAGE, offset });
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    if (k !== "offset") next.delete("offset");
    setParams(next, { replace: true });
  };
  const items = changes.data?.items ?? [];
  const total = changes.data?.total ?? 0;
  const narrowed = !!(filters.direction || filters.domain);

  return (
    <div>
      <PageHeader
        title="Capability changes"
        description="Where fine-tunes gained or lost ability compared with their parent or base: only changes that are significant after correcting for many comparisons, and big enough to matter."
      />
      <p className="-mt-4 mb-4 text-xs text-muted-foreground" data-testid="delta-unit-note">
        Every change is in {DELTA_UNIT_LONG} ({DELTA_UNIT}): the difference between the two scores on a 0–100 scale, so 41.0 → 43.5 is +2.5 {DELTA_UNIT}.
      </p>
      <section aria-labelledby="feed-title" className="mb-6 grid gap-3">
        <h2 id="feed-title" className="sr-only">
          Feed
        </h2>
        <div className="flex flex-wrap items-center gap-2" role="group" aria-label="Filters">
          <NativeSelect aria-label="Direction" value={filters.direction ?? ""} onChange={(e) => set("direction", e.target.value)}>
            <option value="">Up and down</option>
            <option value="up">Gains only</option>
            <option value="down">Losses only</option>
          </NativeSelect>
          <DomainSelect aria-label="Domain" empty="Every domain" value={filters.domain ?? ""} onValueChange={(v) => set("domain", v)} />
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={!filters.flagged} onChange={(e) => set("all", e.target.checked ? "1" : "")} className="size-4 accent-primary" data-testid="show-all" />
            Include changes that are not significant
          </label>
          {narrowed && (
            <Button
              variant="ghost"
              size="sm"
              onClick={() => {
                const next = new URLSearchParams();
                if (!filters.flagged) next.set("all", "1");
                setParams(next, { replace: true });
              }}
            >
              Clear filters
            </Button>
          )}
          <span className="ml-auto text-sm text-muted-foreground" aria-live="polite" data-testid="changes-total">
            {changes.data ? `${total} ${total === 1 ? "change" : "changes"}` : ""}
          </span>
        </div>
        {changes.isLoading && <Skeleton className="h-40 w-full" />}
        {changes.isError && (
          <p role="alert" className="rounded-md border border-destructive/40 bg-destructive/5 p-3 text-sm text-destructive">
            Could not load the changes: {errorMessage(changes.error)}
          </p>
        )}
        {changes.isSuccess && items.length === 0 && (
          <EmptyState icon={Sparkles} title={narrowed ? "No changes match these filters" : filters.flagged ? "No significant changes yet" : "No comparisons yet"}>
            {filters.flagged ? (
              <p>
                Evaluate fine-tuned models (and their parents or base models) on the same benchmarks: clear gains and losses show up here.{" "}
                <button type="button" className="text-primary hover:underline" onClick={() => set("all", "1")}>
                  Show every comparison
                </button>
              </p>
            ) : (
              <p>Comparisons appear after a fine-tuned model and its parent or base have been evaluated.</p>
            )}
          </EmptyState>
        )}
        {items.length > 0 && (
          <ul className={cn("grid gap-2", changes.isPlaceholderData && "opacity-60")} data-testid="change-feed">
            {items.map((c) => (
              <ChangeItem key={c.id} change={c} />
            ))}
          </ul>
        )}
        <Pager offset={offset} pageSize={PAGE} total={total} onOffset={(o) => set("offset", String(o))} />
      </section>
      <Aggregates />
    </div>
  );
}
