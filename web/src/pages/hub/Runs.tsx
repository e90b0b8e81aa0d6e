// Every training run, newest first, filtered by status and outcome (filters live in the URL).
import { Link, useSearchParams } from "react-router";
import { Rocket, Workflow } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { OutcomeBadge, RunStatusBadge } from "@/components/hub/RunPieces";
import { Button } from "@/components/ui/button";
import { Pager } from "@/components/ui/pager";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { formatDateTime, formatFloat } from "@/lib/format";
import { failureLabel } from "@/lib/hub";
import { OutcomeSelect, RunStatusSelect } from "@/components/EnumSelect";
import { useRuns } from "@/lib/hubQueries";
import { OUTCOME_LABEL, parseEnum, RUN_STATUS_LABEL } from "@/lib/enums";

const PAGE = 25;

export default function Runs() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const outcome = params.get("outcome") ?? "";
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  // GET /runs filters by status; the outcome filter is applied here over the newest 200 runs (paged here too).
  const byOutcome = !!outcome;
  const runs = useRuns({ status: parseEnum(RUN_STATUS_LABEL, status), limit: byOutcome ? 200 : PAGE, offset: byOutcome ? 0 : offset });
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    if (k !== "offset") next.delete("offset");
    setParams(next);
  };
  const matching = (runs.data?.items ?? []).filter((r) => !byOutcome || r.training_outcome === outcome);
  const items = byOutcome ? matching.slice(offset, offset + PAGE) : matching;
  const total = byOutcome ? matching.length : (runs.data?.total ?? 0);
  const filtered = !!(status || outcome);

  return (
    <div>
      <PageHeader
        title="Training runs"
        description="Your fine-tuning runs: live ones update by themselves."
        actions={
          <Button asChild>
            <Link to="/hub/train">
              <Rocket aria-hidden /> New run
            </Link>
          </Button>
        }
      />
      <div className="mb-4 flex flex-wrap items-center gap-2" role="group" aria-label="Filters">
        <RunStatusSelect aria-label="Status" empty="Any status" value={parseEnum(RUN_STATUS_LABEL, status) ?? ""} onValueChange={(v) => set("status", v)} />
        <OutcomeSelect aria-label="Outcome" empty="Any outcome" value={parseEnum(OUTCOME_LABEL, outcome) ?? ""} onValueChange={(v) => set("outcome", v)} />
        {filtered && (
          <Button variant="ghost" size="sm" onClick={() => setParams(new URLSearchParams())}>
            Clear filters
          </Button>
        )}
        <span className="ml-auto text-sm text-muted-foreground" aria-live="polite">
          {runs.data ? `${total} ${total === 1 ? "run" : "runs"}` : ""}
        </span>
      </div>
      {runs.isLoading && <Skeleton className="h-48 w-full" />}
      {runs.isSuccess && items.length === 0 && (
        <EmptyState icon={Workflow} title={filtered ? "No runs match these filters" : "No training runs yet"}>
          {filtered ? (
            <p>Try another status or outcome.</p>
          ) : (
            <p>
              <Link to="/hub/train" className="text-primary hover:underline">
                Train your first model
              </Link>{" "}
              — the toy model finishes in about a minute.
            </p>
          )}
        </EmptyState>
      )}
      {items.length > 0 && (
        <div className="rounded-lg border bg-card">
          <Table>
            <TableHeader>
              <TableRow>
                <TableHead>Run</TableHead>
                <TableHead>Status</TableHead>
                <TableHead>Outcome</TableHead>
                <TableHead className="hidden md:table-cell">Base model</TableHead>
                <TableHead className="hidden lg:table-cell">Dataset</TableHead>
                <TableHead className="hidden sm:table-cell text-right">Final loss</TableHead>
                <TableHead className="hidden md:table-cell">Created</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {items.map((r) => (
                <TableRow key={r.id} data-testid="run-row">
                  <TableCell className="max-w-64">
                    <Link to={`/hub/runs/${r.id}`} className="block truncate font-medium hover:underline">
                      {r.name || `Run ${r.id}`}
                    </Link>
                    <span className="text-xs text-muted-foreground">
                      {r.mode === "expert" ? "expert" : (r.preset ?? "guided")}
                      {r.failure_category && r.training_outcome !== "success" ? ` · ${failureLabel(r.failure_category)?.title}` : ""}
                    </span>
                  </TableCell>
                  <TableCell>
                    <RunStatusBadge status={r.status} />
                  </TableCell>
                  <TableCell>
                    <OutcomeBadge outcome={r.training_outcome} />
                  </TableCell>
                  <TableCell className="hidden md:table-cell">{r.base_model?.name ?? "—"}</TableCell>
                  <TableCell className="hidden max-w-48 truncate lg:table-cell">{r.dataset?.name ?? "—"}</TableCell>
                  <TableCell className="hidden text-right tabular-nums sm:table-cell">{formatFloat(r.final_loss)}</TableCell>
                  <TableCell className="hidden whitespace-nowrap text-muted-foreground md:table-cell">{formatDateTime(r.created_at)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      <Pager offset={offset} pageSize={PAGE} total={total} onOffset={(o) => set("offset", String(o))} className="mt-4" />
    </div>
  );
}
