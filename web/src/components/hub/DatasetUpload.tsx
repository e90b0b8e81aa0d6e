import { useRef, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { FileUp, Upload, X } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Input, Label } from "@/components/ui/input";
import { DatasetFormatSelect } from "@/components/EnumSelect";
import { toast } from "@/components/ui/toast";
import { ApiError, errorMessage, uploadWithProgress } from "@/lib/api";
import { formatBytes } from "@/lib/format";
import type { DatasetOut } from "@/lib/types";
import { rowErrors } from "@/lib/hub";
import type { FormatChoice } from "@/client";
import { hubKeys } from "@/lib/hubQueries";
import { cn } from "@/lib/utils";

const ACCEPT = ".jsonl,.json,.csv,.parquet,application/jsonl,application/x-ndjson,text/csv";

/** "my_data.jsonl" → "my data". */
function nameFromFile(filename: string): string {
  return filename.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim() || filename;
}

/**
 * Drop a JSONL / CSV / Parquet file (or pick one), name it, upload it with a progress bar. The server checks every
 * row: its row-numbered problems are listed here as plain text.
 */
export function DatasetUpload({ onUploaded, baseModel, compact }: { onUploaded?: (d: DatasetOut) => void; baseModel?: string; compact?: boolean }) {
  const qc = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [format, setFormat] = useState<FormatChoice>("auto");
  const [progress, setProgress] = useState(0);
  const [dragging, setDragging] = useState(false);

  const upload = useMutation({
    mutationFn: async () => {
      const form = new FormData();
      form.append("file", file as File);
      if (name.trim()) form.append("name", name.trim());
      if (format !== "auto") form.append("format", format);
      if (baseModel) form.append("base_model", baseModel);
      setProgress(0);
      let status = 0;
      const d = await uploadWithProgress("/datasets", form, { onProgress: setProgress, onStatus: (s) => (status = s) });
      return { dataset: d, existing: status === 200 };
    },
    meta: { silent: true },
    onSuccess: ({ dataset: d, existing }) => {
      qc.invalidateQueries({ queryKey: hubKeys.datasets });
      if (existing) toast("You already have this dataset", { description: `Same content as ${d.name}: using that one.` });
      else toast.success("Dataset uploaded", `${d.name}: ${d.rows} rows`);
      setFile(null);
      setName("");
      if (input.current) input.current.value = "";
      onUploaded?.(d);
    },
  });

  const pick = (f: File | null | undefined) => {
    if (!f) return;
    setFile(f);
    setName((n) => n || nameFromFile(f.name));
    upload.reset();
  };
  const errors = rowErrors(upload.error);
  const failed = upload.isError;

  return (
    <div className="grid gap-4" data-testid="dataset-upload">
      <div
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          pick(e.dataTransfer.files?.[0]);
        }}
        className={cn(
          "flex flex-col items-center justify-center gap-2 rounded-lg border-2 border-dashed px-4 text-center transition-colors",
          compact ? "py-6" : "py-10",
          dragging ? "border-primary bg-primary/5" : "border-input bg-background/50",
        )}
        data-testid="drop-zone"
      >
        <FileUp className="size-7 text-muted-foreground" aria-hidden />
        <p className="text-sm">
          Drop a <strong>JSONL</strong>, <strong>CSV</strong> or <strong>Parquet</strong> file here, or{" "}
          <button type="button" className="font-medium text-primary underline-offset-4 hover:underline" onClick={() => input.current?.click()}>
            choose one
          </button>
          .
        </p>
        <p className="max-w-lg text-xs text-muted-foreground">
          Rows can be plain text (<code>{'{"text": ...}'}</code>), Alpaca (instruction / input / output), ShareGPT conversations or OpenAI
          messages; the format is detected.
        </p>
        <input
          ref={input}
          type="file"
          accept={ACCEPT}
          aria-label="Dataset file"
          className="sr-only"
          onChange={(e) => pick(e.target.files?.[0])}
          data-testid="dataset-file"
        />
      </div>
      {file && (
        <div className="grid gap-3 rounded-lg border bg-card p-3">
          <div className="flex items-center justify-between gap-2 text-sm">
            <span className="truncate font-medium" data-testid="chosen-file">
              {file.name}
            </span>
            <span className="flex items-center gap-2 text-muted-foreground">
              {formatBytes(file.size)}
              <Button
                variant="ghost"
                size="icon"
                className="size-7"
                aria-label="Remove file"
                onClick={() => {
                  setFile(null);
                  upload.reset();
                  if (input.current) input.current.value = "";
                }}
                disabled={upload.isPending}
              >
                <X aria-hidden />
              </Button>
            </span>
          </div>
          <div className="grid gap-3 sm:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
            <div className="grid gap-1.5">
              <Label htmlFor="dataset-name">Name</Label>
              <Input id="dataset-name" value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />
            </div>
            <div className="grid gap-1.5">
              <Label htmlFor="dataset-format">Format</Label>
              <DatasetFormatSelect id="dataset-format" value={format} onValueChange={(v) => setFormat(v || "auto")} />
            </div>
          </div>
          {upload.isPending && (
            <div className="grid gap-1" aria-live="polite">
              <div
                role="progressbar"
                aria-label="Upload progress"
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={Math.round(progress * 100)}
                className="h-2 overflow-hidden rounded-full bg-muted"
              >
                <div className="h-full bg-primary transition-[width]" style={{ width: `${Math.round(progress * 100)}%` }} />
              </div>
              <p className="text-xs text-muted-foreground">
                {progress < 1 ? `Uploading… ${Math.round(progress * 100)}%` : "Checking every row and counting tokens…"}
              </p>
            </div>
          )}
          <div>
            <Button onClick={() => upload.mutate()} disabled={upload.isPending}>
              <Upload aria-hidden /> {upload.isPending ? "Uploading…" : "Upload dataset"}
            </Button>
          </div>
        </div>
      )}
      {failed && (
        <div role="alert" className="rounded-md border border-destructive/40 bg-destructive/5 p-3" data-testid="upload-error">
          <p className="text-sm font-semibold text-destructive">{errorMessage(upload.error)}</p>
          {upload.error instanceof ApiError && upload.error.status === 413 && (
            <p className="mt-1 text-sm">The file is larger than this server accepts. Split it or raise the upload limit.</p>
          )}
          {errors.length > 0 && (
            <>
              <p className="mt-2 text-sm">Fix these rows and upload the file again:</p>
              <ul className="mt-1 grid gap-1 text-sm" data-testid="row-errors">
                {errors.map((e, i) => (
                  <li key={i}>
                    <span className="font-medium">{e.row == null ? "File" : `Row ${e.row}`}</span>
                    {e.column ? <span className="text-muted-foreground"> · {e.column}</span> : null}: {e.message}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </div>
  );
}
