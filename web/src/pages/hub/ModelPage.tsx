// A fine-tuned model's public page (/m/:owner/:name): its whole story (description, config, data, curves, scores,
// lineage, capability changes, feedback) and what to do with it (try, download, use with Hugging Face, fork).
import { lazy, Suspense, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { Download, Eye, EyeOff, GitFork, LineChart as LineChartIcon, Network, Pencil, SlidersHorizontal } from "lucide-react";
import { EmptyState } from "@/components/AppShell";
import { DemoPanel } from "@/components/hub/DemoPanel";
import { ModelBenchmarks } from "@/components/hub/ModelBenchmarks";
import { CapabilityCallouts, DatasetCard, FeedbackSection, HfSnippet, RunNumbers, VisibilityBadge } from "@/components/hub/ModelPagePieces";
import { ConfigTable, OutcomeBadge } from "@/components/hub/RunPieces";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { Textarea } from "@/components/ui/textarea";
import { toast } from "@/components/ui/toast";
import { api, ApiError, apiUrl, errorMessage } from "@/lib/api";
import { formatDateTime, formatParams } from "@/lib/format";
import { failureLabel } from "@/lib/hub";
import { useTrainingOptions } from "@/lib/hubQueries";
import type { HubModelRef, ModelPageOut } from "@/lib/modelPage";
import { modelHref, runCurve } from "@/lib/modelPage";
import { modelPageKeys, useLineage, useModelPage, useUpdateModel } from "@/lib/modelPageQueries";
import { TrainingContaminationNote } from "@/components/hub/Contamination";

const LossChart = lazy(() => import("@/components/hub/HubCharts").then((m) => ({ default: m.LossChart })));
const LineageGraph = lazy(() => import("@/components/hub/LineageGraph"));

function RefLink({ label, model }: { label: string; model: HubModelRef }) {
  return (
    <span className="inline-flex items-center gap-1">
      <span className="text-muted-foreground">{label}</span>
      <Link to={modelHref(model)} className="font-medium text-primary hover:underline" data-testid={`ref-${label.toLowerCase().replace(/\W+/g, "-")}`}>
        {model.name}
      </Link>
    </span>
  );
}

function Description({ page }: { page: ModelPageOut }) {
  const m = page.model;
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(m.description ?? "");
  const update = useUpdateModel(m.id);
  if (editing) {
    return (
      <form
        className="grid gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          update.mutate({ description: text.trim() || null }, { onSuccess: () => setEditing(false) });
        }}
      >
        <Textarea aria-label="Description" value={text} maxLength={5000} rows={4} onChange={(e) => setText(e.target.value)} />
        <div className="flex gap-2">
          <Button type="submit" size="sm" disabled={update.isPending}>
            Save
          </Button>
          <Button type="button" size="sm" variant="ghost" onClick={() => setEditing(false)}>
            Cancel
          </Button>
        </div>
      </form>
    );
  }
  return (
    <div className="flex items-start gap-2" data-testid="model-description">
      <p className="min-w-0 flex-1 whitespace-pre-wrap [overflow-wrap:anywhere] text-sm">
        {m.description || <span className="text-muted-foreground">No description yet.</span>}
      </p>
      {page.permissions.can_edit && (
        <Button
          variant="ghost"
          size="sm"
          onClick={() => {
            setText(m.description ?? "");
            setEditing(true);
          }}
        >
          <Pencil aria-hidden /> Edit
        </Button>
      )}
    </div>
  );
}

function PublishToggle({ page }: { page: ModelPageOut }) {
  const m = page.model;
  const update = useUpdateModel(m.id);
  if (!page.permissions.can_edit) return null;
  const isPublic = m.visibility === "public";
  return (
    <Button
      variant="outline"
      onClick={() =>
        update.mutate(
          { visibility: isPublic ? "private" : "public" },
          {
            onSuccess: (p) =>
              toast.success(
                p.model.visibility === "public" ? "Published" : "Private again",
                p.model.visibility === "public" ? "Anyone with the link can see, try, download and fork it." : "Only you can see it now.",
              ),
          },
        )
      }
      disabled={update.isPending}
      aria-pressed={isPublic}
      data-testid="publish-toggle"
    >
      {isPublic ? <EyeOff aria-hidden /> : <Eye aria-hidden />} {isPublic ? "Make private" : "Publish"}
    </Button>
  );
}

