// Benchmark contamination: the dataset badge and its examples, the training-data line of runs and models, and the
// leaderboard's "show contaminated" toggle. Every text shown here (dataset rows, test documents) is rendered as text.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { RefreshCw, ShieldAlert } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { toast } from "@/components/ui/toast";
import type { ContaminationOut, TrainingContamination } from "@/client";
import { api, ApiError } from "@/lib/api";
import { CONTAMINATION_STATUS_LABEL } from "@/lib/enums";
import { formatCount } from "@/lib/format";

type Variant = "success" | "danger" | "muted" | "info" | "warning";

/** The badge of a dataset's check: "Clean", "Overlaps GSM8K test: 37 documents", "Not checked", "Checking… 40 %". */
export function contaminationBadge(c: ContaminationOut | undefined): { label: string; variant: Variant; title?: string } {
  if (!c || c.status === null) return { label: "Not checked", variant: "muted" };
  if (c.status === "pending" || c.status === "running") {
    const pct = c.progress ? ` ${Math.round(c.progress * 100)} %` : "";
    return { label: `Checking…${pct}`, variant: "info", title: c.progress_message ?? undefined };
  }
  if (c.status === "done") {
    if (!c.contaminated) return { label: "Clean", variant: "success", title: "No overlap with any benchmark test set" };
    const summary = c.summary ?? "";
    return { label: summary.charAt(0).toUpperCase() + summary.slice(1), variant: "danger" };
  }
  return { label: CONTAMINATION_STATUS_LABEL[c.status], variant: "warning", title: c.message ?? undefined };
}

export function ContaminationBadge({ check }: { check: ContaminationOut | undefined }) {
  const b = contaminationBadge(check);
  return (
    <Badge variant={b.variant} title={b.title} data-testid="contamination-badge">
      {b.variant === "danger" && <ShieldAlert className="mr-1 size-3" aria-hidden />}
      {b.label}
    </Badge>
  );
}

export function useContamination(datasetId: number) {
  return useQuery({
    queryKey: ["datasets", datasetId, "contamination"],
    queryFn: () => api.get("/datasets/{dataset_id}/contamination", { path: { dataset_id: datasetId } }),
    enabled: datasetId > 0,
    refetchInterval: (q) => (q.state.data?.status === "pending" || q.state.data?.status === "running" ? 2000 : false),
  });
}

/** The check's report on the dataset page: per task the counts, and each overlapping row next to its test document. */
export function ContaminationReportView({ check }: { check: ContaminationOut }) {
  if (check.status !== "done") {
    return check.message ? <p className="text-sm text-muted-foreground">{check.message}</p> : null;
  }
  if (!check.contaminated) {
    return (
      <p className="text-sm text-muted-foreground">
        {formatCount(check.rows_checked)} rows checked against every benchmark test set ({check.n}-grams and exact questions): no overlap.
      </p>
    );
  }
  return (
    <div className="grid gap-4" data-testid="contamination-tasks">
      {(check.tasks ?? []).map((t) => (
        <section key={t.task} className="grid gap-2">
          <h3 className="text-sm font-medium">
            {t.title} <span className="text-muted-foreground">({t.task})</span>: {formatCount(t.documents)} of {formatCount(t.total_documents)} test documents,{" "}
            {formatCount(t.rows)} dataset rows{t.exact ? `, ${formatCount(t.exact)} exact` : ""}
          </h3>
          {(t.examples ?? []).map((e) => (
            <div key={`${e.row}-${e.document_id}`} className="grid gap-2 rounded-md border p-2 text-xs sm:grid-cols-2" data-testid="contamination-example">
              <div>
                <div className="mb-1 text-muted-foreground">dataset row {e.row}</div>
                <p className="whitespace-pre-wrap break-words">{e.row_text}</p>
              </div>
              <div>
                <div className="mb-1 text-muted-foreground">
                  test document {e.document_id} · {e.kind === "exact" ? "same question" : `${e.shared_ngrams} shared 13-grams`}
                </div>
                <p className="whitespace-pre-wrap break-words">{e.document_text}</p>
              </div>
            </div>
          ))}
        </section>
      ))}
    </div>
  );
}

export function ContaminationCard({ datasetId }: { datasetId: number }) {
  const qc = useQueryClient();
  const { data } = useContamination(datasetId);
  const again = useMutation({
    mutationFn: () => api.post("/datasets/{dataset_id}/contamination", { path: { dataset_id: datasetId } }),
    onSuccess: (fresh) => qc.setQueryData(["datasets", datasetId, "contamination"], fresh),
    onError: (e) => toast.error(e instanceof ApiError ? e.message : "Could not start the check"),
  });
  return (
    <Card data-testid="contamination-card">
      <CardHeader>
        <CardTitle className="flex flex-wrap items-center gap-2 text-base">
          Benchmark contamination <ContaminationBadge check={data} />
        </CardTitle>
        <CardDescription>Overlap of this dataset with the test documents of every benchmark task (13-grams after normalisation, and exact questions).</CardDescription>
      </CardHeader>
      <CardContent className="grid gap-3">
        {data && <ContaminationReportView check={data} />}
        {data?.can_check && data.status !== "pending" && data.status !== "running" && (
          <div>
            <Button variant="outline" size="sm" onClick={() => again.mutate()} disabled={again.isPending}>
              <RefreshCw aria-hidden /> Check again
            </Button>
          </div>
        )}
      </CardContent>
    </Card>
  );
}

/** "trained on data that overlaps GSM8K test: 37 documents" on a run or model page. */
export function TrainingContaminationNote({ value }: { value: TrainingContamination | null | undefined }) {
  if (!value) return null;
  const variant: Variant = value.contaminated ? "danger" : value.contaminated === false ? "success" : "muted";
  return (
    <Badge variant={variant} data-testid="training-contamination" title={value.contaminated ? "Scores on these tasks are not trustworthy" : undefined}>
      {value.contaminated && <ShieldAlert className="mr-1 size-3" aria-hidden />}
      {value.summary}
    </Badge>
  );
}

/** The leaderboard's toggle: contaminated rows are hidden by default; the count says how many. */
export function ContaminatedToggle({ checked, hidden, onChange }: { checked: boolean; hidden: number; onChange: (v: boolean) => void }) {
  return (
    <label className="inline-flex items-center gap-2 text-sm" data-testid="contaminated-toggle">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      Show contaminated models
      {!checked && (
        <span className="text-muted-foreground" data-testid="hidden-contaminated">
          ({hidden === 0 ? "none hidden" : `${formatCount(hidden)} hidden: trained on this domain's test items`})
        </span>
      )}
    </label>
  );
}
