import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { Search } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { SnippetList } from "@/components/HighlightedText";
import { StatusBadge } from "@/components/StatusBadge";
import { Card } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { api } from "@/lib/api";
import type { SearchResults } from "@/lib/types";

export default function SearchPage() {
  const [params] = useSearchParams();
  const q = (params.get("q") ?? "").trim();
  const { data, isLoading } = useQuery({
    queryKey: ["search", q, 50],
    queryFn: ({ signal }) => api.get<SearchResults>("/search", { q, limit: 50 }, signal),
    enabled: q.length > 0,
  });
  return (
    <div>
      <PageHeader title="Search" description={q ? `${data?.total ?? "…"} results for “${q}”` : "Type in the search box above (press /)."} />
      {q && isLoading && <Skeleton className="h-40" />}
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
