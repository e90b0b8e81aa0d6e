// Administrators: upload a GGUF file (llama.cpp's format) to make it a base model. The upload shows its progress;
// the server checks the file's header at once (a clear message when it is not GGUF, is cut short or holds an
// architecture ModelMate cannot train), then a background job converts it; its progress is followed here until the
// model is ready.
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { CircleCheck, FileUp, Upload, X } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Input, Label } from "@/components/ui/input";
import { toast } from "@/components/ui/toast";
import { api, ApiError, errorMessage, uploadWithProgress } from "@/lib/api";
import { formatBytes } from "@/lib/format";
import { isActive } from "@/lib/hub";
import { hubKeys, useJob } from "@/lib/hubQueries";
import type { BaseModelOut, GGUFImportAccepted, JobOut } from "@/lib/types";
import { cn } from "@/lib/utils";

/** The key the server gives an imported model (training/base_models.py local_key): "local-" + a slug of the name. */
export function importKey(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9.]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
  return `local-${slug || "model"}`;
}

/** "SmolLM2-135M-Instruct.Q4_1.gguf" → "SmolLM2 135M Instruct". */
export function nameFromGGUF(filename: string): string {
  const stem = filename.replace(/\.gguf$/i, "").replace(/[._-](I?Q\d[\w]*|F16|F32|BF16)$/i, "");
  return stem.replace(/[_-]+/g, " ").trim() || filename;
}

export function Progress({ value, label, testId }: { value: number; label: string; testId?: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 100)));
  return (
    <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} className="h-2 overflow-hidden rounded-full bg-muted" data-testid={testId}>
      <div className="h-full bg-primary transition-[width]" style={{ width: `${pct}%` }} />
    </div>
  );
}

/** A running (or finished) import job: its progress and message, its error, or a link to train with the model. */
export function ImportJobStatus({ job, modelKey, onCancel }: { job: JobOut; modelKey?: string; onCancel?: () => void }) {
  const error = job.error as { message?: string } | null | undefined;
  const key = modelKey ?? ((job.result as { key?: string } | null)?.key || undefined);
  if (job.status === "succeeded") {
    return (
      <div role="status" className="flex flex-wrap items-center gap-2 rounded-md border border-emerald-300/60 bg-emerald-50/60 p-3 text-sm dark:bg-emerald-950/30" data-testid="import-done">
        <CircleCheck className="size-4 text-emerald-600" aria-hidden />
        <span>
          Imported: base model <code className="font-medium">{key}</code> is ready.
        </span>
        {key && (
          <Link to={`/hub/train?base=${encodeURIComponent(key)}`} className="font-medium text-primary underline-offset-4 hover:underline">
            Train with it
          </Link>
        )}
      </div>
    );
  }
  if (job.status === "failed" || job.status === "cancelled") {
    return (
      <div role="alert" className="rounded-md border border-destructive/40 bg-destructive/5 p-3" data-testid="import-error">
        <p className="text-sm font-semibold text-destructive">{job.status === "cancelled" ? "The import was cancelled." : "The import failed."}</p>
        {error?.message && <p className="mt-1 text-sm">{error.message}</p>}
      </div>
    );
  }
  return (
    <div className="grid gap-1" aria-live="polite" data-testid="import-progress">
      <Progress value={job.progress} label="Import progress" />
      <div className="flex items-center justify-between gap-2 text-xs text-muted-foreground">
        <span>
          {job.status === "queued" ? "Waiting for a worker…" : (job.progress_message ?? "Converting…")} ({Math.round(job.progress * 100)}%)
        </span>
        {onCancel && !job.cancel_requested && (
          <Button variant="ghost" size="sm" className="h-7" onClick={onCancel}>
            Cancel import
          </Button>
        )}
      </div>
    </div>
  );
}

function FollowJob({ accepted }: { accepted: GGUFImportAccepted }) {
  const qc = useQueryClient();
  const job = useJob(accepted.job_id);
  const status = job.data?.status;
  useEffect(() => {
    if (!status || isActive(status)) return;
    // Finished: the list shows the new model (or keeps its old state after a failure).
    qc.invalidateQueries({ queryKey: hubKeys.baseModels });
    qc.invalidateQueries({ queryKey: hubKeys.imports });
    if (status === "succeeded") toast.success("Model imported", `${accepted.name} is ready to fine-tune.`);
  }, [status]);
  const cancel = useMutation({
    mutationFn: () => api.post("/jobs/{job_id}/cancel", { path: { job_id: accepted.job_id } }),
    onSuccess: (j) => qc.setQueryData(hubKeys.job(accepted.job_id), j),
  });
  if (!job.data) return <p className="text-xs text-muted-foreground">Queued as job {accepted.job_id}…</p>;
  return <ImportJobStatus job={job.data} modelKey={accepted.key} onCancel={() => cancel.mutate()} />;
}

