// TanStack Query hooks for the model page and the lineage graph.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "./api";
import type { FeedbackBlock, ModelPageOut } from "./modelPage";
import type { FeedbackIn, ModelPatch } from "@/client";

export const modelPageKeys = {
  page: (owner: string, slug: string) => ["hub-model-page", owner, slug] as const,
  byId: (id: number) => ["hub-model-page", "by-id", id] as const,
  changes: (modelId: number) => ["capability-changes", "model", modelId] as const,
  lineage: (modelId: number | null) => ["lineage", modelId ?? "all"] as const,
  forkTemplate: (modelId: number) => ["fork-template", modelId] as const,
};

export function useModelPage(owner: string, slug: string) {
  return useQuery({
    queryKey: modelPageKeys.page(owner, slug),
    queryFn: () => api.get("/hub/models/{owner}/{slug}", { path: { owner, slug } }),
    enabled: !!owner && !!slug,
    meta: { silent: true },
  });
}

/** The page of a model by its id (to link from ids); not found / not a hub model → error, silently. */
export function useModelPageById(id: number | null | undefined, enabled = true) {
  return useQuery({
    queryKey: modelPageKeys.byId(id ?? 0),
    queryFn: () => api.get("/hub/models/by-id/{model_id}", { path: { model_id: id ?? 0 } }),
    enabled: enabled && !!id && id > 0,
    meta: { silent: true },
    retry: false,
  });
}

export function useCapabilityChanges(modelId: number) {
  return useQuery({
    queryKey: modelPageKeys.changes(modelId),
    queryFn: () => api.get("/capability-changes", { query: { model_id: modelId, limit: 100 } }),
    enabled: modelId > 0,
    meta: { silent: true },
  });
}

export function useLineage(modelId: number | null) {
  return useQuery({
    queryKey: modelPageKeys.lineage(modelId),
    queryFn: () => api.get("/lineage", { query: modelId ? { model_id: modelId } : undefined }),
    meta: { silent: true },
  });
}

export function useForkTemplate(modelId: number) {
  return useQuery({
    queryKey: modelPageKeys.forkTemplate(modelId),
    queryFn: () => api.get("/models/{model_id}/fork-template", { path: { model_id: modelId } }),
    enabled: modelId > 0,
    meta: { silent: true },
    retry: false,
    staleTime: 60_000,
  });
}

/** Put the new page into the caches it is read from (by slug and by id). */
function storePage(qc: ReturnType<typeof useQueryClient>, page: ModelPageOut) {
  if (page.model.owner && page.model.slug) qc.setQueryData(modelPageKeys.page(page.model.owner, page.model.slug), page);
  qc.setQueryData(modelPageKeys.byId(page.model.id), page);
}

/** PATCH /hub/models/{id}: publish / unpublish, description (owner). */
export function useUpdateModel(modelId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: ModelPatch) => api.patch("/hub/models/{model_id}", { path: { model_id: modelId }, body }),
    onSuccess: (page) => {
      storePage(qc, page);
      qc.invalidateQueries({ queryKey: ["lineage"] });
      qc.invalidateQueries({ queryKey: ["catalog-model", modelId] });
    },
  });
}

/** PUT / DELETE /hub/models/{id}/feedback: the feedback block of the cached page is replaced by the answer. */
export function useFeedback(modelId: number, pageKey: readonly unknown[]) {
  const qc = useQueryClient();
  const apply = (block: FeedbackBlock | null) => {
    qc.setQueryData<ModelPageOut>(pageKey, (old) => (old && block ? { ...old, feedback: block } : old));
    if (!block) qc.invalidateQueries({ queryKey: pageKey });
    qc.invalidateQueries({ queryKey: modelPageKeys.byId(modelId) });
  };
  const put = useMutation({
    mutationFn: (body: FeedbackIn) => api.put("/hub/models/{model_id}/feedback", { path: { model_id: modelId }, body }),
    onSuccess: (block) => apply(block),
  });
  const remove = useMutation({
    mutationFn: () => api.delete("/hub/models/{model_id}/feedback", { path: { model_id: modelId } }),
    onSuccess: () => apply(null),
  });
  return { put, remove };
}
