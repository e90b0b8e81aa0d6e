// Leaderboards: one per domain (and overall), filtered by base model, size and method (filters live in the URL).
import { Link, useSearchParams } from "react-router";
import { AlertTriangle, Trophy } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { LeaderboardTable, NOT_COMPARABLE } from "@/components/hub/BenchPieces";
import { Button } from "@/components/ui/button";
import { NativeSelect } from "@/components/ui/select";
import { Skeleton } from "@/components/ui/skeleton";
import { BOARD_TABS, domainLabel } from "@/lib/bench";
import type { BoardQuery } from "@/lib/benchQueries";
import { useLeaderboard } from "@/lib/benchQueries";
import { useBaseModels } from "@/lib/hubQueries";
import { cn } from "@/lib/utils";
import { ContaminatedToggle } from "@/components/hub/Contamination";

/** Size ranges offered by the filter: [label, min, max] in parameters. */
export const SIZE_RANGES: { value: string; label: string; min?: number; max?: number }[] = [
  { value: "", label: "Any size" },
  { value: "lt1b", label: "Under 1B", max: 1e9 },
  { value: "1-4b", label: "1B – 4B", min: 1e9, max: 4e9 },
  { value: "4-10b", label: "4B – 10B", min: 4e9, max: 1e10 },
  { value: "10-40b", label: "10B – 40B", min: 1e10, max: 4e10 },
  { value: "gt40b", label: "Over 40B", min: 4e10 },
];

export const METHODS = [
  { value: "", label: "Any method" },
  { value: "base", label: "Base models" },
  { value: "lora", label: "LoRA fine-tunes" },
  { value: "finetuned", label: "Other fine-tunes" },
  { value: "external", label: "Catalog models" },
];

/** The API query for the current URL parameters. */
export function boardQuery(params: URLSearchParams): BoardQuery {
  const domain = params.get("domain") ?? "overall";
  const size = SIZE_RANGES.find((s) => s.value === (params.get("size") ?? ""));
  const base = Number(params.get("base"));
  const q: BoardQuery = { domain: (BOARD_TABS as readonly string[]).includes(domain) ? domain : "overall" };
  if (base > 0) q.base_model_id = base;
  if (size?.min !== undefined) q.min_params = size.min;
  if (size?.max !== undefined) q.max_params = size.max;
  const method = params.get("method");
  if (method) q.method = method;
  if (params.get("contaminated") === "1") q.include_contaminated = true;
  return q;
}

