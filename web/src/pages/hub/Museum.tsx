// The failure museum: failed, partial and poor runs with their automatic failure category, config, curve, error and
// feedback. Filters (category chips with counts, outcome, base model, text) live in the URL. Nothing is ever pruned.
import { lazy, Suspense, useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ChevronRight, ExternalLink, Landmark, ThumbsDown, ThumbsUp } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { OutcomeBadge, RunStatusBadge, SourceBadge } from "@/components/hub/RunPieces";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Pager } from "@/components/ui/pager";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/select";
import { Skeleton } from "@/components/ui/skeleton";
import { Textarea } from "@/components/ui/textarea";
import { errorMessage } from "@/lib/api";
import { useAuthState } from "@/lib/auth";
import { formatDateTime } from "@/lib/format";
import { failureLabel } from "@/lib/hub";
import { OutcomeSelect } from "@/components/EnumSelect";
import { useBaseModels } from "@/lib/hubQueries";
import type { MuseumItem } from "@/lib/research";
import { categoryChips, categoryTitle, configSummary, drawableCurve, modelHref, museumFilters } from "@/lib/research";
import { useClearRunFeedback, useMuseum, useRunFeedback } from "@/lib/researchQueries";
import { cn } from "@/lib/utils";

const MiniLossChart = lazy(() => import("@/components/hub/ResearchCharts").then((m) => ({ default: m.MiniLossChart })));

const PAGE = 20;
const COMMENT_MAX = 2000;

function Chip({ active, onClick, children, testId, category }: { active: boolean; onClick: () => void; children: React.ReactNode; testId?: string; category?: string }) {
  return (
    <button
      type="button"
      onClick={onClick}
      aria-pressed={active}
      data-testid={testId}
      data-category={category}
      className={cn(
        "inline-flex items-center gap-1.5 rounded-full border px-3 py-1 text-sm font-medium transition-colors",
        "focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
        active ? "border-primary bg-primary text-primary-foreground" : "bg-card text-muted-foreground hover:bg-accent hover:text-foreground",
      )}
    >
      {children}
    </button>
  );
}

/** Thumbs up/down and a comment on one run (the run's owner only). Thumbs save at once; the comment on Save. */
export function RunFeedback({ item }: { item: MuseumItem }) {
  const save = useRunFeedback(item.run_id);
  const clear = useClearRunFeedback(item.run_id);
  const [value, setValue] = useState<number | null>(item.feedback_value ?? null);
  const [comment, setComment] = useState(item.feedback_comment ?? "");
  // The server's verdict wins when it changes (another tab, a clear); the comment being typed is never overwritten.
  useEffect(() => setValue(item.feedback_value ?? null), [item.feedback_value]);
  const send = (v: -1 | 1) => {
    setValue(v);
    save.mutate({ value: v, comment: comment.trim() || null });
  };
  const dirty = (comment.trim() || null) !== (item.feedback_comment ?? null);
  return (
    <div className="grid gap-2" data-testid="run-feedback">
      <div className="flex flex-wrap items-center gap-2">
        <span className="text-xs font-medium text-muted-foreground">Your verdict</span>
        <Button
          variant={value === 1 ? "default" : "outline"}
          size="sm"
          aria-pressed={value === 1}
          aria-label="Thumbs up"
          disabled={save.isPending}
          onClick={() => send(1)}
          data-testid="thumbs-up"
        >
          <ThumbsUp aria-hidden />
        </Button>
        <Button
          variant={value === -1 ? "destructive" : "outline"}
          size="sm"
          aria-pressed={value === -1}
          aria-label="Thumbs down"
          disabled={save.isPending}
          onClick={() => send(-1)}
          data-testid="thumbs-down"
        >
          <ThumbsDown aria-hidden />
        </Button>
        {value !== null && (
          <Button
            variant="ghost"
            size="sm"
            disabled={clear.isPending || save.isPending}
            onClick={() =>
              clear.mutate(undefined, {
                onSuccess: () => {
                  setValue(null);
                  setComment("");
                  save.reset();
                },
              })
            }
            data-testid="feedback-clear"
          >
            Clear
          </Button>
        )}
        {save.isSuccess && !dirty && (
          <span className="text-xs text-muted-foreground" role="status">
            Saved
          </span>
        )}
      </div>
      <form
        className="grid gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          if (value === 1 || value === -1) save.mutate({ value, comment: comment.trim() || null });
        }}
      >
        <label className="sr-only" htmlFor={`feedback-${item.run_id}`}>
          Comment on this run
        </label>
        <Textarea
          id={`feedback-${item.run_id}`}
          className="min-h-16 text-sm"
          placeholder="What went wrong, what you would try next…"
          value={comment}
          maxLength={COMMENT_MAX}
          onChange={(e) => setComment(e.target.value)}
          data-testid="feedback-comment"
        />
        <div className="flex items-center gap-2">
          <Button type="submit" variant="secondary" size="sm" disabled={!dirty || value === null || save.isPending} data-testid="feedback-save">
            {save.isPending ? "Saving…" : "Save comment"}
          </Button>
          {value === null && dirty && <span className="text-xs text-muted-foreground">Pick thumbs up or down first.</span>}
          {save.isError && (
            <span role="alert" className="text-xs text-destructive">
              {errorMessage(save.error)}
            </span>
          )}
        </div>
      </form>
    </div>
  );
}

