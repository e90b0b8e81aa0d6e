// TanStack Query hooks for the hub screens (one query key per resource so pages share caches).
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api } from "./api";
import type { DatasetOut, JobOut } from "./types";
import type { RunStatus } from "@/client";
import { isActive } from "./hub";

export const hubKeys = {
  options: ["training-options"] as const,
  baseModels: ["base-models"] as const,
  datasets: ["datasets"] as const,
  dataset: (id: number) => ["datasets", id] as const,
  preview: (id: number, offset: number, limit: number) => ["datasets", id, "preview", offset, limit] as const,
  runs: (query: Record<string, unknown>) => ["runs", "list", query] as const,
  run: (id: number) => ["runs", id] as const,
  log: (id: number) => ["runs", id, "log"] as const,
  job: (id: number) => ["jobs", id] as const,
  imports: ["jobs", "import_model"] as const,
};

/** How often a live run is polled. */
export const RUN_POLL_MS = 1000;

export function useTrainingOptions() {
  return useQuery({ queryKey: hubKeys.options, queryFn: () => api.get("/training/options"), staleTime: 5 * 60_000 });
}

export function useBaseModels() {
  return useQuery({ queryKey: hubKeys.baseModels, queryFn: () => api.get("/base-models"), staleTime: 60_000 });
}

/** Your datasets (and public ones), newest first: the first 200, which is what a chooser can show. */
export function useDatasets() {
  return useQuery({
    queryKey: hubKeys.datasets,
    queryFn: async (): Promise<DatasetOut[]> => (await api.get("/datasets", { query: { limit: 200 } })).items,
  });
}

export function useDataset(id: number) {
  return useQuery({ queryKey: hubKeys.dataset(id), queryFn: () => api.get("/datasets/{dataset_id}", { path: { dataset_id: id } }), enabled: id > 0 });
}

export function useDatasetPreview(id: number, offset: number, limit: number) {
  return useQuery({
    queryKey: hubKeys.preview(id, offset, limit),
    queryFn: () => api.get("/datasets/{dataset_id}/preview", { path: { dataset_id: id }, query: { offset, limit } }),
    enabled: id > 0,
    placeholderData: keepPreviousData,
  });
}

/** One run, polled every second while it is queued or running; polling stops once it has finished. */
export function useRun(id: number) {
  return useQuery({
    queryKey: hubKeys.run(id),
    queryFn: () => api.get("/runs/{run_id}", { path: { run_id: id } }),
    enabled: id > 0,
    staleTime: 0,
    // live while training; slower while the trained model's evaluation is still queued or running
    refetchInterval: (q) =>
      isActive(q.state.data?.status) ? RUN_POLL_MS : evaluationPending(q.state.data?.evaluation?.state) ? EVAL_POLL_MS : false,
    refetchIntervalInBackground: false,
  });
}

export const EVAL_POLL_MS = 3000;

/** The automatic evaluation has not ended yet. */
export function evaluationPending(state: string | null | undefined): boolean {
  return state === "queued" || state === "paused" || state === "running";
}

export function useRuns(query: { status?: RunStatus; limit: number; offset: number }) {
  return useQuery({
    queryKey: hubKeys.runs(query),
    queryFn: () => api.get("/runs", { query }),
    placeholderData: keepPreviousData,
    // A list with live runs in it refreshes itself too (slower than a run page).
    refetchInterval: (q) => (q.state.data?.items.some((r) => isActive(r.status)) ? 3000 : false),
  });
}

/** One background job, polled every second while it is queued or running. */
export function useJob(id: number) {
  return useQuery({
    queryKey: hubKeys.job(id),
    queryFn: () => api.get("/jobs/{job_id}", { path: { job_id: id } }),
    enabled: id > 0,
    staleTime: 0,
    refetchInterval: (q) => (isActive(q.state.data?.status) ? RUN_POLL_MS : false),
  });
}

/** Your GGUF imports still queued or running (to follow them after leaving the page); polled while any is. */
export function useActiveImports(enabled: boolean) {
  return useQuery({
    queryKey: hubKeys.imports,
    queryFn: async (): Promise<JobOut[]> =>
      (await api.get("/jobs", { query: { kind: "import_model", limit: 20 } })).items.filter((j) => isActive(j.status)),
    enabled,
    refetchInterval: (q) => ((q.state.data?.length ?? 0) > 0 ? 3000 : false),
  });
}
