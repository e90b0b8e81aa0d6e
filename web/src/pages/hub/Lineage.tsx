// How models descend from each other: base → fine-tunes → forks, with the datasets they were trained on and the
// per-domain score change along every edge. ?model=<id> shows that model's family; without it, every family you
// can see (up to 300 nodes).
import { lazy, Suspense } from "react";
import { Link, useSearchParams } from "react-router";
import { Network } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { LineageLegend } from "@/components/hub/LineageLegend";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/api";
import { useLineage } from "@/lib/modelPageQueries";

const LineageGraph = lazy(() => import("@/components/hub/LineageGraph"));

export default function Lineage() {
  const [params] = useSearchParams();
  const modelId = Number(params.get("model")) || null;
  const lineage = useLineage(modelId);
  const g = lineage.data;
  const focus = g?.nodes.find((n) => n.id === g.focus);
  const models = g?.nodes.filter((n) => n.type !== "dataset").length ?? 0;
  const datasets = (g?.nodes.length ?? 0) - models;

  return (
    <div>
      <PageHeader
        title="Lineage"
        description={
          focus
            ? `The family of ${focus.label}: where it comes from and what was trained from it.`
            : "Every model family you can see: base models, their fine-tunes and forks, and the data they learned from."
        }
        actions={
          modelId ? (
            <Button variant="outline" asChild>
              <Link to="/hub/lineage">Show every family</Link>
            </Button>
          ) : undefined
        }
      />
      <Card>
        <CardContent className="grid gap-3 pt-5">
          <LineageLegend />
          {lineage.isLoading && <Skeleton className="h-[560px] w-full" />}
          {lineage.isError && <p className="text-sm text-destructive">{errorMessage(lineage.error)}</p>}
          {g && g.nodes.length === 0 && (
            <EmptyState icon={Network} title="No models to show yet">
              <p className="text-sm text-muted-foreground">
                Fine-tune a model on the <Link to="/hub/train" className="text-primary hover:underline">Train</Link> page: it appears here with its base and
                data.
              </p>
            </EmptyState>
          )}
          {g && g.nodes.length > 0 && (
            <>
              <p className="text-xs text-muted-foreground" data-testid="lineage-summary">
                {models} model{models === 1 ? "" : "s"}, {datasets} dataset{datasets === 1 ? "" : "s"}, {g.edges.length} link{g.edges.length === 1 ? "" : "s"}. Drag to
                pan, scroll to zoom, click a node to open it.
              </p>
              {g.truncated && (
                <p className="text-xs text-amber-700 dark:text-amber-400" data-testid="lineage-truncated">
                  Only the first {g.nodes.length} nodes are shown: open a model's lineage to see its whole family.
                </p>
              )}
              <Suspense fallback={<Skeleton className="h-[560px] w-full" />}>
                <LineageGraph graph={g} height={560} />
              </Suspense>
            </>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
