import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { Search } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { SnippetList } from "@/components/HighlightedText";
import { StatusBadge } from "@/components/StatusBadge";
import { Card } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { Tabs, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { api, errorMessage } from "@/lib/api";

const MODES = [
  { value: "keyword", label: "Keyword" },
  { value: "semantic", label: "Semantic" },
  { value: "hybrid", label: "Hybrid" },
] as const;
type Mode = (typeof MODES)[number]["value"];

export default function SearchPage() {
  const [params, setParams] = useSearchParams();
  const q = (params.get("q") ?? "").trim();
  const raw = params.get("mode");
  const mode: Mode = MODES.some((m) => m.value === raw) ? (raw as Mode) : "keyword";
  const { data, isLoading, isError, error } = useQuery({
    queryKey: ["search", q, 50, mode],
    queryFn: ({ signal }) => api.get("/search", { query: { q, limit: 50, mode }, signal }),
    enabled: q.length > 0,
    meta: { silent: true },
    retry: false,
  });
  const setMode = (m: string) =>
    setParams(
      (p) => {
        const n = new URLSearchParams(p);
        if (m === "keyword") n.delete("mode");
        else n.set("mode", m);
        return n;
      },
      { replace: true },
    );
  return (
    <div>
      <PageHeader
        title="Search"
        description={q ? `${isError ? "No" : (data?.total ?? "…")} results for “${q}”` : "Type in the search box above (press /)."}
        actions={
          <Tabs value={mode} onValueChange={setMode}>
            <TabsList aria-label="Search mode">
              {MODES.map((m) => (
                <TabsTrigger key={m.value} value={m.value}>
                  {m.label}
                </TabsTrigger>
              ))}
            </TabsList>
          </Tabs>
        }
      />
      {q && isLoading && <Skeleton className="h-40" />}
      {q && isError && (
        <p role="alert" data-testid="search-error" className="mb-4 rounded-md border border-destructive/40 bg-destructive/10 p-3 text-sm">
          {mode === "keyword" ? "Search failed" : `${mode === "semantic" ? "Semantic" : "Hybrid"} search is not available`}: {errorMessage(error)}
        </p>
      )}
      {q && data && data.items.length === 0 && (
        <EmptyState icon={Search} title="No matches">
          <p>Try another word, or fewer words.</p>
        </EmptyState>
      )}
      <ol className="grid gap-3" data-testid="search-results">
        {data?.items.map((hit) => (
          <li key={hit.entry.id}>
            <Card className="p-4">
              <div className="flex items-center justify-between gap-2">
                <Link to={`/entries/${hit.entry.id}`} className="font-semibold hover:underline">
                  {hit.entry.name}
                </Link>
                <StatusBadge status={hit.entry.status} />
              </div>
              <p className="text-sm text-muted-foreground">{[hit.entry.developer, hit.entry.model_type].filter(Boolean).join(" · ")}</p>
              <SnippetList snippets={hit.snippets} />
            </Card>
          </li>
        ))}
      </ol>
    </div>
  );
}
