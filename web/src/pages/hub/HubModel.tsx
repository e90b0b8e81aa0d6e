// /hub/models/:id — one page per model: a fine-tune's page is /m/owner/slug (chat, fork, download, scores), so this
// URL redirects there; any other catalog model (a base, an external one) is shown here: what it is, what it came
// from, its benchmark scores and a way to log it.
import { Link, Navigate, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, BookmarkPlus } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { ModelBenchmarks } from "@/components/hub/ModelBenchmarks";
import { Skeleton } from "@/components/ui/skeleton";
import { toast } from "@/components/ui/toast";
import { api, ApiError } from "@/lib/api";
import { formatDateTime, formatParams } from "@/lib/format";
import type { EntryOut } from "@/lib/types";
import { useModelPageById } from "@/lib/modelPageQueries";

const KIND_LABEL: Record<string, string> = { finetuned: "Fine-tuned", base: "Base model", external: "Catalog model" };

function useModel(id: number | null | undefined) {
  return useQuery({ queryKey: ["catalog-model", id], queryFn: () => api.get("/models/{model_id}", { path: { model_id: id ?? 0 } }), enabled: !!id });
}

function ModelRef({ label, id }: { label: string; id: number }) {
  const m = useModel(id);
  return (
    <div className="flex justify-between gap-3 border-b border-dashed py-1.5">
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="text-right font-medium">
        <Link to={`/hub/models/${id}`} className="text-primary hover:underline">
          {m.data?.name ?? `Model ${id}`}
        </Link>
      </dd>
    </div>
  );
}

export default function HubModel() {
  const id = Number(useParams().id);
  const model = useModel(id);
  const base = useModel(model.data?.base_model_id ?? model.data?.parent_model_id);
  // A fine-tune's one page is /m/owner/slug: the hub page API names it (page_path); anything else stays here.
  const hubPage = useModelPageById(id);
  const pagePath = hubPage.data?.model.page_path;
  const qc = useQueryClient();
  const navigate = useNavigate();
  const log = useMutation({
    mutationFn: async () => {
      try {
        return await api.post("/entries", { body: { model_id: id, status: "tried" } });
      } catch (err) {
        const existing = err instanceof ApiError && err.status === 409 ? (err.details as { existing_id?: number } | null)?.existing_id : undefined;
        if (existing) return { id: existing } as EntryOut;
        throw err;
      }
    },
    onSuccess: (entry) => {
      qc.invalidateQueries({ queryKey: ["entries"] });
      toast.success("In your log", "Add notes and ratings on its page.");
      navigate(`/entries/${entry.id}`);
    },
  });

  if (pagePath?.startsWith("/m/")) return <Navigate to={pagePath} replace />;
  if (model.isError && model.error instanceof ApiError && model.error.status === 404) {
    return <EmptyState title="No such model" />;
  }
  if (!model.data || hubPage.isLoading) return <Skeleton className="h-64 w-full" />;
  const m = model.data;
  return (
    <div className="grid gap-6">
      <div>
        <button type="button" onClick={() => navigate(-1)} className="mb-2 inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
          <ArrowLeft className="size-4" aria-hidden /> Back
        </button>
        <PageHeader
          title={m.name}
          description={[m.developer, m.parameters ? `${formatParams(m.parameters)} parameters` : null, m.license].filter(Boolean).join(" · ")}
          actions={
            <Button onClick={() => log.mutate()} disabled={log.isPending}>
              <BookmarkPlus aria-hidden /> Add to My models
            </Button>
          }
        />
      </div>
      <Card>
        <CardContent className="grid gap-4 pt-5">
          <div className="flex flex-wrap gap-2">
            <Badge variant={m.kind === "finetuned" ? "success" : "muted"} data-testid="model-kind">
              {KIND_LABEL[m.kind] ?? m.kind}
            </Badge>
            {m.visibility && <Badge variant="outline">{m.visibility}</Badge>}
          </div>
          {m.description && <p className="whitespace-pre-wrap text-sm">{m.description}</p>}
          <dl className="grid max-w-xl gap-0 text-sm">
            {m.base_model_id != null && <ModelRef label="Base model" id={m.base_model_id} />}
            {m.parent_model_id != null && <ModelRef label="Fine-tuned from" id={m.parent_model_id} />}
            {m.hf_repo_id && (
              <div className="flex justify-between gap-3 border-b border-dashed py-1.5">
                <dt className="text-muted-foreground">Hugging Face</dt>
                <dd className="font-medium">{m.hf_repo_id}</dd>
              </div>
            )}
            <div className="flex justify-between gap-3 py-1.5">
              <dt className="text-muted-foreground">Created</dt>
              <dd className="font-medium">{formatDateTime(m.created_at)}</dd>
            </div>
          </dl>
        </CardContent>
      </Card>
      <ModelBenchmarks modelId={id} modelName={m.name} baseName={base.data?.name} />
    </div>
  );
}
