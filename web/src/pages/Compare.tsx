import { useEffect, useState } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { ArrowLeftRight, Plus, X } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { CompareTable } from "@/components/CompareTable";
import { StatusBadge } from "@/components/StatusBadge";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import { Input } from "@/components/ui/input";
import { Skeleton } from "@/components/ui/skeleton";
import { api } from "@/lib/api";
import type { EntryOut } from "@/lib/types";

const MAX = 4;

function Picker({ chosen, onAdd }: { chosen: number[]; onAdd: (e: EntryOut) => void }) {
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  useEffect(() => {
    const t = setTimeout(() => setQ(text.trim()), 200);
    return () => clearTimeout(t);
  }, [text]);
  const { data } = useQuery({
    queryKey: ["entries", "picker", q],
    queryFn: ({ signal }) => api.get("/entries", { query: { q: q || undefined, limit: 8, sort: q ? "name" : "updated", order: q ? "asc" : "desc" }, signal }),
  });
  const options = (data?.items ?? []).filter((e) => !chosen.includes(e.id));
  return (
    <div className="min-w-0 overflow-hidden rounded-lg border bg-card p-3 shadow-xs" data-testid="compare-picker">
      <Input aria-label="Find a model to compare" placeholder="Find a model to compare…" value={text} onChange={(e) => setText(e.target.value)} />
      <ul className="mt-2 grid min-w-0 grid-cols-[minmax(0,1fr)] gap-1" aria-label="Models to add">
        {options.map((e) => (
          <li key={e.id} className="min-w-0">
            <button
              type="button"
              onClick={() => onAdd(e)}
              disabled={chosen.length >= MAX}
              className="flex w-full items-center justify-between gap-2 rounded-md px-2 py-1.5 text-left text-sm hover:bg-accent disabled:opacity-50"
            >
              <span className="flex min-w-0 flex-1 items-center gap-2">
                <Plus className="size-4 shrink-0 text-muted-foreground" aria-hidden />
                <span className="min-w-0 truncate font-medium">{e.name}</span>
                <span className="hidden min-w-0 truncate text-muted-foreground sm:inline">{e.developer}</span>
              </span>
              <span className="shrink-0">
                <StatusBadge status={e.status} />
              </span>
            </button>
          </li>
        ))}
        {options.length === 0 && <li className="px-2 py-1.5 text-sm text-muted-foreground">No more models match.</li>}
      </ul>
    </div>
  );
}

export default function Compare() {
  const [params, setParams] = useSearchParams();
  const ids = params
    .getAll("ids")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)
    .slice(0, MAX);
  const [onlyDiffs, setOnlyDiffs] = useState(false);
  const setIds = (next: number[]) => {
    const p = new URLSearchParams();
    next.forEach((id) => p.append("ids", String(id)));
    setParams(p);
  };
  const { data, isLoading } = useQuery({
    queryKey: ["compare", ids],
    queryFn: ({ signal }) => api.get("/compare", { query: { ids }, signal }),
    enabled: ids.length >= 2,
  });
  const { data: chosenEntries } = useQuery({
    queryKey: ["entries", "ids", ids],
    queryFn: ({ signal }) => api.get("/entries", { query: { ids, limit: MAX }, signal }),
    enabled: ids.length > 0,
  });
  const names = new Map((chosenEntries?.items ?? []).map((e) => [e.id, e.name]));

  return (
    <div>
      <PageHeader title="Compare" description="Pick two to four models; rows that differ are highlighted." />
      {/* minmax(0, …) columns: neither the picker nor the wide table may push the page wider than the screen. */}
      <div className="grid grid-cols-[minmax(0,1fr)] gap-6 lg:grid-cols-[20rem_minmax(0,1fr)]">
        <div className="grid min-w-0 content-start gap-3" data-testid="compare-side">
          <ul className="grid gap-2" aria-label="Chosen models">
            {ids.map((id) => (
              <li key={id} className="flex min-w-0 items-center justify-between gap-2 rounded-md border bg-card px-3 py-2 text-sm">
                <span className="truncate font-medium">{names.get(id) ?? `#${id}`}</span>
                <Button variant="ghost" size="icon" className="size-7" aria-label={`Remove ${names.get(id) ?? id}`} onClick={() => setIds(ids.filter((x) => x !== id))}>
                  <X aria-hidden />
                </Button>
              </li>
            ))}
          </ul>
          {ids.length < MAX && <Picker chosen={ids} onAdd={(e) => setIds([...ids, e.id])} />}
        </div>
        <div className="min-w-0" data-testid="compare-main">
          {ids.length < 2 ? (
            <EmptyState icon={ArrowLeftRight} title="Pick at least two models">
              <p>Search on the left and add models to compare them side by side.</p>
            </EmptyState>
          ) : isLoading || !data ? (
            <Skeleton className="h-80" />
          ) : (
            <div className="grid gap-3">
              <label className="flex items-center gap-2 text-sm">
                <Checkbox checked={onlyDiffs} onCheckedChange={(v) => setOnlyDiffs(v === true)} aria-label="Only show differences" />
                Only show differences ({data.fields.filter((f) => f.differs).length})
              </label>
              <CompareTable data={data} onlyDiffs={onlyDiffs} />
            </div>
          )}
        </div>
      </div>
    </div>
  );
}