/** `existing`: the base models (a name whose key is taken is refused here already); `onQueued`: the job was written. */
export function GGUFImport({ existing, onQueued }: { existing?: BaseModelOut[]; onQueued?: (a: GGUFImportAccepted) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const abort = useRef<AbortController | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [license, setLicense] = useState("");
  const [progress, setProgress] = useState(0);
  const [dragging, setDragging] = useState(false);
  const [accepted, setAccepted] = useState<GGUFImportAccepted | null>(null);

  const upload = useMutation({
    mutationFn: async () => {
      const form = new FormData();
      // The text fields first: the server reads the form as it streams in.
      form.append("name", name.trim());
      if (license.trim()) form.append("license", license.trim());
      form.append("file", file as File);
      setProgress(0);
      abort.current = new AbortController();
      return uploadWithProgress("/base-models/gguf", form, { onProgress: setProgress, signal: abort.current.signal });
    },
    meta: { silent: true },
    onSuccess: (a) => {
      setAccepted(a);
      onQueued?.(a);
      setFile(null);
      setName("");
      setLicense("");
      if (input.current) input.current.value = "";
    },
  });

  const pick = (f: File | null | undefined) => {
    if (!f) return;
    setFile(f);
    setName((n) => n || nameFromGGUF(f.name));
    upload.reset();
  };
  const key = name.trim() ? importKey(name.trim()) : "";
  const taken = !!key && !!existing?.some((m) => m.key === key);
  const canSubmit = !!file && !!name.trim() && !taken && !upload.isPending;

  return (
    <div className="grid gap-4" data-testid="gguf-import">
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
          "flex flex-col items-center justify-center gap-2 rounded-lg border-2 border-dashed px-4 py-5 text-center transition-colors",
          dragging ? "border-primary bg-primary/5" : "border-input bg-background/50",
        )}
      >
        <FileUp className="size-7 text-muted-foreground" aria-hidden />
        <p className="text-sm">
          Drop a <strong>GGUF</strong> file here, or{" "}
          <button type="button" className="font-medium text-primary underline-offset-4 hover:underline" onClick={() => input.current?.click()}>
            choose one
          </button>
          .
        </p>
        <p className="max-w-md text-xs text-muted-foreground">
          llama.cpp's format; llama, mistral, qwen2 and phi3 models. Quantized weights are dequantized and stored as bfloat16 safetensors.
        </p>
        <input ref={input} type="file" accept=".gguf" aria-label="GGUF file" className="sr-only" onChange={(e) => pick(e.target.files?.[0])} data-testid="gguf-file" />
      </div>
      {file && (
        <div className="grid gap-3 rounded-lg border bg-card p-3">
          <div className="flex items-center justify-between gap-2 text-sm">
            <span className="truncate font-medium" data-testid="chosen-gguf">
              {file.name}
            </span>
            <span className="flex items-center gap-2 text-muted-foreground">
              {formatBytes(file.size)}
              <Button
                variant="ghost"
                size="icon"
                className="size-7"
                aria-label="Remove file"
                disabled={upload.isPending}
                onClick={() => {
                  setFile(null);
                  upload.reset();
                  if (input.current) input.current.value = "";
                }}
              >
                <X aria-hidden />
              </Button>
            </span>
          </div>
          <div className="grid gap-3 sm:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
            <div className="grid gap-1.5">
              <Label htmlFor="gguf-name">Name</Label>
              <Input id="gguf-name" value={name} maxLength={200} required aria-invalid={taken || undefined} onChange={(e) => setName(e.target.value)} />
              {key && (
                <p className={cn("text-xs", taken ? "text-destructive" : "text-muted-foreground")} data-testid="gguf-key">
                  {taken ? `The key ${key} is taken: choose another name.` : `Its key will be ${key}.`}
                </p>
              )}
            </div>
            <div className="grid gap-1.5">
              <Label htmlFor="gguf-license">License</Label>
              <Input id="gguf-license" value={license} maxLength={100} placeholder="from the file" onChange={(e) => setLicense(e.target.value)} />
            </div>
          </div>
          {upload.isPending && (
            <div className="grid gap-1" aria-live="polite">
              <Progress value={progress} label="Upload progress" />
              <div className="flex items-center justify-between gap-2 text-xs text-muted-foreground">
                <span>{progress < 1 ? `Uploading… ${Math.round(progress * 100)}%` : "Checking the file's header…"}</span>
                <Button variant="ghost" size="sm" className="h-7" onClick={() => abort.current?.abort()}>
                  Cancel upload
                </Button>
              </div>
            </div>
          )}
          <div>
            <Button onClick={() => upload.mutate()} disabled={!canSubmit}>
              <Upload aria-hidden /> {upload.isPending ? "Uploading…" : "Import model"}
            </Button>
          </div>
        </div>
      )}
      {upload.isError && (
        <div role="alert" className="rounded-md border border-destructive/40 bg-destructive/5 p-3" data-testid="gguf-upload-error">
          <p className="text-sm font-semibold text-destructive">{errorMessage(upload.error)}</p>
          {upload.error instanceof ApiError && upload.error.status === 413 && (
            <p className="mt-1 text-sm">The file is larger than this server accepts (MODELMATE_MAX_GGUF_BYTES).</p>
          )}
        </div>
      )}
      {accepted && (
        <div className="grid gap-2 rounded-lg border bg-card p-3" data-testid="gguf-job">
          <p className="text-sm">
            <span className="font-medium">{accepted.name}</span>{" "}
            <span className="text-muted-foreground">
              ({accepted.file_name ?? "upload"}, {accepted.architecture}, {accepted.quantization}, {formatBytes(accepted.size_bytes)}) → <code>{accepted.key}</code>
            </span>
          </p>
          <FollowJob accepted={accepted} />
        </div>
      )}
    </div>
  );
}
