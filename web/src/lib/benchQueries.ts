// TanStack Query hooks for benchmarking: a model's scores, one evaluation (polled while it runs), leaderboards.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type QueryOf } from "./api";
import type { EvaluationOut } from "./bench";
import { isEvaluating } from "./bench";

export const benchKeys = {
  scores: (modelId: number) => ["model-scores", modelId] as const,
  evaluations: (modelId: number) => ["evaluations", "list", modelId] as const,
  evaluation: (id: number) => ["evaluations", id] as const,
  board: (query: Record<string, unknown>) => ["leaderboards", query] as const,
};

/** How often a running evaluation is polled. */
export const EVAL_POLL_MS = 1500;

export function useModelScores(modelId: number) {
  return useQuery({
    queryKey: benchKeys.scores(modelId),
    queryFn: () => api.get("/models/{model_id}/scores", { path: { model_id: modelId } }),
    enabled: modelId > 0,
    meta: { silent: true },
  });
}

/** The model's evaluations, newest first (to find one still running when the page opens). */
export function useModelEvaluations(modelId: number) {
  return useQuery({
    queryKey: benchKeys.evaluations(modelId),
    queryFn: async (): Promise<EvaluationOut[]> => (await api.get("/evaluations", { query: { model_id: modelId } })).items,
    enabled: modelId > 0,
    meta: { silent: true },
  });
}

/** One evaluation, polled every 1.5 s while it runs; polling stops once it is final, partial or failed. */
export function useEvaluation(id: number | null) {
  return useQuery({
    queryKey: benchKeys.evaluation(id ?? 0),
    queryFn: () => api.get("/evaluations/{evaluation_id}", { path: { evaluation_id: id ?? 0 } }),
    enabled: !!id && id > 0,
    staleTime: 0,
    refetchInterval: (q) => (isEvaluating(q.state.data?.status) ? EVAL_POLL_MS : false),
    refetchIntervalInBackground: false,
  });
}

/** POST /evaluations (quick mode unless told otherwise). */
export function useStartEvaluation(modelId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: { mode?: "quick" | "full"; domains?: string[] } = {}) =>
      api.post("/evaluations", { body: { model: String(modelId), mode: body.mode ?? "quick", ...(body.domains ? { domains: body.domains } : {}) } }),
    onSuccess: (e) => {
      qc.setQueryData(benchKeys.evaluation(e.id), e);
      qc.invalidateQueries({ queryKey: benchKeys.evaluations(modelId) });
      if (!isEvaluating(e.status)) qc.invalidateQueries({ queryKey: benchKeys.scores(modelId) });
    },
  });
}

/** The query of GET /leaderboards (the generated one), always with a domain ("overall" or one domain). */
export type BoardQuery = NonNullable<QueryOf<"/leaderboards", "get">> & { domain: string };

export function useLeaderboard(query: BoardQuery) {
  return useQuery({
    queryKey: benchKeys.board(query as unknown as Record<string, unknown>),
    queryFn: () => api.get("/leaderboards", { query: { ...query } }),
    placeholderData: keepPreviousData,
  });
}
