import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { api } from "@/lib/api";

/** "Similar models" by meaning. Loads on its own; hides itself when semantic search is off or fails. */
export function SimilarPanel({ entryId }: { entryId: number }) {
  const { data, isError } = useQuery({
    queryKey: ["similar", entryId],
    queryFn: ({ signal }) => api.get("/entries/{entry_id}/similar", { path: { entry_id: entryId }, query: { limit: 5 }, signal }),
    meta: { silent: true },
    retry: false,
    staleTime: 60_000,
  });
  if (isError || !data || data.items.length === 0) return null;
  return (
    <Card data-testid="similar-models">
      <CardHeader>
        <CardTitle className="text-base">Similar models</CardTitle>
      </CardHeader>
      <CardContent>
        <ul className="grid gap-1.5 text-sm">
          {data.items.map((s) => (
            <li key={s.entry.id} className="flex items-center justify-between gap-2">
              <Link to={`/entries/${s.entry.id}`} className="truncate font-medium hover:underline">
                {s.entry.name}
              </Link>
              <span className="shrink-0 text-xs tabular-nums text-muted-foreground">{Math.round(s.score * 100)}%</span>
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}