export function MuseumCard({ item, canFeedback }: { item: MuseumItem; canFeedback: boolean }) {
  const fail = failureLabel(item.failure_category);
  const curve = drawableCurve(item.curve);
  const summary = configSummary(item.config);
  const modelLink = modelHref(item.model);
  const dropped = (item.curve?.length ?? 0) - curve.length;
  return (
    <Card data-testid="museum-card" data-run-id={item.run_id} data-category={item.failure_category ?? ""}>
      <CardHeader className="gap-2 pb-2">
        <div className="flex flex-wrap items-start justify-between gap-2">
          <CardTitle className="min-w-0 text-base">
            <Link to={`/hub/runs/${item.run_id}`} className="break-words hover:underline" data-testid="museum-run-link">
              {item.name || `Run ${item.run_id}`}
            </Link>
          </CardTitle>
          <div className="flex flex-wrap items-center gap-1.5">
            <SourceBadge source={item.source} />
            {fail ? (
              // The diagnosis is what the card is about: a run that finished ("Succeeded · Success") but did not
              // learn would contradict its own shelf in the museum, so the category replaces those badges.
              <Badge variant={item.outcome === "failure" || item.status === "failed" ? "danger" : "warning"} data-testid="museum-diagnosis" data-status={item.status} data-outcome-of-run={item.outcome ?? ""} title={fail.hint || undefined}>
                {fail.title}
              </Badge>
            ) : (
              <>
                <RunStatusBadge status={item.status} />
                <OutcomeBadge outcome={item.outcome} />
              </>
            )}
          </div>
        </div>
        <p className="text-xs text-muted-foreground">
          {item.owner ? <>by {item.owner} · </> : null}
          {item.base ? <>on {item.base.name}</> : "unknown base"}
          {item.dataset ? (
            <>
              {" "}
              · data: {item.dataset.name}
              {item.dataset.domain ? ` (${item.dataset.domain})` : ""}
            </>
          ) : null}{" "}
          · {formatDateTime(item.created_at)}
        </p>
      </CardHeader>
      <CardContent className="grid gap-3">
        {fail ? (
          <div className="rounded-md border border-amber-500/40 bg-amber-500/5 p-2.5 text-sm">
            <p className="font-medium" data-testid="museum-category" data-category={item.failure_category}>
              {fail.title}
            </p>
            {fail.hint && <p className="text-xs text-muted-foreground">{fail.hint}</p>}
          </div>
        ) : (
          <p className="text-sm text-muted-foreground" data-testid="museum-category" data-category="">
            No automatic category{item.feedback_value === -1 ? ": here because of a thumbs down." : "."}
          </p>
        )}
        {(item.failure_message || item.error_type) && (
          <pre className="max-h-32 overflow-auto whitespace-pre-wrap break-words rounded-md bg-muted p-2 font-mono text-xs" data-testid="museum-error">
            {[item.error_type, item.failure_message].filter(Boolean).join(": ")}
          </pre>
        )}
        {summary.length > 0 && (
          <dl className="flex flex-wrap gap-1.5 text-xs" data-testid="museum-config">
            {summary.map((s) => (
              <div key={s.key} className="rounded-md border bg-background px-2 py-0.5">
                <dt className="inline text-muted-foreground">{s.label} </dt>
                <dd className="inline font-medium tabular-nums">{s.value}</dd>
              </div>
            ))}
          </dl>
        )}
        <div data-testid="museum-curve" data-points={curve.length}>
          {curve.length >= 2 ? (
            <Suspense fallback={<Skeleton className="h-[120px] w-full" />}>
              <MiniLossChart curve={curve} />
            </Suspense>
          ) : (
            <p className="rounded-md border border-dashed px-3 py-4 text-center text-xs text-muted-foreground">
              {curve.length === 0 && dropped > 0 ? "The loss was never a finite number: nothing to draw." : "Too few logged steps for a curve."}
            </p>
          )}
          {dropped > 0 && curve.length > 0 && <p className="text-xs text-muted-foreground">{dropped} non-finite (NaN/Inf) points are not drawn.</p>}
        </div>
        <div className="flex flex-wrap gap-3 text-sm">
          <Link to={`/hub/runs/${item.run_id}`} className="inline-flex items-center gap-1 font-medium text-primary hover:underline">
            Open the run <ChevronRight className="size-4" aria-hidden />
          </Link>
          {modelLink && item.model && (
            <Link to={modelLink} className="inline-flex items-center gap-1 text-primary hover:underline">
              <ExternalLink className="size-3.5" aria-hidden /> {item.model.name}
            </Link>
          )}
        </div>
        {canFeedback ? (
          <RunFeedback item={item} />
        ) : (
          (item.feedback_value !== null || item.feedback_comment) && (
            <p className="text-xs text-muted-foreground" data-testid="feedback-readonly">
              Owner's verdict: {item.feedback_value === 1 ? "👍" : item.feedback_value === -1 ? "👎" : "—"}
              {item.feedback_comment ? ` “${item.feedback_comment}”` : ""}
            </p>
          )
        )}
      </CardContent>
    </Card>
  );
}

