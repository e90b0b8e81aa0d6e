// TanStack Query hooks for the research screens: museum, run feedback, capability changes, research rows and card,
// advisor (debounced).
import { useEffect, useState } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "./api";
import type {
  AdvisorRequest,
  ChangeFilters,
  MuseumFilters,
} from "./research";
import type { RunFeedbackIn } from "@/client";

export const researchKeys = {
  museum: (query: Record<string, unknown>) => ["museum", query] as const,
  changes: (query: Record<string, unknown>) => ["capability-changes", "list", query] as const,
  aggregates: ["capability-changes", "aggregates"] as const,
  rows: (limit: number) => ["research", "rows", limit] as const,
  card: ["research", "card"] as const,
  advisor: (body: string) => ["advisor", body] as const,
  curveHistory: (runId: number) => ["runs", runId, "curve-history"] as const,
};

/** GET /runs/{id}/curve-history: the band of earlier runs on the base model; refreshed while the run trains. */
export function useCurveHistory(runId: number, live: boolean) {
  return useQuery({
    queryKey: researchKeys.curveHistory(runId),
    queryFn: () => api.get("/runs/{run_id}/curve-history", { path: { run_id: runId } }),
    enabled: runId > 0,
    refetchInterval: live ? 15_000 : false,
    refetchIntervalInBackground: false,
  });
}

export function useMuseum(filters: MuseumFilters, page: { limit: number; offset: number }) {
  const query = { ...filters, ...page };
  return useQuery({
    queryKey: researchKeys.museum(query),
    queryFn: () => api.get("/museum", { query: { ...query } }),
    placeholderData: keepPreviousData,
  });
}

/** PUT /runs/{id}/feedback: thumbs (−1 | 1) and an optional comment; the museum lists are refreshed after. */
export function useRunFeedback(runId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: RunFeedbackIn) => api.put("/runs/{run_id}/feedback", { path: { run_id: runId }, body }),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["museum"] });
      qc.invalidateQueries({ queryKey: ["runs", runId] });
    },
  });
}

/** DELETE /runs/{id}/feedback: takes your verdict and comment back. */
export function useClearRunFeedback(runId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api.delete("/runs/{run_id}/feedback", { path: { run_id: runId } }),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["museum"] });
      qc.invalidateQueries({ queryKey: ["runs", runId] });
    },
  });
}

export function useCapabilityChanges(filters: ChangeFilters, page: { limit: number; offset: number }) {
  const query = { ...filters, ...page };
  return useQuery({
    queryKey: researchKeys.changes(query),
    queryFn: () => api.get("/capability-changes", { query: { ...query } }),
    placeholderData: keepPreviousData,
  });
}

export function useCapabilityAggregates() {
  return useQuery({ queryKey: researchKeys.aggregates, queryFn: () => api.get("/capability-changes/aggregates") });
}

export function useResearchRows(limit: number) {
  return useQuery({ queryKey: researchKeys.rows(limit), queryFn: () => api.get("/research/rows", { query: { limit } }) });
}

export function useResearchCard() {
  return useQuery({
    queryKey: researchKeys.card,
    queryFn: () => api.get("/research/card", { headers: { Accept: "text/markdown, text/plain, */*" } }),
    staleTime: 60_000,
  });
}

/** `value`, once it has stayed the same for `ms` milliseconds. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/** Debounce for the advisor: the builder's choices settle this long before a request goes out. */
export const ADVISOR_DEBOUNCE_MS = 500;

/** POST /advisor for the builder's current choices, debounced; the previous answer stays while the next loads. */
export function useAdvisor(body: AdvisorRequest | null) {
  const key = useDebounced(body ? JSON.stringify(body) : "", ADVISOR_DEBOUNCE_MS);
  return useQuery({
    queryKey: researchKeys.advisor(key),
    queryFn: ({ signal }) => api.post("/advisor", { body: JSON.parse(key) as AdvisorRequest, signal }),
    enabled: key !== "",
    placeholderData: keepPreviousData,
    staleTime: 30_000,
    meta: { silent: true },
    retry: false,
  });
}
