import { useRef, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Download, FileUp, Upload } from "lucide-react";
import { PageHeader } from "@/components/AppShell";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { ImportFormatSelect } from "@/components/EnumSelect";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { toast } from "@/components/ui/toast";
import { api, ApiError, apiUrl } from "@/lib/api";
import { formatValue } from "@/lib/format";
import type { ImportFormat, ImportReport } from "@/client";

const PREVIEW_COLUMNS = ["name", "developer", "model_type", "status", "rating", "tags", "date_interacted"];

function isReport(x: unknown): x is ImportReport {
  return !!x && typeof x === "object" && "total_rows" in x && "errors" in x;
}

function ReportView({ report }: { report: ImportReport }) {
  const errors = report.errors ?? [];
  const preview = (report.preview ?? []) as unknown as Record<string, unknown>[];
  const warnings = report.warnings ?? [];
  return (
    <div className="grid min-w-0 grid-cols-[minmax(0,1fr)] gap-4" data-testid="import-report">
      <dl className="grid grid-cols-2 gap-3 text-sm sm:grid-cols-6">
        {(
          [
            ["Format", String(report.format).toUpperCase()],
            ["Rows", report.total_rows],
            ["Valid", report.valid_rows],
            ["New", report.created ?? 0],
            ["Updated", report.updated ?? 0],
            ["Unchanged", report.unchanged ?? 0],
          ] as const
        ).map(([k, v]) => (
          <div key={k} className="rounded-md border bg-background/50 p-2">
            <dt className="text-xs text-muted-foreground">{k}</dt>
            <dd className="font-semibold tabular-nums">{v}</dd>
          </div>
        ))}
      </dl>
      {warnings.length > 0 && (
        <ul className="grid gap-1 text-sm text-amber-700 dark:text-amber-300" aria-label="Warnings">
          {warnings.slice(0, 20).map((w, i) => (
            <li key={i}>{typeof w === "string" ? w : JSON.stringify(w)}</li>
          ))}
        </ul>
      )}
      {errors.length > 0 && (
        <div role="alert" className="rounded-md border border-destructive/40 bg-destructive/5 p-3">
          <p className="mb-2 text-sm font-semibold text-destructive">
            {report.error_count ?? errors.length} {(report.error_count ?? errors.length) === 1 ? "problem" : "problems"} — fix the file and upload it again
          </p>
          <ul className="grid gap-1 text-sm" data-testid="import-errors">
            {errors.slice(0, 100).map((e, i) => (
              <li key={i}>
                <span className="font-medium">{e.row == null ? "File" : `Row ${e.row}`}</span>
                {e.column ? <span className="text-muted-foreground"> · {e.column}</span> : null}: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {preview.length > 0 && (
        // The table scrolls inside its own frame: it never spills out of the card.
        <div className="min-w-0 max-w-full overflow-x-auto rounded-lg border" data-testid="import-preview">
          <Table>
            <TableHeader>
              <TableRow>
                {PREVIEW_COLUMNS.map((c) => (
                  <TableHead key={c}>{c.replace("_", " ")}</TableHead>
                ))}
              </TableRow>
            </TableHeader>
            <TableBody>
              {preview.map((row, i) => (
                <TableRow key={i}>
                  {PREVIEW_COLUMNS.map((c) => (
                    <TableCell key={c} className="max-w-48 truncate">
                      {formatValue(row[c])}
                    </TableCell>
                  ))}
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
    </div>
  );
}

export default function Transfer() {
  const qc = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState<ImportFormat>("auto");
  const [report, setReport] = useState<ImportReport | null>(null);

  const run = useMutation({
    mutationFn: async (dryRun: boolean) => {
      const form = new FormData();
      form.append("file", file as File);
      try {
        return await api.post("/import", { form, query: { format, dry_run: dryRun } });
      } catch (err) {
        if (err instanceof ApiError && isReport(err.details)) return err.details;
        throw err;
      }
    },
    onSuccess: (r) => {
      setReport(r);
      if (r.committed) {
        qc.invalidateQueries();
        toast.success("Import complete", `${r.created} new, ${r.updated} updated, ${r.unchanged} unchanged`);
      }
    },
  });

  return (
    <div>
      <PageHeader title="Import / Export" description="Move your log in and out as CSV or JSON." />
      <div className="grid grid-cols-[minmax(0,1fr)] gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
        <Card className="min-w-0" data-testid="import-card">
          <CardHeader>
            <CardTitle className="flex items-center gap-2 text-base">
              <FileUp className="size-4" aria-hidden /> Import
            </CardTitle>
            <CardDescription>Upload a file, check the preview and the per-row problems, then import it.</CardDescription>
          </CardHeader>
          <CardContent className="grid min-w-0 grid-cols-[minmax(0,1fr)] gap-4">
            <div className="flex flex-wrap items-center gap-2">
              <input
                ref={input}
                type="file"
                accept=".csv,.json,text/csv,application/json"
                aria-label="File to import"
                className="text-sm file:mr-3 file:rounded-md file:border file:border-input file:bg-card file:px-3 file:py-1.5 file:text-sm file:font-medium"
                onChange={(e) => {
                  setFile(e.target.files?.[0] ?? null);
                  setReport(null);
                }}
              />
              <ImportFormatSelect aria-label="File format" value={format} onValueChange={(v) => setFormat(v || "auto")} />
            </div>
            <div className="flex flex-wrap gap-2">
              <Button variant="outline" disabled={!file || run.isPending} onClick={() => run.mutate(true)}>
                <Upload aria-hidden /> Preview
              </Button>
              <Button
                disabled={!file || run.isPending || !report || report.committed || (report.errors?.length ?? 0) > 0 || report.valid_rows === 0}
                onClick={() => run.mutate(false)}
              >
                Import {report && !report.committed ? `${report.valid_rows} rows` : ""}
              </Button>
            </div>
            {report?.committed && (
              <p className="text-sm font-medium text-emerald-600 dark:text-emerald-400" role="status">
                Imported: {report.created} new, {report.updated} updated, {report.unchanged} unchanged.
              </p>
            )}
            {report && <ReportView report={report} />}
          </CardContent>
        </Card>
        <Card className="content-start">
          <CardHeader>
            <CardTitle className="flex items-center gap-2 text-base">
              <Download className="size-4" aria-hidden /> Export
            </CardTitle>
            <CardDescription>Everything in your log, journal notes included.</CardDescription>
          </CardHeader>
          <CardContent className="flex flex-wrap gap-2">
            <Button variant="outline" asChild>
              <a href={apiUrl("/export", undefined, { format: "csv" })} download>
                <Download aria-hidden /> CSV
              </a>
            </Button>
            <Button variant="outline" asChild>
              <a href={apiUrl("/export", undefined, { format: "json" })} download>
                <Download aria-hidden /> JSON
              </a>
            </Button>
          </CardContent>
        </Card>
      </div>
    </div>
  );
}