export default function Museum() {
  const [params, setParams] = useSearchParams();
  const filters = museumFilters(params);
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const museum = useMuseum(filters, { limit: PAGE, offset });
  const bases = useBaseModels();
  const auth = useAuthState();
  const [q, setQ] = useState(filters.q ?? "");
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    if (k !== "offset") next.delete("offset");
    setParams(next, { replace: k !== "category" });
  };
  const me = auth.data?.user?.username ?? null;
  const singleUser = auth.data?.mode === "single_user";
  const canFeedback = (item: MuseumItem) => singleUser || (!!me && item.owner === me);
  const data = museum.data;
  const chips = categoryChips(data?.counts);
  if (filters.category && !chips.some((c) => c.category === filters.category)) chips.push({ category: filters.category, count: data?.counts?.[filters.category] ?? 0 });
  // The counts are over the other filters (every run has one category, "uncategorized" included).
  const allCount = data ? Object.values(data.counts ?? {}).reduce((s, n) => s + n, 0) : null;
  const filtered = !!(filters.category || filters.outcome || filters.base_model_id || filters.q);
  const total = data?.total ?? 0;

  return (
    <div>
      <PageHeader
        title="Failure museum"
        description="Failed, partial and poor runs with what went wrong, so nobody repeats them. Every run stays here: nothing is pruned."
      />
      <div className="mb-3 flex flex-wrap gap-2" role="group" aria-label="Failure category" data-testid="category-chips">
        <Chip active={!filters.category} onClick={() => set("category", "")} testId="category-chip" category="">
          All{allCount !== null ? <span className="tabular-nums opacity-80">{allCount}</span> : null}
        </Chip>
        {chips.map((c) => (
          <Chip key={c.category} active={filters.category === c.category} onClick={() => set("category", filters.category === c.category ? "" : c.category)} testId="category-chip" category={c.category}>
            {categoryTitle(c.category)}
            <span className="tabular-nums opacity-80" data-testid="chip-count">
              {c.count}
            </span>
          </Chip>
        ))}
      </div>
      <div className="mb-4 flex flex-wrap items-center gap-2" role="group" aria-label="Filters">
        <OutcomeSelect aria-label="Outcome" empty="Any outcome" value={filters.outcome ?? ""} onValueChange={(v) => set("outcome", v)} />
        <NativeSelect aria-label="Base model" value={filters.base_model_id ? String(filters.base_model_id) : ""} onChange={(e) => set("base", e.target.value)} className="max-w-56">
          <option value="">Any base model</option>
          {(bases.data ?? []).map((b) => (
            <option key={b.id} value={String(b.id)}>
              {b.name}
            </option>
          ))}
        </NativeSelect>
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            set("q", q.trim());
          }}
        >
          <Input aria-label="Search runs" placeholder="Search name or error…" value={q} onChange={(e) => setQ(e.target.value)} className="w-56" />
        </form>
        {filtered && (
          <Button
            variant="ghost"
            size="sm"
            onClick={() => {
              setQ("");
              setParams(new URLSearchParams());
            }}
          >
            Clear filters
          </Button>
        )}
        <span className="ml-auto text-sm text-muted-foreground" aria-live="polite" data-testid="museum-total">
          {data ? `${total} ${total === 1 ? "run" : "runs"}` : ""}
        </span>
      </div>
      {museum.isLoading && (
        <div className="grid gap-4 md:grid-cols-2" aria-busy="true" aria-label="Loading">
          <Skeleton className="h-72 w-full" />
          <Skeleton className="h-72 w-full" />
        </div>
      )}
      {museum.isError && (
        <p role="alert" className="rounded-md border border-destructive/40 bg-destructive/5 p-3 text-sm text-destructive">
          Could not load the museum: {errorMessage(museum.error)}
        </p>
      )}
      {museum.isSuccess && data && data.items.length === 0 && (
        <EmptyState icon={Landmark} title={filtered ? "No runs match these filters" : "The museum is empty"}>
          {filtered ? <p>Try another category, outcome or base model.</p> : <p>Failed, partial and poorly rated runs land here, each with what went wrong.</p>}
        </EmptyState>
      )}
      {data && data.items.length > 0 && (
        <div className={cn("grid gap-4 md:grid-cols-2", museum.isPlaceholderData && "opacity-60")} data-testid="museum-list">
          {data.items.map((item) => (
            <MuseumCard key={item.run_id} item={item} canFeedback={canFeedback(item)} />
          ))}
        </div>
      )}
      <Pager offset={offset} pageSize={PAGE} total={total} onOffset={(o) => set("offset", String(o))} className="mt-4" />
    </div>
  );
}