export default function Leaderboards() {
  const [params, setParams] = useSearchParams();
  const query = boardQuery(params);
  const board = useLeaderboard(query);
  const bases = useBaseModels();
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v && !(k === "domain" && v === "overall")) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: k !== "domain" });
  };
  const filtered = !!(params.get("base") || params.get("size") || params.get("method"));
  const rows = board.data?.rows ?? [];
  const hidden = rows.filter((r) => !r.comparable).length;
  const small = rows.filter((r) => r.small_sample).length;
  const tied = rows.some((r) => r.tied);

  return (
    <div>
      <PageHeader title="Leaderboards" description="Benchmark scores of base and fine-tuned models, by domain. Only results measured with the same settings are ranked together." />
      <nav aria-label="Domain" className="mb-4">
        {/* Wraps onto a second line on narrow screens: every domain stays visible (no tab cut off at the edge). */}
        <div className="inline-flex max-w-full flex-wrap items-center gap-0.5 rounded-lg bg-muted p-1 text-muted-foreground" role="tablist" data-testid="board-tabs">
          {BOARD_TABS.map((d) => {
            const active = query.domain === d;
            return (
              <button
                key={d}
                type="button"
                role="tab"
                aria-selected={active}
                data-state={active ? "active" : "inactive"}
                onClick={() => set("domain", d)}
                className={cn(
                  "inline-flex items-center justify-center whitespace-nowrap rounded-md px-3 py-1 text-sm font-medium transition-all",
                  "focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
                  active && "bg-card text-foreground shadow-sm",
                )}
              >
                {domainLabel(d)}
              </button>
            );
          })}
        </div>
      </nav>
      <div className="mb-4 flex flex-wrap items-center gap-2" role="group" aria-label="Filters">
        <NativeSelect aria-label="Base model" value={params.get("base") ?? ""} onChange={(e) => set("base", e.target.value)} className="max-w-56">
          <option value="">Any base model</option>
          {(bases.data ?? []).map((b) => (
            <option key={b.id} value={String(b.id)}>
              {b.name}
            </option>
          ))}
        </NativeSelect>
        <NativeSelect aria-label="Size" value={params.get("size") ?? ""} onChange={(e) => set("size", e.target.value)}>
          {SIZE_RANGES.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </NativeSelect>
        <NativeSelect aria-label="Method" value={params.get("method") ?? ""} onChange={(e) => set("method", e.target.value)}>
          {METHODS.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </NativeSelect>
        {filtered && (
          <Button
            variant="ghost"
            size="sm"
            onClick={() => {
              const next = new URLSearchParams();
              if (params.get("domain")) next.set("domain", params.get("domain")!);
              setParams(next);
            }}
          >
            Clear filters
          </Button>
        )}
        <ContaminatedToggle checked={!!query.include_contaminated} hidden={board.data?.hidden_contaminated ?? 0} onChange={(v) => set("contaminated", v ? "1" : "")} />
        <span className="ml-auto text-sm text-muted-foreground" aria-live="polite">
          {board.data
            ? `${board.data.total} ${board.data.total === 1 ? "model" : "models"}` +
              (board.data.total > rows.length ? ` (the first ${rows.length} shown)` : "")
            : ""}
        </span>
      </div>
      {board.isLoading && <Skeleton className="h-48 w-full" />}
      {board.isSuccess && rows.length === 0 && (
        <EmptyState icon={Trophy} title={filtered ? "No models match these filters" : `No ${domainLabel(query.domain).toLowerCase()} scores yet`}>
          {filtered ? (
            <p>Try another base model, size or method.</p>
          ) : (
            <p>
              Open a model and press <strong>Evaluate</strong>, or{" "}
              <Link to="/hub/train" className="text-primary hover:underline">
                fine-tune one
              </Link>{" "}
              — finished runs are evaluated on every domain.
            </p>
          )}
        </EmptyState>
      )}
      {rows.length > 0 && (
        <>
          {small > 0 && (
            <p role="note" className="mb-3 flex items-start gap-2 rounded-md border border-amber-500/40 bg-amber-500/5 p-2.5 text-sm" data-testid="small-sample-warning">
              <AlertTriangle className="mt-0.5 size-4 shrink-0 text-amber-600 dark:text-amber-400" aria-hidden />
              <span>
                {small === rows.length ? "Every score here comes" : `${small} of these ${rows.length} scores come`} from a small sample (fewer than{" "}
                {board.data?.min_documents ?? 100} documents per domain, e.g. the quick mode): differences of several points can be chance. Run a full
                evaluation for a ranking you can rely on.
              </span>
            </p>
          )}
          <div className={cn("overflow-x-auto rounded-lg border bg-card", board.isPlaceholderData && "opacity-60")}>
            <LeaderboardTable rows={rows} />
          </div>
          <p className="mt-3 text-xs text-muted-foreground">
            Scores are percentages ± standard error; “vs base” is the difference from the model's base in percentage points (pp).
            {tied && (
              <span data-testid="tie-note">
                {" "}
                “≈” marks a model tied with the one above: their 95% confidence intervals overlap, so they share a rank.
              </span>
            )}
            {hidden > 0 && (
              <span data-testid="not-comparable-note">
                {" "}
                {hidden} {hidden === 1 ? "row is" : "rows are"} greyed and unranked. {NOT_COMPARABLE}
              </span>
            )}
          </p>
        </>
      )}
    </div>
  );
}