function LineageMini({ modelId }: { modelId: number }) {
  const lineage = useLineage(modelId);
  return (
    <Card data-testid="lineage-section">
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-2">
        <div className="grid gap-1">
          <CardTitle className="flex items-center gap-2 text-base">
            <Network className="size-4" aria-hidden /> Lineage
          </CardTitle>
          <CardDescription>Where it comes from and what was trained from it.</CardDescription>
        </div>
        <Button variant="ghost" size="sm" asChild>
          <Link to={`/hub/lineage?model=${modelId}`} data-testid="open-lineage">
            Open the full graph
          </Link>
        </Button>
      </CardHeader>
      <CardContent>
        {lineage.isLoading && <Skeleton className="h-56 w-full" />}
        {lineage.isError && <p className="text-sm text-muted-foreground">The lineage is not available: {errorMessage(lineage.error)}</p>}
        {lineage.data && (
          <Suspense fallback={<Skeleton className="h-56 w-full" />}>
            <LineageGraph graph={lineage.data} compact height={240} />
          </Suspense>
        )}
      </CardContent>
    </Card>
  );
}

export default function ModelPage() {
  const { owner = "", name = "" } = useParams();
  const navigate = useNavigate();
  const page = useModelPage(owner, name);
  const options = useTrainingOptions();
  const baseId = page.data?.model.base?.id;
  const base = useQuery({
    queryKey: ["catalog-model", baseId],
    queryFn: () => api.get("/models/{model_id}", { path: { model_id: baseId ?? 0 } }),
    enabled: !!baseId,
    meta: { silent: true },
  });

  if (page.isError) {
    const notFound = page.error instanceof ApiError && page.error.status === 404;
    return (
      <EmptyState title={notFound ? "No such model" : "Could not load this model"}>
        <p className="text-sm text-muted-foreground">
          {notFound ? `There is no model ${owner}/${name} you can see: it may be private, renamed or deleted.` : errorMessage(page.error)}
        </p>
      </EmptyState>
    );
  }
  if (!page.data) return <Skeleton className="h-96 w-full" />;
  const p = page.data;
  const m = p.model;
  const run = p.run;
  const fail = failureLabel(run?.failure_category);
  const repoId = m.repo_id ?? (m.owner && m.slug ? `${m.owner}/${m.slug}` : null);
  const key = modelPageKeys.page(owner, name);

  return (
    <div className="grid gap-6" data-testid="model-page" data-model-id={m.id}>
      <div className="flex flex-wrap items-end justify-between gap-3">
        <div className="grid gap-1.5">
          <p className="text-sm text-muted-foreground">
            <span data-testid="model-owner">{m.owner}</span> / <span className="font-mono">{m.slug}</span>
          </p>
          <h1 className="text-2xl font-semibold tracking-tight">{m.name}</h1>
          <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-sm">
            <Badge variant="success">Fine-tuned</Badge>
            <VisibilityBadge visibility={m.visibility} />
            {m.toy && <Badge variant="warning">toy base</Badge>}
            <TrainingContaminationNote value={p.contamination} />
            {m.base && <RefLink label="Base" model={m.base} />}
            {m.parent && <RefLink label="Forked from" model={m.parent} />}
            {m.parameters ? <span className="text-muted-foreground">{formatParams(m.parameters)} parameters</span> : null}
            {m.license && <span className="text-muted-foreground">{m.license}</span>}
            <span className="text-muted-foreground">created {formatDateTime(m.created_at)}</span>
          </div>
        </div>
        <div className="flex flex-wrap items-center gap-2">
          <PublishToggle page={p} />
          {p.permissions.can_download && (
            <Button variant="outline" asChild>
              <a href={apiUrl("/hub/models/{model_id}/download", { model_id: m.id })} download data-testid="download">
                <Download aria-hidden /> Download
              </a>
            </Button>
          )}
          {p.permissions.can_fork && (
            <Button onClick={() => navigate(`/hub/train/expert?fork=${m.id}`)} data-testid="fork">
              <GitFork aria-hidden /> Fork
            </Button>
          )}
        </div>
      </div>

      <Card>
        <CardContent className="grid gap-3 pt-5">
          <Description page={p} />
          {run && (
            <p className="flex flex-wrap items-center gap-2 text-sm text-muted-foreground">
              Trained by run{" "}
              <Link to={`/hub/runs/${run.id}`} className="font-medium text-primary hover:underline">
                {run.name ?? `#${run.id}`}
              </Link>
              <OutcomeBadge outcome={run.training_outcome} />
              {run.preset && <span>preset {run.preset}</span>}
              <span>{run.mode} mode</span>
            </p>
          )}
          {fail && (
            <p className="rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950/40 dark:text-amber-200" data-testid="failure-category">
              <strong>{fail.title}.</strong> {run?.failure_message || fail.hint}
            </p>
          )}
        </CardContent>
      </Card>

      <DemoPanel modelId={m.id} modelName={m.name} available={p.permissions.can_demo} />

      <CapabilityCallouts modelId={m.id} />

      {run && (
        <Card data-testid="training-section">
          <CardHeader>
            <CardTitle className="flex items-center gap-2 text-base">
              <LineChartIcon className="size-4" aria-hidden /> Training
            </CardTitle>
            <CardDescription>Loss on the training data at every logged step, and on the held-out rows at each evaluation.</CardDescription>
          </CardHeader>
          <CardContent className="grid gap-4">
            <RunNumbers run={run} />
            {run.curve.length > 0 ? (
              <div data-testid="loss-chart" data-points={run.curve.length}>
                <Suspense fallback={<Skeleton className="h-[260px] w-full" />}>
                  <LossChart curve={runCurve(run)} />
                </Suspense>
              </div>
            ) : (
              <p className="text-sm text-muted-foreground">No loss curve was recorded.</p>
            )}
          </CardContent>
        </Card>
      )}

      <ModelBenchmarks modelId={m.id} modelName={m.name} baseName={m.base?.name} />

      <div className="grid gap-6 xl:grid-cols-2">
        <LineageMini modelId={m.id} />
        {p.dataset ? (
          <DatasetCard dataset={p.dataset} />
        ) : (
          <Card data-testid="dataset-card">
            <CardHeader>
              <CardTitle className="text-base">Training data</CardTitle>
            </CardHeader>
            <CardContent>
              <p className="text-sm text-muted-foreground">The dataset is private to its owner (or was deleted).</p>
            </CardContent>
          </Card>
        )}
      </div>

      {run && (
        <Card data-testid="config-section">
          <CardHeader className="flex-row flex-wrap items-start justify-between gap-2">
            <div className="grid gap-1">
              <CardTitle className="flex items-center gap-2 text-base">
                <SlidersHorizontal className="size-4" aria-hidden /> Configuration
              </CardTitle>
              <CardDescription>Every training setting this model was made with.</CardDescription>
            </div>
          </CardHeader>
          <CardContent>
            <ConfigTable config={run.config} fields={options.data?.fields} />
          </CardContent>
        </Card>
      )}

      <div className="grid gap-6 xl:grid-cols-2">
        <FeedbackSection page={p} pageKey={key} />
        {repoId && <HfSnippet repoId={repoId} isPrivate={m.visibility !== "public"} baseRepo={base.data?.hf_repo_id ?? null} />}
      </div>
    </div>
  );
}
